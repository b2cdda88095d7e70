/**
 * A fixed pool of worker threads that scan slices. Tasks go to whichever thread is free;
 * the first error stops the pool and is re-thrown in the caller with its type intact.
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

/**
 * Scans the slices of `queue` on `threads` worker threads, each appending its partials to
 * a log of its own in `stateDir`. The queue is shared: another consumer (the main thread)
 * may take slices from it too. On a failure the queue is emptied, so that every consumer
 * stops after its current slice.
 */
export async function runOnThreads(
  spec: JobSpec,
  queue: number[],
  threads: number,
  stateDir: string,
  events: { progress(bytes: number): void; done(index: number, ref: PartialRef): void },
): Promise<void> {
  const workers: Worker[] = [];
  const job: ThreadJob = { spec, stateDir };
  let failed = false;
  try {
    await new Promise<void>((resolve, reject) => {
      let running = 0;
      const fail = (e: Error): void => {
        failed = true;
        queue.length = 0;
        reject(e);
      };
      const next = (w: Worker): void => {
        const index = queue.shift();
        if (index === undefined) {
          if (running === 0) resolve();
          return;
        }
        running++;
        w.postMessage(index);
      };
      for (let t = 0; t < Math.min(threads, queue.length); t++) {
        const w = new Worker(workerUrlFor(spec), { workerData: job });
        workers.push(w);
        w.on('message', (m: ThreadMessage) => {
          if (failed) return;
          if (m.type === 'error') return fail(deserializeError(m.error));
          events.progress(m.bytes);
          if (m.type === 'done') {
            running--;
            events.done(m.index, m.ref);
            next(w);
          }
        });
        w.on('error', fail);
        next(w);
      }
      if (queue.length === 0 && running === 0) resolve();
    });
  } finally {
    // Done: each thread closes its log and input and ends. Failed: stop them now.
    await Promise.all(
      workers.map((w) => {
        if (failed) return w.terminate();
        const exited = new Promise((r) => w.once('exit', r));
        w.postMessage(null);
        return exited;
      }),
    );
  }
}
