/**
 * Body of one worker thread of the embedded runtime: takes runs of slices from the shared
 * queue until it is empty, scans them and appends their partials to a log of its own in
 * the state dir. The job comes once, as workerData or as the first message; what the thread committed goes back in
 * batches, so that ten thousand small slices are not twenty thousand messages.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { type Partial, scanSlice } from '../core/job.ts';
import type { ByteSource } from '../core/source.ts';
import { loadAnalysis } from '../job/analysis-loader.ts';
import { openFiles } from './file-source.ts';
import { LocalPartialLog } from './partial-log.ts';
import type { PartialRef } from '../job/ports.ts';
import { SliceQueue } from './slice-queue.ts';
import { serializeError, type ThreadJob, type ThreadMessage } from './thread-messages.ts';

// How often a thread reports: often enough for a progress bar, rarely enough to cost nothing.
const REPORT_EVERY_MS = 50;
// Partials with at least this many bytes of binary fields go to the main thread with the
// report (their buffers transferred): a million atoms' 24 MB is then not read back from
// the log and copied. Smaller ones are read from the log, a block of them at a time.
const HAND_MIN_BYTES = 1 << 20;

/**
 * The buffers of `partial`'s binary fields, if it is worth handing over and they can be
 * transferred: each field owns its whole ArrayBuffer (a field that is a view of a larger
 * buffer would carry all of it), and the analysis's encode() made them for the partial
 * alone (`liveFold` analyses copy their cells into them), so detaching them here takes
 * nothing from a state. Undefined otherwise.
 */
function transferable(partial: Partial, liveFold: boolean): ArrayBuffer[] | undefined {
  if (!liveFold) return undefined;
  const buffers = new Set<ArrayBuffer>();
  let bytes = 0;
  let owned = true;
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) {
      if (v.byteOffset !== 0 || !(v.buffer instanceof ArrayBuffer) || v.buffer.byteLength !== v.byteLength || buffers.has(v.buffer)) owned = false;
      else buffers.add(v.buffer);
      bytes += v.byteLength;
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) Object.values(v).forEach(walk);
  };
  walk(partial.state);
  return owned && bytes >= HAND_MIN_BYTES ? [...buffers] : undefined;
}

const port = parentPort!;
// A thread started before the job was planned (StartedThreads) gets it as its first message.
const job = (workerData as ThreadJob | null) ?? (await new Promise<ThreadJob>((resolve) => port.once('message', resolve)));
const { spec, stateDir, queue: shared, sizing } = job;
const queue = new SliceQueue(shared);
const log = new LocalPartialLog(stateDir, spec.id);
const worker = `thread-${threadId}`;

let bytes = 0;
let done: PartialRef[] = [];
let handed: Partial[] = [];
let transfer: ArrayBuffer[] = [];
let reportedAt = Date.now();
function report(type: 'progress' | 'finished'): void {
  port.postMessage({ type, bytes, done, ...(handed.length > 0 ? { handed } : {}) } satisfies ThreadMessage, transfer);
  bytes = 0;
  done = [];
  handed = [];
  transfer = [];
  reportedAt = Date.now();
}
const onProgress = (n: number): void => {
  bytes += n;
  if (Date.now() - reportedAt >= REPORT_EVERY_MS) report('progress');
};

async function scanQueue(source: ByteSource): Promise<void> {
  const analysis = await loadAnalysis(spec.analysis);
  // A thread pays its start-up (thread spawn, TypeScript loader, imports) on its first run.
  let coldStart = true;
  for (const { index, slices } of queue.runs(sizing)) {
    // Not done.push(... await ...): a report while the run is scanned replaces `done`.
    const partial = await scanSlice(source, spec, index, analysis, { worker, coldStart, onProgress, slices });
    // Committed to the log first: handed over, it is folded from the same bytes.
    const ref = log.append(partial);
    coldStart = false;
    done.push(ref);
    const buffers = transferable(partial, analysis.liveFold === true);
    if (buffers) {
      handed.push(partial);
      transfer.push(...buffers);
      // Handed at once: the main thread may be waiting for it to fold.
      report('progress');
    }
    if (Date.now() - reportedAt >= REPORT_EVERY_MS) report('progress');
  }
}

try {
  const source = await openFiles(spec.input.parts?.map((p) => p.name) ?? [spec.input.name]);
  try {
    await scanQueue(source);
  } finally {
    log.close();
    await source.close();
  }
  report('finished');
} catch (e) {
  port.postMessage({ type: 'error', error: serializeError(e) } satisfies ThreadMessage);
}
