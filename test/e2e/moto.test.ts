/**
 * The cloud pipeline end to end against a real S3 API (moto): bucket notifications to
 * SQS from the shared wiring, the dispatcher calling the real handlers, uploads with
 * the AWS SDK, and results compared with `fanout run` on the same bytes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dispatcher } from '../../lib/cloud/dev/dispatcher.ts';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { type Moto, type PipelineOnMoto, startPipelineOnMoto } from '../helpers/moto.ts';
import { python } from '../helpers/python.ts';

const BUCKET = 'fanout-e2e';

describe('the cloud pipeline on moto', () => {
  let env: PipelineOnMoto;
  let moto: Moto;
  let dispatcher: Dispatcher;
  let s3: S3Client;
  let sqs: SQSClient;
  const dir = tempDir('fanout-e2e-');

  beforeAll(async () => {
    // Small slices and fan-in, so that these small files still build a merge tree
    // with several levels and incomplete last groups.
    env = await startPipelineOnMoto({ bucket: BUCKET, defaults: { sliceBytes: 48 * 1024, maxSlices: 200 }, fanin: 3, workerConcurrency: 2 });
    ({ moto, dispatcher, s3, sqs } = env);
  });

  afterAll(async () => {
    await env?.stop();
    dir.cleanup();
  });

  const text = (key: string): Promise<string | undefined> => env.text(key);
  const settle = (): Promise<void> => env.settle();

  async function waitFor(key: string, timeoutMs = 90_000): Promise<Record<string, unknown> & { result: unknown; job: string }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const body = await text(key);
      if (body) return JSON.parse(body);
      if (Date.now() > deadline) throw new Error(`${key} did not appear within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  function localFile(name: string, bytes: Uint8Array): string {
    const path = join(dir.path, name);
    writeFileSync(path, bytes);
    return path;
  }

  async function keysUnder(prefix: string): Promise<string[]> {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (r.Contents ?? []).map((o) => o.Key!);
  }

  it('gives row-sums of a .npy trajectory equal to the local run', async () => {
    const b64 = python<string>(`import io, base64
rng = np.random.default_rng(11)
a = rng.standard_normal((700, 12, 9)) * 1e3
buf = io.BytesIO(); np.save(buf, a)
print(json.dumps(base64.b64encode(buf.getvalue()).decode()))`);
    const bytes = Buffer.from(b64, 'base64');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'input/traj/frames.npy', Body: bytes, Metadata: { 'fanout-analysis': 'row-sums' } }));
    const doc = await waitFor('results/traj/frames.npy.json');
    const local = runJson([localFile('frames.npy', bytes), '--analysis', 'row-sums', '--state-dir', join(dir.path, 'state')]);
    expect(doc.slices).toBeGreaterThan(9);
    expect(doc.result).toEqual(local.result);
  });

  it('gives stats of a CSV under an awkward key (spaces, +, non-ASCII) equal to the local run', async () => {
    const csv = python<string>(`rng = np.random.default_rng(12)
a = rng.standard_normal((6000, 5)) * 10.0 ** rng.integers(-5, 6, (6000, 5))
print(json.dumps("x,y,z,u,v\\n" + "".join(",".join(repr(float(v)) for v in row) + "\\n" for row in a)))`);
    const key = 'input/dir with space/Ünïcødé+plus & (1) résumé.csv';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: csv, Metadata: { 'fanout-analysis': 'stats', 'fanout-skip-header': 'true' } }));
    const doc = await waitFor('results/dir with space/Ünïcødé+plus & (1) résumé.csv.json');
    const local = runJson([localFile('awkward.csv', new TextEncoder().encode(csv)), '--analysis', 'stats', '--skip-header', '--state-dir', join(dir.path, 'state')]);
    expect(doc.records).toBe(6000);
    expect(doc.result).toEqual(local.result);

    // `fanout run s3://...` reads the same object by ranges and agrees too.
    const viaS3 = fanout(['run', `s3://${BUCKET}/${key}`, '--analysis', 'stats', '--skip-header', '--json', '--quiet', '--state-dir', join(dir.path, 'state-s3')], {
      env: { AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' },
    });
    expect(viaS3.code, viaS3.stderr).toBe(0);
    expect(JSON.parse(viaS3.stdout).result).toEqual(local.result);
  });

  it('gives the sum of a multipart upload equal to the local run', async () => {
    const body = python<string>(`rng = np.random.default_rng(13)
a = rng.standard_normal(330000) * 10.0 ** rng.integers(-9, 10, 330000)
print(json.dumps("".join(repr(float(v)) + "\\n" for v in a)))`);
    const bytes = new TextEncoder().encode(body);
    expect(bytes.length).toBeGreaterThan(5 * 1024 * 1024);
    const key = 'input/multi part.txt';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, Metadata: { 'fanout-slice-bytes': String(256 * 1024) } }));
    const cut = 5 * 1024 * 1024;
    const parts = [];
    for (const [n, chunk] of [bytes.subarray(0, cut), bytes.subarray(cut)].entries()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: n + 1, Body: chunk }));
      parts.push({ ETag: r.ETag, PartNumber: n + 1 });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    const doc = await waitFor('results/multi part.txt.json');
    const local = runJson([localFile('multi.txt', bytes), '--state-dir', join(dir.path, 'state')]);
    expect(doc.result).toEqual(local.result);
    const fsum = python<number>('print(json.dumps(math.fsum(float(t) for t in args.split())))', body);
    expect((doc.result as { sum: number }).sum).toBe(fsum);
  });

  it('treats a duplicate upload event and a second merge trigger as harmless', async () => {
    await settle();
    const resultKey = 'results/traj/frames.npy.json';
    const before = await text(resultKey);
    const doc = JSON.parse(before!) as { job: string };
    const jobBefore = await text(`jobs/${doc.job}/result.json`);
    const manifestsBefore = (await keysUnder('jobs/')).filter((k) => k.endsWith('/manifest.json'));

    const s3Event = (key: string) => JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key: encodeURIComponent(key).replace(/%20/g, '+') } } }] });
    await sqs.send(new SendMessageCommand({ QueueUrl: dispatcher.queues.coordinator, MessageBody: s3Event('input/traj/frames.npy') }));
    const leaf = (await keysUnder(`jobs/${doc.job}/tree/0/`)).at(-1)!;
    const levels = new Set((await keysUnder(`jobs/${doc.job}/tree/`)).map((k) => k.split('/')[3]));
    const top = (await keysUnder(`jobs/${doc.job}/tree/${levels.size - 1}/`)).at(-1)!;
    await sqs.send(new SendMessageCommand({ QueueUrl: dispatcher.queues.merger, MessageBody: s3Event(leaf) }));
    await sqs.send(new SendMessageCommand({ QueueUrl: dispatcher.queues.merger, MessageBody: s3Event(top) }));
    await settle();

    expect(await text(resultKey)).toBe(before);
    expect(await text(`jobs/${doc.job}/result.json`)).toBe(jobBefore);
    expect((await keysUnder('jobs/')).filter((k) => k.endsWith('/manifest.json'))).toEqual(manifestsBefore);
    expect(JSON.parse((await text(`jobs/${doc.job}/status.json`))!).state).toBe('done');
  });

  it('marks a job with a bad record failed, with the slice and the reason, and writes no result', async () => {
    const lines = Array.from({ length: 30000 }, (_, i) => String(i));
    lines[25000] = '1,000';
    const body = lines.join('\n') + '\n';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'input/bad.txt', Body: body }));
    const pointer = await waitFor('jobs/inputs/bad.txt.json');
    const deadline = Date.now() + 60_000;
    let status: { state: string; slice?: number; reason?: string } | undefined;
    while (Date.now() < deadline) {
      status = JSON.parse((await text(`jobs/${pointer.job}/status.json`))!);
      if (status!.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toMatchObject({ state: 'failed', slice: expect.any(Number) });
    expect(status!.reason).toContain(`at byte ${body.indexOf('1,000')}`);
    await settle();
    expect(await text('results/bad.txt.json')).toBeUndefined();
  });

  it('publishes the last of several quick uploads of one key, round after round', async () => {
    const key = 'input/race/values.csv';
    for (let round = 0; round < 4; round++) {
      const sums: number[] = [];
      const versions: string[] = [];
      // Each upload has its own bytes (and sum); they follow each other as fast as the SDK goes.
      for (let u = 0; u < 3; u++) {
        const values = Array.from({ length: 3000 + 100 * u }, (_, i) => (i % 97) + round * 1000 + u);
        sums.push(values.reduce((a, b) => a + b, 0));
        const r = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: values.join('\n') + '\n', Metadata: { 'fanout-slice-bytes': '4KiB' } }));
        versions.push(r.VersionId!);
      }
      await settle();
      const doc = await waitFor('results/race/values.csv.json');
      const pointer = JSON.parse((await text('jobs/inputs/race/values.csv.json'))!);
      expect(pointer.input.versionId, `round ${round}`).toBe(versions[2]);
      expect(doc.job, `round ${round}`).toBe(pointer.job);
      expect((doc.result as { sum: number }).sum, `round ${round}`).toBe(sums[2]);
      const status = JSON.parse((await text(`jobs/${pointer.job}/status.json`))!);
      expect(status.state, `round ${round}`).toBe('done');
    }
  });
});
