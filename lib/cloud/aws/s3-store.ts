/** BlobStore over one S3 bucket: the cloud pipeline's manifests, partials and results. */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { BlobInfo, BlobStore } from '../../job/ports.ts';
import { httpStatus, isNotFound } from './s3-client.ts';

export class S3Store implements BlobStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    /** tries of a create-only write that meets 409 ConditionalRequestConflict */
    private readonly conflictAttempts = 6,
  ) {}

  async head(key: string): Promise<BlobInfo | undefined> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: r.ContentLength ?? 0, etag: r.ETag ?? '', ...(r.VersionId ? { versionId: r.VersionId } : {}) };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await r.Body!.transformToByteArray();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async put(key: string, body: string | Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }));
  }

  async putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json', IfNoneMatch: '*' }));
        return true;
      } catch (e) {
        // 412: the key exists.
        const status = httpStatus(e);
        if (status === 412) return false;
        // 409: another conditional write to the key is in flight. It may yet fail (its
        // writer can die), so "lost the race" is only known once a retry sees 412. The
        // SDK does not retry 409.
        if (status !== 409 || attempt >= this.conflictAttempts) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(2_000, 50 * 2 ** attempt)));
      }
    }
  }

  async putIfMatch(key: string, body: string | Uint8Array, etag: string | undefined): Promise<boolean> {
    if (etag === undefined) return this.putIfAbsent(key, body);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json', IfMatch: etag }));
        return true;
      } catch (e) {
        // 412: the object changed since its tag was read; 404: it is gone since.
        const status = httpStatus(e);
        if (status === 412 || isNotFound(e)) return false;
        if (status !== 409 || attempt >= this.conflictAttempts) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(2_000, 50 * 2 ** attempt)));
      }
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }
}
