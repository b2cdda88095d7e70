/**
 * End to end through the real handlers (`fanout dev`'s dispatcher: S3 notifications to
 * SQS on moto, versioned bucket): an upload overwritten while its job runs, then late
 * and duplicated events for both uploads. The result under results/ must be the new
 * version's, equal to math.fsum, and stay so.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../lib/cloud/aws/s3-store.ts';
import type { Dispatcher } from '../../lib/cloud/dev/dispatcher.ts';
import { type PipelineOnMoto, startPipelineOnMoto } from '../helpers/moto.ts';
import { python } from '../helpers/python.ts';

const BUCKET = 'fanout-rel-dev';
const KEY = 'input/over written.txt';

describe('an upload overwritten while its job runs, end to end on moto', () => {
  let env: PipelineOnMoto;
  let dispatcher: Dispatcher;
  let s3: S3Client;
  let sqs: SQSClient;

  beforeAll(async () => {
    env = await startPipelineOnMoto({ bucket: BUCKET, defaults: { sliceBytes: 8 * 1024, maxSlices: 500 }, fanin: 4, workerConcurrency: 1 });
    ({ dispatcher, s3, sqs } = env);
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  const text = (key: string): Promise<string | undefined> => env.text(key);
  const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const settle = (): Promise<void> => env.settle();

  it('publishes only the new version\'s result, and late duplicate events change nothing', async () => {
    const data = python<{ v1: string; v2: string; fsum2: number }>(`rng = np.random.default_rng(91)
a = rng.standard_normal(12000) * 10.0 ** rng.integers(-6, 7, 12000)
b = rng.standard_normal(9000) * 10.0 ** rng.integers(-6, 7, 9000)
f = lambda x: "".join(repr(float(v)) + "\\n" for v in x)
print(json.dumps({"v1": f(a), "v2": f(b), "fsum2": math.fsum(b.tolist())}))`);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: data.v1 }));
    const pointer1 = await until('the first job', async () => {
      const p = await text('jobs/inputs/over written.txt.json');
      return p ? (JSON.parse(p) as { job: string }) : undefined;
    });
    const store = new S3Store(s3, BUCKET);
    await until('a few partials of the first job', async () => ((await store.list(`jobs/${pointer1.job}/tree/0/`)).length >= 2 ? true : undefined));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: data.v2 }));
    const doc = await until('the new version\'s result', async () => {
      const r = await text('results/over written.txt.json');
      const d = r ? (JSON.parse(r) as { job: string; result: { sum: number } }) : undefined;
      return d && d.job !== pointer1.job ? d : undefined;
    });
    await settle();
    expect(doc.result.sum).toBe(data.fsum2);
    const status1 = JSON.parse((await text(`jobs/${pointer1.job}/status.json`))!) as { state: string };
    // Superseded before it finished: failed and unpublished; had it finished first, its result was replaced.
    if (status1.state === 'failed') expect(await text(`jobs/${pointer1.job}/result.json`)).toBeUndefined();
    const before = await text('results/over written.txt.json');

    // Late and duplicated events: both uploads' notifications again, and the first job's leaves.
    const s3Event = (key: string) => JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key: encodeURIComponent(key).replace(/%20/g, '+') } } }] });
    for (let i = 0; i < 2; i++) await sqs.send(new SendMessageCommand({ QueueUrl: dispatcher.queues.coordinator, MessageBody: s3Event(KEY) }));
    for (const leaf of (await store.list(`jobs/${pointer1.job}/tree/0/`)).slice(-2)) await sqs.send(new SendMessageCommand({ QueueUrl: dispatcher.queues.merger, MessageBody: s3Event(leaf) }));
    await settle();
    expect(await text('results/over written.txt.json')).toBe(before);
  });
});
