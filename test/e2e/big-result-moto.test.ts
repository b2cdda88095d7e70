/**
 * A result too large to inline, through the cloud pipeline on a real S3 API (moto): the
 * merger writes its .npy beside jobs/<id>/result.json and beside the results/ copy, and
 * `fanout status` (followJob) reads it back: the same values as `fanout run`, bit for bit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../lib/cloud/aws/s3-store.ts';
import { followJob } from '../../lib/cloud/client.ts';
import { ResultArray } from '../../lib/core/result-array.ts';
import { runJson, tempDir } from '../helpers/cli.ts';
import { type PipelineOnMoto, startPipelineOnMoto } from '../helpers/moto.ts';
import { python } from '../helpers/python.ts';

const BUCKET = 'fanout-big-result-e2e';

describe('a large result through the cloud pipeline on moto', () => {
  let env: PipelineOnMoto;
  const dir = tempDir('fanout-big-result-e2e-');

  beforeAll(async () => {
    env = await startPipelineOnMoto({ bucket: BUCKET, defaults: { sliceBytes: 256 * 1024, maxSlices: 500 }, fanin: 3, workerConcurrency: 2 });
  });

  afterAll(async () => {
    await env?.stop();
    dir.cleanup();
  });

  it('mean-structure of 90,000 atoms: a .npy beside the result and its results/ copy, equal to the local run bit for bit; followJob reads it', async () => {
    const path = join(dir.path, 'atoms.npy');
    python('rng = np.random.default_rng(5)\nx = rng.normal(0, 20, (6, 90000, 3)) * 2.0 ** rng.integers(-30, 30, (6, 90000, 3))\nnp.save(args, x.astype("<f4"))\nprint(1)', path);
    const key = 'input/big/atoms.npy';
    await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(path), Metadata: { 'fanout-analysis': 'mean-structure' } }));
    const resultKey = 'results/big/atoms.npy.json';
    const deadline = Date.now() + 120_000;
    let body: string | undefined;
    while (!(body = await env.text(resultKey))) {
      if (Date.now() > deadline) throw new Error(`${resultKey} did not appear`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const cloud = JSON.parse(body);
    expect(cloud.slices).toBeGreaterThan(2);
    const name = `${cloud.job}.mean.npy`;
    expect(cloud.result.mean).toEqual({ $npy: name, shape: [90000, 3], dtype: '<f8' });
    const store = new S3Store(env.s3, BUCKET);
    const published = await store.get(`results/big/${name}`);
    const own = await store.get(`jobs/${cloud.job}/${name}`);
    const local = runJson([path, '--analysis', 'mean-structure', '--slices', '5', '--state-dir', join(dir.path, 'state')]);
    const localNpy = readFileSync(join(dir.path, 'state', 'jobs', local.job as string, `${local.job}.mean.npy`));
    expect(Buffer.from(published!).equals(localNpy)).toBe(true);
    expect(Buffer.from(own!).equals(localNpy)).toBe(true);
    const followed = await followJob(store, cloud.job, () => {}, { pollMs: 0 });
    const mean = (followed.result as { mean: ResultArray }).mean;
    expect(mean).toBeInstanceOf(ResultArray);
    expect(Buffer.from(mean.data.buffer).equals(localNpy.subarray(localNpy.length - 90000 * 3 * 8))).toBe(true);
  });
});
