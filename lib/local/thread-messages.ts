/**
 * What the main thread and a worker thread of the embedded runtime say to each other: the
 * job a thread gets once (as workerData, or as its first message when it was started
 * before the job was planned), its reports, and errors carried across with
 * their type intact.
 */
import { FanoutError, InputError, SourceChangedError, UsageError } from '../core/errors.ts';
import type { JobSpec } from '../core/plan.ts';
import type { Partial } from '../core/job.ts';
import type { PartialRef } from '../job/ports.ts';
import type { RunSizing } from './slice-queue.ts';

export interface ThreadJob {
  spec: JobSpec;
  stateDir: string;
  /** the SliceQueue's memory */
  queue: SharedArrayBuffer;
  /** how the consumers of the queue, this thread included, size their takes */
  sizing: RunSizing;
}

/**
 * What a thread says: bytes scanned and partials committed since it last spoke; 'finished'
 * is its last word. `handed` holds some of the `done` partials themselves (large binary
 * ones, their bytes transferred, not copied), so that the main thread folds them without
 * reading them back from the thread's log, which has them all the same.
 */
export type ThreadMessage =
  | { type: 'progress' | 'finished'; bytes: number; done: PartialRef[]; handed?: Partial[] }
  | { type: 'error'; error: SerializedError };

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
  const Ctor = ({ UsageError, SourceChangedError, FanoutError, FrameProblemError: FanoutError } as Record<string, new (m: string) => Error>)[s.name];
  const err = Ctor ? new Ctor(s.message) : new Error(s.message);
  if (!Ctor) err.name = s.name;
  if (s.stack) err.stack = s.stack;
  return err;
}
