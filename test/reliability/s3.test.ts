/**
 * The pipeline's use cases over a real S3 API (moto), with faults injected below the
 * AWS SDK's retry middleware (installHttpFaults): the retries exercised are the SDK's
 * own and the S3 adapter's, on error objects the SDK built from real error responses.
 * Every test compares the final state with a clean run and the sum with math.fsum.
 */
import { CreateBucketCommand, DeleteObjectCommand, PutBucketNotificationConfigurationCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Faults, type FaultRule, installHttpFaults } from '../helpers/faults.ts';
import { makeS3Client } from '../../lib/cloud/aws/s3-client.ts';
import { S3InputObjects } from '../../lib/cloud/aws/s3-source.ts';
import { S3Store } from '../../lib/cloud/aws/s3-store.ts';
import { decodeS3Key } from '../../lib/cloud/events.ts';
import { sliceBounds, type JobSpec } from '../../lib/core/plan.ts';
import { manifestKey, resultKey, statusKey } from '../../lib/job/keys.ts';
import { ROUTES } from '../../lib/cloud/topology.ts';
import { type Moto, startMoto } from '../helpers/moto.ts';
import { python } from '../helpers/python.ts';
import { Cloud, type CloudOptions, type Event, type FinalState, finalState, json } from './harness.ts';

const KEY = 'input/runs/values.txt';
const OPTIONS: Omit<CloudOptions, 'store' | 'inputs'> = { defaults: { analysis: 'sum', sliceBytes: 4096, maxSlices: 1000 }, fanin: 3 };

let moto: Moto;
let bucketCount = 0;
const clients: S3Client[] = [];
let v1: { bytes: Uint8Array; fsum: number };
let v2: { bytes: Uint8Array; fsum: number };
let clean1: FinalState;
let clean2: FinalState;

function makeData(seed: number, n: number) {
  const d = python<{ text: string; fsum: number }>(
    `rng = np.random.default_rng(${seed})
a = rng.standard_normal(${n}) * 10.0 ** rng.integers(-6, 7, ${n})
print(json.dumps({"text": "".join(repr(float(x)) + "\\n" for x in a), "fsum": math.fsum(a.tolist())}))`,
  );
  return { bytes: new TextEncoder().encode(d.text), fsum: d.fsum };
}

/** A fresh bucket with its own client, faults installed below the client's retries. */
async function bucket(opts: { versioned?: boolean; rules?: FaultRule[]; seed?: number } = {}) {
  const name = `rel-${++bucketCount}`;
  const client = makeS3Client({ endpoint: moto.endpoint });
  clients.push(client);
  await client.send(new CreateBucketCommand({ Bucket: name }));
  if (opts.versioned ?? true) await client.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
  const faults = new Faults(opts.rules);
  installHttpFaults(client, faults, { bucket: name });
  const store = new S3Store(client, name);
  const cloud = new Cloud({ ...OPTIONS, bucket: name, seed: opts.seed ?? 5, store, inputs: new S3InputObjects(client) });
  const upload = (bytes: Uint8Array) => client.send(new PutObjectCommand({ Bucket: name, Key: KEY, Body: bytes }));
  return { name, client, faults, store, cloud, upload };
}

function expectSameAsClean(state: FinalState, clean: FinalState): void {
  expect(state.status?.state, state.status?.reason).toBe('done');
  expect(state.result?.result).toEqual(clean.result!.result);
  expect(state.jobResult?.result).toEqual(clean.result!.result);
  expect(state.leaves.map((k) => k.split('/').slice(2).join('/'))).toEqual(clean.leaves.map((k) => k.split('/').slice(2).join('/')));
}

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  moto = await startMoto();
  v1 = makeData(31, 2000);
  v2 = makeData(32, 1500);
  for (const [data, set] of [
    [v1, (s: FinalState) => (clean1 = s)],
    [v2, (s: FinalState) => (clean2 = s)],
  ] as const) {
    const b = await bucket();
    await b.upload(data.bytes);
    b.cloud.uploaded(KEY);
    await b.cloud.drain();
    set(await finalState(b.store, KEY));
  }
  expect((clean1.result!.result as { sum: number }).sum).toBe(v1.fsum);
  expect((clean2.result!.result as { sum: number }).sum).toBe(v2.fsum);
  expect(clean1.leaves.length).toBeGreaterThan(6);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.destroy();
  await moto?.stop();
});

const conditional = (c: { headers?: Record<string, string> }): boolean => c.headers?.['if-none-match'] === '*';

describe('S3 errors retried by the SDK', () => {
  it('503 SlowDown and 500 InternalError on reads, writes and lists are retried with backoff and the job completes', async () => {
    const b = await bucket({
      rules: [
        { op: 'PUT', key: /\/tree\//, nth: [1, 2, 5, 9], fault: { type: 's3-error', code: 'SlowDown' } },
        { op: 'GET', key: KEY, nth: [2, 7], fault: { type: 's3-error', code: 'InternalError' } },
        { op: 'GET', where: (c) => c.query?.['list-type'] === '2', nth: [1, 3], fault: { type: 's3-error', code: 'SlowDown' } },
        { op: 'HEAD', nth: [4], fault: { type: 's3-error', code: 'ServiceUnavailable' } },
      ],
    });
    await b.upload(v1.bytes);
    b.cloud.uploaded(KEY);
    const t0 = performance.now();
    await b.cloud.drain();
    const ms = performance.now() - t0;
    // No function saw an error: the SDK retried every injected one.
    expect(b.cloud.errors).toEqual([]);
    expect(b.faults.injected('s3-error')).toHaveLength(9);
    console.log(`9 injected S3 5xx errors, all retried by the SDK; the job took ${ms.toFixed(0)} ms`);
    expectSameAsClean(await finalState(b.store, KEY), clean1);
  });

  it('a connection dropped after a conditional write landed is retried; the retry finds the partial and the job completes', async () => {
    const b = await bucket({ rules: [{ op: 'PUT', key: /\/tree\/0\//, where: conditional, nth: [1, 3, 6], fault: { type: 'crash-after' } }] });
    await b.upload(v1.bytes);
    b.cloud.uploaded(KEY);
    await b.cloud.drain();
    expect(b.faults.injected('crash-after')).toHaveLength(3);
    expect(b.cloud.errors).toEqual([]);
    expectSameAsClean(await finalState(b.store, KEY), clean1);
  });

  it('409 ConditionalRequestConflict on a create-only write whose rival never finishes: the write is retried and lands', async () => {
    // The conflicting writer died: nothing else will ever create these partials.
    const b = await bucket({ rules: [{ op: 'PUT', key: /\/tree\/0\//, where: conditional, nth: [1, 2, 4], fault: { type: 's3-error', code: 'ConditionalRequestConflict' } }] });
    await b.upload(v1.bytes);
    b.cloud.uploaded(KEY);
    await b.cloud.drain();
    expect(b.faults.injected('s3-error')).toHaveLength(3);
    expectSameAsClean(await finalState(b.store, KEY), clean1);
  });

  it('a worker whose reads keep failing is retried by Lambda, then the job is marked failed with the slice, and no result is written', async () => {
    // Every read of slice 2 (it starts one byte early, to see whether a record starts there).
    let range = 'none';
    const b = await bucket({ rules: [{ op: 'GET', key: KEY, where: (c) => (c.headers?.range ?? '').startsWith(range), fault: { type: 's3-error', code: 'InternalError' } }] });
    await b.upload(v1.bytes);
    const { jobId } = (await b.cloud.startJob(KEY)) as { jobId: string };
    const spec = json<{ spec: JobSpec }>(await b.store.get(manifestKey(jobId)))!.spec;
    range = `bytes=${sliceBounds(spec, 2).start - 1}-`;
    await b.cloud.drain();
    const state = await finalState(b.store, KEY);
    expect(state.status?.state).toBe('failed');
    expect(state.status?.slice).toBe(2);
    expect(state.status?.reason).toMatch(/InternalError.*after 3 attempts/);
    expect(state.result).toBeUndefined();
    expect(state.jobResult).toBeUndefined();
  });
});

describe('the input overwritten while the job runs (S3)', () => {
  it.each([
    { versioned: false, reason: /overwritten after the job was planned|newer upload/ },
    { versioned: true, reason: /newer upload/ },
  ])('the first job ends superseded, writes no result for it, and the new version gets its clean result (versioned: $versioned)', async ({ versioned, reason }) => {
    const b = await bucket({ versioned });
    await b.upload(v1.bytes);
    const first = (await b.cloud.startJob(KEY)) as { jobId: string };
    const slices = b.cloud.take((e: Event) => e.kind === 'slice');
    for (const e of slices.slice(0, 3)) await b.cloud.handle(e);
    await b.upload(v2.bytes);
    const second = (await b.cloud.startJob(KEY)) as { jobId: string };
    const newer = b.cloud.take(() => true);
    b.cloud.queue.push(...slices.slice(3));
    await b.cloud.drain();
    b.cloud.queue.push(...newer);
    await b.cloud.drain();

    expect(second.jobId).not.toBe(first.jobId);
    const status1 = json<{ state: string; reason: string }>(await b.store.get(statusKey(first.jobId)))!;
    expect(status1.state).toBe('superseded');
    expect(status1.reason).toMatch(reason);
    expect(await b.store.get(resultKey(first.jobId))).toBeUndefined();
    const state = await finalState(b.store, KEY);
    expect(state.job).toBe(second.jobId);
    expectSameAsClean(state, clean2);
  });
});

describe('bucket notifications built from lib/cloud/topology.ts (on moto)', () => {
  it('writes under jobs/ and results/ never reach the coordinator (uploads and redrive requests do); only merge-tree nodes above the slices reach the merger', async () => {
    const name = `notify-${++bucketCount}`;
    const client = makeS3Client({ endpoint: moto.endpoint });
    clients.push(client);
    const sqs = new SQSClient({ endpoint: moto.endpoint, region: 'us-east-1' });
    await client.send(new CreateBucketCommand({ Bucket: name }));
    const queues: Record<string, string> = {};
    const configs = [];
    for (const route of ROUTES) {
      // One queue per function (the coordinator has two routes), as fanout dev and the construct wire them.
      const url = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-${route.target}` }))).QueueUrl!;
      const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
      queues[route.target] = url;
      configs.push({ QueueArn: arn, Events: [...route.events], Filter: { Key: { FilterRules: [{ Name: 'prefix' as const, Value: route.prefix }, ...(route.suffix ? [{ Name: 'suffix' as const, Value: route.suffix }] : [])] } } });
    }
    await client.send(new PutBucketNotificationConfigurationCommand({ Bucket: name, NotificationConfiguration: { QueueConfigurations: configs } }));
    const writes = [
      'jobs/abc/manifest.json',
      'jobs/abc/status.json',
      'jobs/abc/tree/1/00000000/00000000.partial.json',
      // a slice's leaf raises no event: its worker merges its group
      'jobs/abc/tree/0/00000000/00000000.leaf.json',
      'jobs/abc/result.json',
      'jobs/inputs/a b.csv.json',
      'results/a b.csv.json',
      'results/x.partial.json',
      'input/a b+c%.csv',
      'redrive/0123abcd/req-1.json',
      'jobs/0123abcd/redrive/req-1.json',
      'jobs/0123abcd/tail/backup-00000003.json',
    ];
    for (const k of writes) await client.send(new PutObjectCommand({ Bucket: name, Key: k, Body: '{}' }));
    await client.send(new DeleteObjectCommand({ Bucket: name, Key: 'jobs/abc/status.json' }));

    const received = async (url: string): Promise<string[]> => {
      const keys: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        for (const m of r.Messages ?? []) {
          const body = JSON.parse(m.Body!) as { Records?: { s3: { object: { key: string } } }[] };
          for (const rec of body.Records ?? []) keys.push(decodeS3Key(rec.s3.object.key));
        }
      }
      return keys.sort();
    };
    expect(await received(queues.coordinator!)).toEqual(['input/a b+c%.csv', 'redrive/0123abcd/req-1.json']);
    expect(await received(queues.merger!)).toEqual(['jobs/abc/tree/1/00000000/00000000.partial.json']);
    sqs.destroy();
  });
});
