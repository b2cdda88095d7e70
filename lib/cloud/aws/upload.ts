/**
 * Uploading an input file to the bucket, with the job's options as its metadata: one
 * PutObject up to MULTIPART_THRESHOLD_BYTES, a multipart upload above it (lib-storage's
 * Upload), so that a dropped connection costs one part, not the file.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Uploaded } from '../client.ts';

export const MULTIPART_THRESHOLD_BYTES = 16 * 1024 * 1024;
const MIN_PART_BYTES = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;
const PART_CONCURRENCY = 4;
const READ_CHUNK_BYTES = 1024 * 1024;

export interface UploadTarget {
  bucket: string;
  key: string;
  /** user metadata, names without the x-amz-meta- prefix */
  metadata: Record<string, string>;
}

/**
 * Uploads the file at `path` and returns what pins the object it made (ETag, and the
 * version id in a versioned bucket). A multipart upload that fails is aborted: the parts
 * of an unfinished upload are stored, and billed, until then.
 */
export async function uploadFile(
  client: S3Client,
  target: UploadTarget,
  path: string,
  onProgress: (bytesDone: number, bytesTotal: number) => void = () => {},
): Promise<Uploaded> {
  const size = (await stat(path)).size;
  // Upload sends a body that fits in one part with one PutObject: parts as big as the
  // threshold keep every file up to it whole.
  const partSize = size <= MULTIPART_THRESHOLD_BYTES ? MULTIPART_THRESHOLD_BYTES : Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PARTS));
  const body = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  try {
    const upload = new Upload({
      client,
      params: { Bucket: target.bucket, Key: target.key, Body: body, Metadata: target.metadata },
      partSize,
      queueSize: PART_CONCURRENCY,
      leavePartsOnError: false,
    });
    upload.on('httpUploadProgress', (p) => onProgress(p.loaded ?? 0, size));
    onProgress(0, size);
    const r = await upload.done();
    onProgress(size, size);
    return { etag: r.ETag ?? '', ...(r.VersionId && r.VersionId !== 'null' ? { versionId: r.VersionId } : {}) };
  } finally {
    body.destroy();
  }
}

/** Uploads a small document (a job file) in one PutObject. */
export async function uploadText(client: S3Client, target: UploadTarget, body: string, contentType = 'application/json'): Promise<Uploaded> {
  const r = await client.send(new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: body, ContentType: contentType, Metadata: target.metadata }));
  return { etag: r.ETag ?? '', ...(r.VersionId && r.VersionId !== 'null' ? { versionId: r.VersionId } : {}) };
}
