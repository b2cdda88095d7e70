/**
 * A fixed pool of worker threads that scan slices. Each thread takes its next run of
 * slices from a queue in shared memory, so ten thousand small slices cost no message
 * round trips; a thread reports what it committed in batches. The first error stops the pool and is
 * re-thrown in the caller with its type intact.
 */
import { Worker } from 'node:worker_threads';
import type { Partial } from '../core/job.ts';
import type { JobSpec } from '../core/plan.ts';
import type { PartialRef } from '../job/ports.ts';
import type { RunSizing, SliceQueue } from './slice-queue.ts';
import { deserializeError, type ThreadJob, type ThreadMessage } from './thread-messages.ts';

// Run from TypeScript source, worker threads start without the loader the main thread
// runs under: a small .mjs entry installs it (hundreds of ms per thread), then loads the
// worker body. Bundled into dist/ (npm run build), the worker is plain JavaScript next to
// this code and starts in a few ms; a user analysis written in TypeScript still needs
// the loader, so it takes the source entry. The thread's bundle is built on its own, not
// split with the CLI's (package.json, build): one file of what the thread uses, without
// the CLI's shared chunks (zod's checks, commander, the report), so a thread takes about
// 10 ms less CPU to start (a thread's modules are its own instances in any case).
const fromSource = import.meta.url.endsWith('.ts');
const sourceEntry = new URL(fromSource ? './thread-entry.mjs' : '../lib/local/thread-entry.mjs', import.meta.url);
const bundledEntry = new URL('./thread-worker.js', import.meta.url);

function workerUrlFor(analysis: { module?: string }): URL {
  if (fromSource) return sourceEntry;
  return analysis.module !== undefined && /\.[cm]?tsx?$/.test(analysis.module) ? sourceEntry : bundledEntry;
}

const EARLY_THREAD = Symbol.for('fanout.earlyThread');

/** The thread bin/fanout.mjs started before it loaded the CLI (see there), now the caller's. */
function takeEarlyThread(): { url: string; thread: Worker } | undefined {
  const g = globalThis as { [EARLY_THREAD]?: { url: string; thread: Worker } };
  const early = g[EARLY_THREAD];
  delete g[EARLY_THREAD];
  return early;
}

/**
 * Worker threads started before the job is planned, so that a thread loads its code
 * (most of its start-up: about 0.1 s of compiling the bundle, more on a busy machine)
 * while the main thread plans; each waits for its job as its first message. The
 * analysis (its module, if any) picks the entry, as for the job's threads. Whatever
 * runOnThreads does not take is stopped by close().
 */
export class StartedThreads {
  private waiting: Worker[] = [];
  readonly url: URL;

  constructor(count: number, analysis: { module?: string }) {
    this.url = workerUrlFor(analysis);
    // One bin/fanout.mjs started before loading the CLI, if any: taken if it runs this
    // entry and a thread is wanted, stopped otherwise (it is waiting for a job).
    const early = takeEarlyThread();
    if (early && early.url === this.url.href && count > 0) {
      early.thread.ref();
      early.thread.once('exit', () => (this.waiting = this.waiting.filter((x) => x !== early.thread)));
      this.waiting.push(early.thread);
    } else if (early) void early.thread.terminate();
    for (let t = this.waiting.length; t < count; t++) {
      const w = new Worker(this.url, { workerData: null });
      // Until runOnThreads listens, a thread that fails to start is only left out.
      w.on('error', () => {});
      w.once('exit', () => (this.waiting = this.waiting.filter((x) => x !== w)));
      this.waiting.push(w);
    }
  }

  /** Up to `n` started threads still alive, which now belong to the caller. */
  take(n: number): Worker[] {
    return this.waiting.splice(0, n);
  }

  async close(): Promise<void> {
    const left = this.waiting;
    this.waiting = [];
    await Promise.all(left.map((w) => w.terminate()));
  }
}

/**
 * Scans slices of `queue` on `threads` worker threads until it is empty, each thread
 * appending its partials to a log of its own in `stateDir` (and handing large ones to
 * `events.done` as well, their bytes moved, not copied). Other consumers (the main
 * thread) may take slices from the queue too: `sizing.consumers` counts them all. On a
 * failure the queue is cleared.
 */
export async function runOnThreads(
  spec: JobSpec,
  queue: SliceQueue,
  threads: number,
  sizing: RunSizing,
  stateDir: string,
  events: { progress(bytes: number): void; done(ref: PartialRef, handed?: Partial): void },
  started?: StartedThreads,
): Promise<void> {
  if (threads <= 0) return;
  const job: ThreadJob = { spec, stateDir, queue: queue.shared, sizing };
  const ready = started?.url.href === workerUrlFor(spec.analysis).href ? started.take(threads) : [];
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
        const w = ready[t] ?? new Worker(workerUrlFor(spec.analysis), { workerData: job });
        workers.push(w);
        let finished = false;
        w.on('message', (m: ThreadMessage) => {
          if (failed) return;
          if (m.type === 'error') return fail(deserializeError(m.error));
          events.progress(m.bytes);
          for (const ref of m.done) events.done(ref, m.handed?.find((p) => p.index === ref.index));
          if (m.type === 'finished') {
            finished = true;
            if (--running === 0) resolve();
          }
        });
        w.on('error', fail);
        w.on('exit', (code) => {
          if (!finished) fail(new Error(`a worker thread exited (code ${code}) before it finished its slices`));
        });
        // A thread started early gets its job now (one started here had it as workerData).
        if (t < ready.length) w.postMessage(job);
      }
    });
  } finally {
    // A thread that finished ends by itself; after a failure the others are stopped now.
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
