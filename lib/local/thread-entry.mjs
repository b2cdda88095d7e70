// Entry of a worker thread: install the TypeScript loader, then run the worker body.
import { register } from 'tsx/esm/api';

register();
await import('./thread-worker.ts');
