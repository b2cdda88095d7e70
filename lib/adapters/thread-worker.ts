/**
 * Body of one worker thread of the embedded runtime: scans the slices it is sent and
 * appends their partials to a log of its own in the state dir.
 *
 * The job comes once, as workerData; a slice is then one number each way, so that ten
 * thousand small slices do not copy the JobSpec ten thousand times.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { scanSlice } from '../core/job.ts';
import type { JobSpec } from '../core/plan.ts';
import type { PartialRef } from '../ports.ts';
import { loadAnalysis } from '../runtime/load-analysis.ts';
import { FileSource } from './file-source.ts';
import { LocalPartialLog } from './partial-log.ts';
import { type SerializedError, serializeError } from './thread-pool.ts';

export interface ThreadJob {
  spec: JobSpec;
  stateDir: string;
}

/** What a thread says: bytes scanned so far, a slice committed, or a failure. */
export type ThreadMessage =
  | { type: 'progress'; bytes: number }
  | { type: 'done'; index: number; ref: PartialRef; bytes: number }
  | { type: 'error'; index: number; error: SerializedError };

// A big slice reports its progress on the way; a small one only with its 'done'.
const PROGRESS_BYTES = 1 << 20;

const port = parentPort!;
const { spec, stateDir } = workerData as ThreadJob;
const ready = Promise.all([FileSource.open(spec.input.name), loadAnalysis(spec.analysis)]);
// A failure to open is reported with the first slice, not as an unhandled rejection.
ready.catch(() => undefined);
const log = new LocalPartialLog(stateDir, spec.id);
const worker = `thread-${threadId}`;
// A thread pays its start-up (thread spawn, TypeScript loader, imports) on its first slice.
let coldStart = true;

const post = (m: ThreadMessage): void => port.postMessage(m);

/** A slice index to scan, or null: no more slices, close up and let the thread end. */
port.on('message', async (index: number | null) => {
  if (index === null) {
    log.close();
    await (await ready.catch(() => undefined))?.[0].close();
    port.close();
    return;
  }
  try {
    const [source, analysis] = await ready;
    let bytes = 0;
    const onProgress = (n: number): void => {
      bytes += n;
      if (bytes < PROGRESS_BYTES) return;
      post({ type: 'progress', bytes });
      bytes = 0;
    };
    const ref = log.append(await scanSlice(source, spec, index, analysis, { worker, coldStart, onProgress }));
    coldStart = false;
    post({ type: 'done', index, ref, bytes });
  } catch (e) {
    post({ type: 'error', index, error: serializeError(e) });
  }
});
