/**
 * What a user's machine does with a deployed pipeline, through the bucket alone: find the
 * job an upload started, see where a job stands, follow it to its result. `fanout submit`
 * and `fanout status` are thin commands over these (and aws/upload.ts, aws/stack.ts).
 */
import { FanoutError, UsageError } from '../core/errors.ts';
import type { ResultDocument } from '../core/job.ts';
import { decodeResult, type JobStatus, readPointer, readStatus } from '../job/documents.ts';
import { inputPointerKey, levelPrefix } from '../job/keys.ts';
import type { BlobStore } from '../job/ports.ts';

export class JobFailedError extends FanoutError {
  override name = 'JobFailedError';
}

/** What pins an uploaded object: its ETag, and its version id in a versioned bucket. */
export interface Uploaded {
  etag: string;
  versionId?: string;
}

export const POLL_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the coordinator to plan this very upload (its input's pointer names our version or ETag). */
export async function waitForJob(store: BlobStore, inputKey: string, uploaded: Uploaded, pollMs = POLL_MS): Promise<string> {
  for (;;) {
    const p = await readPointer(store, inputKey);
    if (p) {
      const input: { etag: string; versionId?: string } = p.input;
      const ours = uploaded.versionId && input.versionId ? input.versionId === uploaded.versionId : input.etag === uploaded.etag;
      if (ours) {
        if ('job' in p) return p.job;
        throw new JobFailedError(`the job could not start: ${p.reason}`);
      }
    }
    await sleep(pollMs);
  }
}

/** The newest job of an input; `where` names the input in messages. */
export async function newestJobOf(store: BlobStore, inputKey: string, where: string): Promise<string> {
  const p = await readPointer(store, inputKey);
  if (!p) throw new UsageError(`${where}: no job has started for this object (no ${inputPointerKey(inputKey)})`);
  if (!('job' in p)) throw new JobFailedError(`${where}: the job could not start: ${p.reason}`);
  return p.job;
}

export interface JobState {
  job: string;
  status?: JobStatus;
  slices?: number;
  partialsDone: number;
}

export async function jobState(store: BlobStore, job: string): Promise<JobState> {
  const [status, partials] = await Promise.all([readStatus(store, job), store.list(levelPrefix(job, 0))]);
  return { job, ...(status ? { status } : {}), ...(status?.slices !== undefined ? { slices: status.slices } : {}), partialsDone: partials.length };
}

/** The error a failed job's status stands for. */
export function failureOf(s: JobStatus): JobFailedError {
  return new JobFailedError(`job ${s.job} failed${s.slice !== undefined ? ` at slice ${s.slice}` : ''}: ${s.reason ?? 'no reason given'}`);
}

/** Follows a job until its result lands (returned) or it fails (thrown). */
export async function followJob(store: BlobStore, job: string, onState: (s: JobState) => void = () => {}, pollMs = POLL_MS): Promise<ResultDocument> {
  for (;;) {
    const s = await jobState(store, job);
    onState(s);
    if (s.status?.state === 'failed') throw failureOf(s.status);
    if (s.status?.state === 'done' && s.status.resultKey) {
      const body = await store.get(s.status.resultKey);
      if (body) return decodeResult(body, s.status.resultKey);
    }
    await sleep(pollMs);
  }
}
