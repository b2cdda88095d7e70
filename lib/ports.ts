/**
 * The ports the pipeline is written against. Adapters implement them: a local
 * directory and worker threads for the embedded runtime, S3 and Lambda on AWS.
 */
import type { ByteSource } from './core/source.ts';

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
