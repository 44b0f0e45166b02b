/** `npm run bench`: every benchmark, one table each. */
import { runXmlBench } from './xml.js';
import { runRuntimeBench } from './runtime.js';

runXmlBench();
await runRuntimeBench();
