/**
 * ByteSource over one S3 object, pinned to the version that was planned: every ranged
 * GET carries the version id or If-Match with the ETag, so an object overwritten
 * mid-job fails the read (SourceChangedError) instead of mixing two versions.
 *
 * Ranges are fetched lazily, one streamed GET per part: the text reader asks for
 * "from here to the end of the object" and stops after the record that straddles its
 * slice end, so a part a little longer than the slice usually means one request.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SourceChangedError, UsageError } from '../core/errors.ts';
import type { ByteSource } from '../core/source.ts';
import type { InputObject, InputObjects, PinnedInput } from '../pipeline/inputs.ts';
import { httpStatus, isNotFound, makeS3Client } from './s3-client.ts';

const DEFAULT_PART_BYTES = 16 << 20;

export class S3Source implements ByteSource {
  readonly name: string;
  readonly size: number;
  constructor(
    private readonly client: S3Client,
    readonly input: PinnedInput,
    private readonly partBytes = DEFAULT_PART_BYTES,
  ) {
    this.name = s3Url(input.bucket, input.key);
    this.size = input.size;
  }

  /** What pins the content: the version id when the bucket is versioned, else the ETag. */
  get identity(): string {
    return this.input.versionId ? `version:${this.input.versionId}` : `etag:${this.input.etag}`;
  }

  async *chunks(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    for (let at = start; at < end; ) {
      const partEnd = Math.min(end, at + this.partBytes);
      for await (const chunk of this.getRange(at, partEnd, signal)) {
        at += chunk.length;
        yield chunk;
      }
    }
  }

  private async *getRange(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    signal?.throwIfAborted();
    let res;
    try {
      res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.input.bucket,
          Key: this.input.key,
          Range: `bytes=${start}-${end - 1}`,
          ...(this.input.versionId ? { VersionId: this.input.versionId } : { IfMatch: this.input.etag }),
        }),
        { abortSignal: signal },
      );
    } catch (e) {
      throw this.translate(e);
    }
    const body = res.Body as unknown as AsyncIterable<Uint8Array> & { destroy?(): void };
    let got = 0;
    try {
      for await (const chunk of body) {
        signal?.throwIfAborted();
        got += chunk.length;
        yield chunk;
      }
    } finally {
      // Leaving early (the reader found its last record) must not leave the socket busy.
      body.destroy?.();
    }
    if (got !== end - start) throw new SourceChangedError(`${this.name}: asked for bytes ${start}-${end - 1}, got ${got}: the object changed while the job ran`);
  }

  private translate(e: unknown): Error {
    const status = httpStatus(e);
    if (status === 412) return new SourceChangedError(`${this.name} was overwritten after the job was planned (ETag ${this.input.etag} no longer matches); upload it again to start a new job`);
    if (isNotFound(e)) return new SourceChangedError(`${this.name} was deleted after the job was planned`);
    return e as Error;
  }

  /** For the local runtime: fails if the object is no longer the planned one. */
  async assertUnchanged(identity: string): Promise<void> {
    const now = await describeObject(this.client, this.input.bucket, this.input.key);
    const same = now && (this.input.versionId ? now.versionId === this.input.versionId : now.etag === this.input.etag);
    if (!same || identity !== this.identity) throw new SourceChangedError(`${this.name} changed while the job ran; run again to start a new job`);
  }

  async close(): Promise<void> {}
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  return m ? { bucket: m[1]!, key: m[2]! } : undefined;
}

export async function describeObject(client: S3Client, bucket: string, key: string): Promise<InputObject | undefined> {
  try {
    const r = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return {
      bucket,
      key,
      size: r.ContentLength ?? 0,
      etag: r.ETag ?? '',
      ...(r.VersionId && r.VersionId !== 'null' ? { versionId: r.VersionId } : {}),
      metadata: r.Metadata ?? {},
    };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** The pipeline's view of input objects, over S3. */
export class S3InputObjects implements InputObjects {
  constructor(private readonly client: S3Client) {}
  describe(bucket: string, key: string): Promise<InputObject | undefined> {
    return describeObject(this.client, bucket, key);
  }
  open(input: PinnedInput, partBytes?: number): S3Source {
    return new S3Source(this.client, input, partBytes);
  }
}

/** `fanout run s3://bucket/key`: the object as a local-runtime source. */
export async function openS3Url(url: string, client: S3Client = makeS3Client()): Promise<S3Source> {
  const loc = parseS3Url(url);
  if (!loc) throw new UsageError(`${url}: an S3 input is written s3://bucket/key`);
  const obj = await describeObject(client, loc.bucket, loc.key);
  if (!obj) throw new UsageError(`${url}: no such object`);
  return new S3Source(client, obj);
}
