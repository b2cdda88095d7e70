/**
 * A fixed pool of worker threads that scan slices. Each thread takes its next run of
 * slices from a queue in shared memory, so ten thousand small slices cost no message
 * round trips; a thread reports what it committed in batches. The first error stops the pool and is
 * re-thrown in the caller with its type intact.
 */
import { Worker } from 'node:worker_threads';
import { FanoutError, InputError, SourceChangedError, UsageError } from '../core/errors.ts';
import type { JobSpec } from '../core/plan.ts';
import type { PartialRef } from '../ports.ts';
import type { ThreadJob, ThreadMessage } from './thread-worker.ts';

export interface SerializedError {
  name: string;
  message: string;
  file?: string;
  offset?: number;
  problem?: string;
  stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  const err = e instanceof Error ? e : new Error(String(e));
  const out: SerializedError = { name: err.name, message: err.message, stack: err.stack };
  if (err instanceof InputError) Object.assign(out, { file: err.file, offset: err.offset, problem: err.problem });
  return out;
}

export function deserializeError(s: SerializedError): Error {
  if (s.name === 'InputError' && s.file !== undefined) return new InputError(s.file, s.offset!, s.problem!);
  const Ctor = ({ UsageError, SourceChangedError, FanoutError } as Record<string, new (m: string) => Error>)[s.name];
  const err = Ctor ? new Ctor(s.message) : new Error(s.message);
  if (!Ctor) err.name = s.name;
  if (s.stack) err.stack = s.stack;
  return err;
}

// Run from TypeScript source, worker threads start without the loader the main thread
// runs under: a small .mjs entry installs it (hundreds of ms per thread), then loads the
// worker body. Bundled into dist/ (npm run build), the worker is plain JavaScript next to
// this code and starts in a few ms; a user analysis written in TypeScript still needs
// the loader, so it takes the source entry.
const fromSource = import.meta.url.endsWith('.ts');
const sourceEntry = new URL(fromSource ? './thread-entry.mjs' : '../lib/adapters/thread-entry.mjs', import.meta.url);
const bundledEntry = new URL('./thread-worker.js', import.meta.url);

function workerUrlFor(spec: JobSpec): URL {
  if (fromSource) return sourceEntry;
  return spec.analysis.module !== undefined && /\.[cm]?tsx?$/.test(spec.analysis.module) ? sourceEntry : bundledEntry;
}

/** Input bytes a consumer aims to take from the queue at a time. */
export const RUN_BYTES = 4 * 1024 * 1024;

/** What sizes a take: the mean bytes of a slice, and how many consumers share the queue. */
export interface RunSizing {
  sliceBytes: number;
  consumers: number;
}
// A queue position no queue reaches by taking (it holds at most a few million slices).
const CLEARED = 2 ** 30;

/**
 * Slice indexes still to scan, in shared memory: the main thread and the worker threads
 * take from it alike, with one atomic add and no message.
 */
export class SliceQueue {
  /** cells[0] is the position of the next slice to take (CLEARED or more after clear()); the slices follow. */
  private readonly cells: Int32Array;

  constructor(slices: readonly number[] | SharedArrayBuffer) {
    if (slices instanceof SharedArrayBuffer) this.cells = new Int32Array(slices);
    else {
      this.cells = new Int32Array(new SharedArrayBuffer(4 * (slices.length + 1)));
      this.cells.set(slices, 1);
    }
  }

  /** What a thread needs to take from the same queue. */
  get shared(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  /**
   * Takes the next slices to scan, as runs of consecutive slices (a resumed job has gaps),
   * each to be scanned as one range and committed as one partial; none when the queue is
   * empty. As many slices as hold about RUN_BYTES of input, so that ten thousand small
   * slices do not cost ten thousand partials, but at most a quarter of what is left per
   * consumer, so that the last slices are still shared out among the consumers.
   */
  takeRuns({ sliceBytes, consumers }: RunSizing): { index: number; slices: number }[] {
    const size = this.cells.length - 1;
    const left = size - Atomics.load(this.cells, 0);
    const want = Math.max(1, Math.min(Math.floor(RUN_BYTES / Math.max(1, sliceBytes)), Math.ceil(left / (4 * Math.max(1, consumers)))));
    const from = Atomics.add(this.cells, 0, want);
    const runs: { index: number; slices: number }[] = [];
    for (let at = from; at < Math.min(from + want, size); at++) {
      const index = this.cells[at + 1]!;
      const last = runs[runs.length - 1];
      if (last && last.index + last.slices === index) last.slices++;
      else runs.push({ index, slices: 1 });
    }
    return runs;
  }

  /** The runs this consumer takes, one at a time, until the queue is empty or cleared. */
  *runs(sizing: RunSizing): Generator<{ index: number; slices: number }> {
    for (let runs = this.takeRuns(sizing); runs.length > 0; runs = this.takeRuns(sizing)) {
      for (const run of runs) {
        // A take of a resumed job may hold several runs: none of them starts after clear().
        if (Atomics.load(this.cells, 0) >= CLEARED) return;
        yield run;
      }
    }
  }

  /** Nobody takes another slice: each consumer stops after its current run. */
  clear(): void {
    Atomics.store(this.cells, 0, CLEARED);
  }
}

/**
 * Scans slices of `queue` on `threads` worker threads until it is empty, each thread
 * appending its partials to a log of its own in `stateDir`. Other consumers (the main
 * thread) may take slices from the queue too: `sizing.consumers` counts them all. On a
 * failure the queue is cleared.
 */
export async function runOnThreads(
  spec: JobSpec,
  queue: SliceQueue,
  threads: number,
  sizing: RunSizing,
  stateDir: string,
  events: { progress(bytes: number): void; done(ref: PartialRef): void },
): Promise<void> {
  if (threads <= 0) return;
  const job: ThreadJob = { spec, stateDir, queue: queue.shared, sizing };
  const workers: Worker[] = [];
  let failed = false;
  try {
    await new Promise<void>((resolve, reject) => {
      let running = threads;
      const fail = (e: Error): void => {
        if (failed) return;
        failed = true;
        queue.clear();
        reject(e);
      };
      for (let t = 0; t < threads; t++) {
        const w = new Worker(workerUrlFor(spec), { workerData: job });
        workers.push(w);
        let finished = false;
        w.on('message', (m: ThreadMessage) => {
          if (failed) return;
          if (m.type === 'error') return fail(deserializeError(m.error));
          events.progress(m.bytes);
          for (const ref of m.done) events.done(ref);
          if (m.type === 'finished') {
            finished = true;
            if (--running === 0) resolve();
          }
        });
        w.on('error', fail);
        w.on('exit', (code) => {
          if (!finished) fail(new Error(`a worker thread exited (code ${code}) before it finished its slices`));
        });
      }
    });
  } finally {
    // A thread that finished ends by itself; after a failure the others are stopped now.
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
