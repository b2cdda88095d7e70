/**
 * fanout plan's count of input GETs against the reads the workers really make: every slice
 * of a text and a binary object scanned through S3Source on moto, its GETs counted.
 * Sub-ranges of 16 KiB stand in for the deployed 8 MiB, so that small objects cut into
 * several of them.
 */
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { traitsOf } from '../../lib/core/analysis.ts';
import { scanSlice } from '../../lib/core/job.ts';
import { planJob, sliceBounds } from '../../lib/core/plan.ts';
import { resolveAnalysis } from '../../lib/cloud/analyses.ts';
import { SLICE_READ_SLACK_BYTES } from '../../lib/cloud/aws/read-plan.ts';
import { makeS3Client } from '../../lib/cloud/aws/s3-client.ts';
import { S3InputObjects, S3Source } from '../../lib/cloud/aws/s3-source.ts';
import { inputIdentity } from '../../lib/cloud/inputs.ts';
import { planOptionsFor } from '../../lib/job/options.ts';
import { inputGets } from '../../lib/report/estimate.ts';
import { type Moto, startMoto } from '../helpers/moto.ts';
import { python } from '../helpers/python.ts';

const BUCKET = 'gets';
const READ = { subRangeBytes: 16 << 10, concurrency: 4 };
let moto: Moto;
let client: S3Client;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  moto = await startMoto();
  client = makeS3Client({ endpoint: moto.endpoint, region: 'us-east-1' });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

describe('inputGets', () => {
  it.each([
    ['a CSV', 'data.csv', 7],
    ['a CSV in one slice', 'data.csv', 1],
    ['a .npy', 'data.npy', 5],
  ])('counts the GETs the workers make for every slice of %s (%s, %i slices)', async (_what, name, slices) => {
    const bytes =
      name === 'data.npy'
        ? Buffer.from(python<string>('import io, base64\nbuf = io.BytesIO(); np.save(buf, np.arange(30000, dtype=np.float64)); print(json.dumps(base64.b64encode(buf.getvalue()).decode()))'), 'base64')
        : new TextEncoder().encode(Array.from({ length: 20000 }, (_, i) => `${i},${i * 0.5}\n`).join(''));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: name, Body: bytes }));
    const inputs = new S3InputObjects(client);
    const object = (await inputs.describe(BUCKET, name))!;
    const analysis = resolveAnalysis('sum');
    const spec = await planJob(inputs.open(object, 1 << 20), { name: 'sum', options: {}, ...traitsOf(analysis) }, planOptionsFor({ maxSlices: slices, sliceBytes: 1 }, object.size), inputIdentity(object));
    expect(spec.sliceCount).toBe(slices);
    let made = 0;
    const sliceBytes: number[] = [];
    for (let i = 0; i < slices; i++) {
      const { start, end } = sliceBounds(spec, i);
      sliceBytes.push(end - start);
      // As the worker opens it (worker.ts), with small sub-ranges.
      const source = new S3Source(client, object, { partBytes: end - start + SLICE_READ_SLACK_BYTES, ...READ });
      await scanSlice(source, spec, i, analysis);
      made += source.requests;
    }
    expect(made).toBeGreaterThan(slices);
    expect(inputGets(sliceBytes, spec.layout.kind !== 'text', object.size, READ)).toBe(made);
  });
});
