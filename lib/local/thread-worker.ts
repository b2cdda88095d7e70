/**
 * Body of one worker thread of the embedded runtime: takes runs of slices from the shared
 * queue until it is empty, scans them and appends their partials to a log of its own in
 * the state dir. The job comes once, as workerData or as the first message; what the thread committed goes back in
 * batches, so that ten thousand small slices are not twenty thousand messages.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { scanSlice } from '../core/job.ts';
import type { ByteSource } from '../core/source.ts';
import { loadAnalysis } from '../job/analysis-loader.ts';
import { openFiles } from './file-source.ts';
import { LocalPartialLog } from './partial-log.ts';
import type { PartialRef } from '../job/ports.ts';
import { SliceQueue } from './slice-queue.ts';
import { serializeError, type ThreadJob, type ThreadMessage } from './thread-messages.ts';

// How often a thread reports: often enough for a progress bar, rarely enough to cost nothing.
const REPORT_EVERY_MS = 50;

const port = parentPort!;
// A thread started before the job was planned (StartedThreads) gets it as its first message.
const job = (workerData as ThreadJob | null) ?? (await new Promise<ThreadJob>((resolve) => port.once('message', resolve)));
const { spec, stateDir, queue: shared, sizing } = job;
const queue = new SliceQueue(shared);
const log = new LocalPartialLog(stateDir, spec.id);
const worker = `thread-${threadId}`;

let bytes = 0;
let done: PartialRef[] = [];
let reportedAt = Date.now();
function report(type: 'progress' | 'finished'): void {
  port.postMessage({ type, bytes, done } satisfies ThreadMessage);
  bytes = 0;
  done = [];
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
    const ref = log.append(await scanSlice(source, spec, index, analysis, { worker, coldStart, onProgress, slices }));
    coldStart = false;
    done.push(ref);
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
