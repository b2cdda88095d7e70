/**
 * The three handlers and their production wiring, for `fanout dev` (lib/cloud/dev/), which
 * runs them against an S3-compatible endpoint instead of Lambda. Import it dynamically
 * (`loadHandlers: () => import('.../functions/dev-handlers.ts')`), after the emulator has set
 * the environment they read when they load.
 */
export { createCoordinatorHandler } from './coordinator.ts';
export { createMergerHandler } from './merger.ts';
export { defaultDeps } from './runtime.ts';
export { createWorkerHandler } from './worker.ts';
