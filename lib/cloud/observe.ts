/**
 * What a job does, seen from the documents it writes: a decorator of the BlobStore that
 * tells an observer (metrics, the completion event) about each write once it landed, so
 * that no use case has to remember to report. The writes it watches:
 * - a slice's leaf created (jobs/<id>/tree/0/...leaf.json): a slice done, with its bytes
 *   and duration from the leaf's run story, or a tolerated failure;
 * - the job's own result created (jobs/<id>/result.json): the job's size and duration;
 * - a status written in an end state (done, failed, superseded): the job's completion.
 * A write that does not land (a create-only write finding the key taken, a conditional
 * one losing) reports nothing, so a retried function reports a slice once; a status may
 * be written in an end state more than once (a failure seen by two functions), so its
 * observers must take the same completion twice.
 */
import type { ResultDocument } from '../core/job.ts';
import { decodePartial, decodeResult, type FailedSlice, type JobState, type TreePartial } from '../job/documents.ts';
import { jobOfKey, parseNodeKey, resultKey, statusKey } from '../job/keys.ts';
import type { BlobInfo, BlobStore } from '../job/ports.ts';

/** A job's end, as its status says it (the completion event's detail). */
export interface JobCompletion {
  job: string;
  state: Exclude<JobState, 'running'>;
  input: { bucket: string; key: string };
  slices?: number;
  /** done: where the result is (results/<key>.json) */
  resultKey?: string;
  /** failed or superseded: why */
  reason?: string;
  /** failed: the slice that failed */
  slice?: number;
  /** done without these slices (tolerated failures): the result is incomplete */
  failedSlices?: FailedSlice[];
  /** when the status was written, ISO 8601 */
  at: string;
}

export interface JobObserver {
  /** a slice's leaf landed: scanned, or (`failed`) a tolerated failure */
  sliceDone?(job: string, leaf: TreePartial & { failed?: FailedSlice[] }): void | Promise<void>;
  /** the job's own result document landed */
  resultWritten?(doc: ResultDocument): void | Promise<void>;
  /** a status in an end state landed */
  jobEnded?(completion: JobCompletion): void | Promise<void>;
}

const END_STATES = new Set(['done', 'failed', 'superseded']);

export class ObservedStore implements BlobStore {
  constructor(
    readonly inner: BlobStore,
    private readonly observer: JobObserver,
  ) {}

  head(key: string): Promise<BlobInfo | undefined> {
    return this.inner.head(key);
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  async put(key: string, body: string | Uint8Array): Promise<void> {
    await this.inner.put(key, body);
    await this.landed(key, body);
  }
  async putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    const created = await this.inner.putIfAbsent(key, body);
    if (created) await this.landed(key, body);
    return created;
  }
  async putIfMatch(key: string, body: string | Uint8Array, etag: string | undefined): Promise<boolean> {
    const written = await this.inner.putIfMatch(key, body, etag);
    if (written) await this.landed(key, body);
    return written;
  }

  private async landed(key: string, body: string | Uint8Array): Promise<void> {
    const job = jobOfKey(key);
    if (!job) return;
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    if (key === statusKey(job)) {
      const status = JSON.parse(new TextDecoder().decode(bytes)) as JobCompletion & { version?: number };
      if (!END_STATES.has(status.state)) return;
      const { version: _version, ...completion } = status;
      await this.observer.jobEnded?.(completion);
    } else if (key === resultKey(job)) {
      await this.observer.resultWritten?.(decodeResult(bytes, key));
    } else if (parseNodeKey(key)?.level === 0) {
      await this.observer.sliceDone?.(job, decodePartial(bytes, key));
    }
  }
}
