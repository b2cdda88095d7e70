/**
 * Uploading an input against a real S3 API (moto): whole up to the multipart threshold,
 * in parts above it, pinned by the ETag and version id S3 gives the object, and a failed
 * multipart upload leaves no parts behind.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../../lib/cloud/aws/s3-client.ts';
import { MULTIPART_THRESHOLD_BYTES, uploadFile } from '../../../lib/cloud/aws/upload.ts';
import { tempDir } from '../../helpers/cli.ts';
import { type Moto, startMoto } from '../../helpers/moto.ts';

const PLAIN = 'uploads';
const VERSIONED = 'uploads-versioned';
const metadata = { 'fanout-analysis': 'stats', 'fanout-skip-header': 'true' };

let moto: Moto;
let client: S3Client;
const dir = tempDir('fanout-upload-');

/** A file of `bytes` bytes that differ from part to part, and its MD5. */
function file(name: string, bytes: number): { path: string; md5: string } {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4096) data.writeUInt32LE(i >>> 0, i);
  data[bytes - 1] = 0xff;
  const path = join(dir.path, name);
  writeFileSync(path, data);
  return { path, md5: createHash('md5').update(data).digest('hex') };
}

async function md5Of(bucket: string, key: string): Promise<string> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return createHash('md5').update(await r.Body!.transformToByteArray()).digest('hex');
}

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  moto = await startMoto();
  client = makeS3Client({ endpoint: moto.endpoint });
  await client.send(new CreateBucketCommand({ Bucket: PLAIN }));
  await client.send(new CreateBucketCommand({ Bucket: VERSIONED }));
  await client.send(new PutBucketVersioningCommand({ Bucket: VERSIONED, VersioningConfiguration: { Status: 'Enabled' } }));
});

afterAll(async () => {
  await moto?.stop();
  dir.cleanup();
});

describe('uploadFile', () => {
  it('puts a file of up to the threshold in one request, with its metadata, and reports its progress', async () => {
    const { path, md5 } = file('whole.bin', MULTIPART_THRESHOLD_BYTES);
    const progress: [number, number][] = [];
    const up = await uploadFile(client, { bucket: PLAIN, key: 'input/whole.bin', metadata }, path, (done, total) => progress.push([done, total]));
    const head = await client.send(new HeadObjectCommand({ Bucket: PLAIN, Key: 'input/whole.bin' }));
    // A multipart upload's ETag ends in -<parts>.
    expect(up).toEqual({ etag: head.ETag });
    expect(up.etag).toBe(`"${md5}"`);
    expect(head.Metadata).toEqual(metadata);
    expect(progress[0]).toEqual([0, MULTIPART_THRESHOLD_BYTES]);
    expect(progress.at(-1)).toEqual([MULTIPART_THRESHOLD_BYTES, MULTIPART_THRESHOLD_BYTES]);
  });

  it('uploads a larger file in parts and gives the ETag and version id of the object it made', async () => {
    const size = MULTIPART_THRESHOLD_BYTES + 1;
    const { path, md5 } = file('parts.bin', size);
    const progress: number[] = [];
    const up = await uploadFile(client, { bucket: VERSIONED, key: 'input/parts.bin', metadata }, path, (done) => progress.push(done));
    const head = await client.send(new HeadObjectCommand({ Bucket: VERSIONED, Key: 'input/parts.bin' }));
    expect(up).toEqual({ etag: head.ETag, versionId: head.VersionId });
    expect(up.etag).toMatch(/-3"$/); // 8 MiB, 8 MiB and one byte
    expect(head.Metadata).toEqual(metadata);
    expect(await md5Of(VERSIONED, 'input/parts.bin')).toBe(md5);
    expect(progress.every((d, i) => i === 0 || d >= progress[i - 1]!)).toBe(true);
    expect(progress.at(-1)).toBe(size);
  });

  it('aborts a multipart upload whose part fails, and fails with that part\'s error', async () => {
    const { path } = file('fails.bin', MULTIPART_THRESHOLD_BYTES * 2);
    const faulty = makeS3Client({ endpoint: moto.endpoint });
    let parts = 0;
    faulty.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UploadPartCommand' && ++parts === 2) throw Object.assign(new Error('injected: the connection dropped'), { name: 'NetworkError' });
        return next(args);
      },
      { step: 'initialize', name: 'failSecondPart' },
    );
    await expect(uploadFile(faulty, { bucket: PLAIN, key: 'input/fails.bin', metadata }, path)).rejects.toThrow('injected: the connection dropped');
    const open = await client.send(new ListMultipartUploadsCommand({ Bucket: PLAIN }));
    expect(open.Uploads ?? []).toEqual([]);
    await expect(client.send(new HeadObjectCommand({ Bucket: PLAIN, Key: 'input/fails.bin' }))).rejects.toThrow();
  });
});
