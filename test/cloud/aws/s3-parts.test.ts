/**
 * A job file's parts are pinned as a single input is (lib/cloud/inputs.ts), on a real S3
 * API (moto): in a versioned bucket a part overwritten after planning is still read as
 * planned; in an unversioned one the job fails, naming the part.
 */
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeS3Client } from '../../../lib/cloud/aws/s3-client.ts';
import { S3InputObjects } from '../../../lib/cloud/aws/s3-source.ts';
import { S3Store } from '../../../lib/cloud/aws/s3-store.ts';
import { startJob } from '../../../lib/cloud/coordinator.ts';
import { scanSliceTask } from '../../../lib/cloud/worker.ts';
import { ManifestReader, readStatus } from '../../../lib/job/documents.ts';
import { DEFAULT_LIMITS } from '../../../lib/job/options.ts';
import { type Moto, startMoto } from '../../helpers/moto.ts';

/** Raw XTC frames of 2 atoms (uncompressed, 9 atoms or fewer), 80 bytes each. */
function xtc(frames: number, x = 1): Uint8Array {
  const out = new Uint8Array(80 * frames);
  const v = new DataView(out.buffer);
  for (let f = 0; f < frames; f++) {
    v.setInt32(80 * f, 1995);
    v.setInt32(80 * f + 4, 2);
    v.setInt32(80 * f + 52, 2);
    for (let i = 0; i < 6; i++) v.setFloat32(80 * f + 56 + 4 * i, x + f + i / 8);
  }
  return out;
}

let moto: Moto;
let client: S3Client;
let buckets = 0;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  moto = await startMoto();
  client = makeS3Client({ endpoint: moto.endpoint });
});

afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

/** Plans a job over three parts of 5 frames, overwrites the second with 7 frames, then runs every slice. */
async function overwriteMidJob(versioned: boolean) {
  const bucket = `parts-${++buckets}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  if (versioned) await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const put = (key: string, body: Uint8Array | string, metadata: Record<string, string> = {}) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
  for (const k of [1, 2, 3]) await put(`input/run/p${k}.xtc`, xtc(5, k), { 'fanout-part': 'run' });
  await put('input/run/md.fanout.json', JSON.stringify({ parts: ['p1.xtc', 'p2.xtc', 'p3.xtc'], options: { analysis: 'mean-structure', sliceBytes: 200 } }));

  const store = new S3Store(client, bucket);
  const inputs = new S3InputObjects(client);
  const tasks: { jobId: string; index: number }[] = [];
  const started = await startJob(
    { store, inputs, invoker: { invoke: async (t) => void tasks.push(t) }, defaults: {}, fanin: 4, limits: { ...DEFAULT_LIMITS, minSliceBytes: 1 } },
    { bucket, key: 'input/run/md.fanout.json' },
  );
  expect(started).toMatchObject({ outcome: 'started', slices: 6 });
  await put('input/run/p2.xtc', xtc(7, 9), { 'fanout-part': 'run' });
  const worker = { store, inputs, manifests: new ManifestReader(store) };
  const outcomes = [];
  for (const t of tasks) outcomes.push(await scanSliceTask(worker, t));
  return { outcomes, status: await readStatus(store, (started as { jobId: string }).jobId), bucket };
}

describe('the parts of a cloud job, pinned', () => {
  it('are read as planned in a versioned bucket, whatever was uploaded since', async () => {
    const { outcomes } = await overwriteMidJob(true);
    expect(outcomes.every((o) => o.outcome === 'written')).toBe(true);
    // 15 frames of 2 atoms: the planned parts, not the 7-frame part uploaded after planning.
    expect(outcomes.reduce((n, o) => n + ('rows' in o ? (o.rows ?? 0) : 0), 0)).toBe(30);
  });

  it('fail the job in an unversioned bucket, naming the part that changed', async () => {
    const { outcomes, status, bucket } = await overwriteMidJob(false);
    const failed = outcomes.filter((o) => o.outcome === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(status?.state).toBe('failed');
    expect(status?.reason).toContain(`s3://${bucket}/input/run/p2.xtc was overwritten after the job was planned`);
  });
});
