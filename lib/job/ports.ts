/**
 * The ports the pipeline is written against. Adapters implement them: a local
 * directory and worker threads for the embedded runtime, S3 and Lambda on AWS.
 */
import type { Partial } from '../core/job.ts';
import type { ByteSource } from '../core/source.ts';

export type { ByteSource };

export interface BlobInfo {
  key: string;
  size: number;
  /** an opaque content tag: the S3 ETag, or a hash locally */
  etag: string;
  versionId?: string;
}

/** A key-value store of small documents (manifests, partials, results). */
export interface BlobStore {
  head(key: string): Promise<BlobInfo | undefined>;
  /** The whole object, or undefined if it does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, body: string | Uint8Array): Promise<void>;
  /** Create-only: true if this call created the object, false if it already existed. */
  putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean>;
  /**
   * Compare-and-swap: writes only if the object's tag is still `etag` (as head returned
   * it; undefined: only if the object does not exist). True if this call wrote it.
   */
  putIfMatch(key: string, body: string | Uint8Array, etag: string | undefined): Promise<boolean>;
  /** Keys under a prefix, in lexicographic order. */
  list(prefix: string): Promise<string[]>;
}

/** Starts the scan of one slice somewhere else (a thread, a Lambda). */
export interface Invoker {
  invoke(task: SliceTask): Promise<void>;
}

export interface SliceTask {
  jobId: string;
  index: number;
}

/** Where a committed partial lies in a PartialLog: small, so that a thread can post it. */
export interface PartialRef {
  log: string;
  offset: number;
  length: number;
  /** the partial's index, and how many consecutive slices from it the partial covers */
  index: number;
  slices: number;
}

/**
 * The embedded runtime's level-0 partials of one job. Each writer (a thread of one run)
 * appends to a log of its own, so a commit is one write to an open file instead of a
 * file per slice; the runtime learns what is committed, then reads the partials back one
 * at a time to fold them in slice order. (The cloud keeps one object per partial: its
 * merge is driven by each object's creation event.)
 */
export interface PartialLog {
  /** Commits a partial: once this returns, a kill -9 does not lose it. */
  append(partial: Partial): PartialRef;
  /**
   * Every partial committed by any writer so far, by its index (the first slice it
   * covers); no two of them cover the same slice, and none reaches past `sliceCount`. A write cut short (kill -9) is not
   * committed; a partial committed twice must say the same both times.
   */
  committed(sliceCount?: number): Map<number, PartialRef>;
  read(ref: PartialRef): Partial;
  close(): void;
}
