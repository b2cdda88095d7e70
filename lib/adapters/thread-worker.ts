/**
 * Body of one worker thread of the embedded runtime: scans the slices it is sent and
 * commits their partials to the local state dir (the same use case a Lambda runs).
 */
import { parentPort, threadId } from 'node:worker_threads';
import type { JobSpec } from '../core/plan.ts';
import { runSlice } from '../pipeline/slice.ts';
import { loadAnalysis } from '../runtime/load-analysis.ts';
import { FileSource } from './file-source.ts';
import { LocalDirStore } from './local-store.ts';
import { serializeError } from './thread-pool.ts';

export interface SliceMessage {
  spec: JobSpec;
  index: number;
  stateDir: string;
}

const port = parentPort!;
const sources = new Map<string, Promise<FileSource>>();
const stores = new Map<string, LocalDirStore>();
// A thread pays its start-up (thread spawn, TypeScript loader, imports) on its first slice.
let coldStart = true;

port.on('message', async (msg: SliceMessage) => {
  try {
    const { spec, index, stateDir } = msg;
    let source = sources.get(spec.input.name);
    if (!source) {
      source = FileSource.open(spec.input.name);
      sources.set(spec.input.name, source);
    }
    const analysis = await loadAnalysis(spec.analysis);
    const { created } = await runSlice(storeFor(stateDir), await source, spec, index, analysis, {
      worker: `thread-${threadId}`,
      coldStart,
      onProgress: (bytes) => port.postMessage({ type: 'progress', bytes }),
    });
    coldStart = false;
    port.postMessage({ type: 'done', index, created });
  } catch (e) {
    port.postMessage({ type: 'error', index: msg.index, error: serializeError(e) });
  }
});

function storeFor(stateDir: string): LocalDirStore {
  let store = stores.get(stateDir);
  if (!store) {
    store = new LocalDirStore(stateDir);
    stores.set(stateDir, store);
  }
  return store;
}
