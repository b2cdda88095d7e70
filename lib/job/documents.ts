/**
 * The job documents the cloud pipeline keeps under jobs/<id>/: the manifest (written
 * once by the coordinator) and the status (running, done or failed).
 */
import { FanoutError } from '../core/errors.ts';
import type { Partial } from '../core/job.ts';
import { type JobSpec, stableStringify } from '../core/plan.ts';
import type { BlobStore } from './ports.ts';
import { inputPointerKey, manifestKey, statusKey } from './keys.ts';

/** An input object as planned: the version (or ETag) every read is pinned to. */
export interface PinnedInput {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  versionId?: string;
}

export class PartialConflictError extends FanoutError {
  override name = 'PartialConflictError';
}

/** The part of a partial that must be the same every time the slice is scanned. */
export function partialContent(p: Partial): string {
  const { run: _run, ...content } = p;
  return stableStringify(content);
}

export function decodePartial(body: Uint8Array): Partial {
  return JSON.parse(new TextDecoder().decode(body)) as Partial;
}

export interface Manifest {
  version: 1;
  spec: JobSpec;
  input: PinnedInput;
  /** group size of the merge tree, fixed for the job when it is planned */
  fanin: number;
  /** where the result document is copied for the user */
  resultKey: string;
  createdAt: number;
}

export interface JobStatus {
  state: 'running' | 'done' | 'failed';
  job: string;
  input: { bucket: string; key: string };
  slices?: number;
  /** the slice that failed */
  slice?: number;
  reason?: string;
  resultKey?: string;
  at: string;
}

export class UnknownJobError extends Error {
  override name = 'UnknownJobError';
}

const decoder = new TextDecoder();

/** The input's pointer: the job of its newest upload, or why that upload could not be planned. */
export interface InputPointer {
  job?: string;
  input?: { etag?: string };
}

export async function readPointer(store: BlobStore, inputKey: string): Promise<InputPointer | undefined> {
  const body = await store.get(inputPointerKey(inputKey));
  return body ? (JSON.parse(decoder.decode(body)) as InputPointer) : undefined;
}

/** Manifests never change once written, so a warm function may keep them. */
export class ManifestReader {
  private readonly cache = new Map<string, Manifest>();
  constructor(
    private readonly store: BlobStore,
    private readonly capacity = 32,
  ) {}

  async read(jobId: string): Promise<Manifest> {
    const hit = this.cache.get(jobId);
    if (hit) return hit;
    const body = await this.store.get(manifestKey(jobId));
    if (!body) throw new UnknownJobError(`job ${jobId} has no manifest (${manifestKey(jobId)})`);
    const manifest = JSON.parse(decoder.decode(body)) as Manifest;
    if (this.capacity > 0) {
      if (this.cache.size >= this.capacity) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(jobId, manifest);
    }
    return manifest;
  }
}

export async function readStatus(store: BlobStore, jobId: string): Promise<JobStatus | undefined> {
  const body = await store.get(statusKey(jobId));
  return body ? (JSON.parse(decoder.decode(body)) as JobStatus) : undefined;
}

export async function writeStatus(store: BlobStore, status: Omit<JobStatus, 'at'>, now = Date.now()): Promise<void> {
  await store.put(statusKey(status.job), JSON.stringify({ ...status, at: new Date(now).toISOString() }, null, 2));
}

/** Marks a job failed. A later success cannot undo it: the merger checks before committing. */
export async function markFailed(store: BlobStore, manifest: Manifest, reason: string, slice?: number): Promise<void> {
  await writeStatus(store, {
    state: 'failed',
    job: manifest.spec.id,
    input: { bucket: manifest.input.bucket, key: manifest.input.key },
    slices: manifest.spec.sliceCount,
    ...(slice !== undefined ? { slice } : {}),
    reason,
  });
}

/** A user-facing reason: FanoutErrors carry their own message, anything else its name too. */
export function reasonOf(e: unknown): string {
  if (e instanceof FanoutError) return e.message;
  const err = e instanceof Error ? e : new Error(String(e));
  return `${err.name}: ${err.message}`;
}
