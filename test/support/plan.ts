/** The plan encoding lives with the driver; tests use the same code. */
export * from '../../src/driver/runtime/plan-encoding.js';
