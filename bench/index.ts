/** `npm run bench`: every benchmark, one table each. */
import { runXmlBench } from './xml.js';

runXmlBench();
