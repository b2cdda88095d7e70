/**
 * The Lambda side: worker invocations throttled by Lambda (429 answers below the SDK's
 * retries, then the invoker's own backoff), the size of the largest slice descriptor,
 * and a worker that reaches its deadline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Faults, FaultyInputs, FaultyStore, installHttpFaults } from '../helpers/faults.ts';
import { LambdaInvoker } from '../../lib/cloud/aws/lambda-invoker.ts';
import { LocalDirStore } from '../../lib/local/local-store.ts';
import { ManifestReader } from '../../lib/job/documents.ts';
import { sliceTaskSchema } from '../../lib/cloud/events.ts';
import { statusKey } from '../../lib/job/keys.ts';
import { DEFAULT_LIMITS, DEFAULT_MAX_SLICES, planOptionsFor } from '../../lib/job/options.ts';
import { nodeKey } from '../../lib/job/keys.ts';
import type { SliceTask } from '../../lib/job/ports.ts';
import { python } from '../helpers/python.ts';
import { Cloud, type CloudOptions, cleanRun, type Event, type FinalState, finalState, json, VersionedInputs } from './harness.ts';

const KEY = 'input/lambda/values.txt';
const OPTIONS: Omit<CloudOptions, 'store' | 'inputs'> = { defaults: { analysis: 'sum', sliceBytes: 4096, maxSlices: 1000 }, fanin: 4 };
/** Lambda's limit on an asynchronous invocation's payload. */
const ASYNC_PAYLOAD_LIMIT_BYTES = 256 * 1024;

const roots: string[] = [];
function dirStore(): LocalDirStore {
  const root = mkdtempSync(join(tmpdir(), 'fanout-rel-lambda-'));
  roots.push(root);
  return new LocalDirStore(root);
}
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

let data: { bytes: Uint8Array; fsum: number };
let clean: FinalState;

function inputs(chunkBytes?: number): VersionedInputs {
  const i = new VersionedInputs(true, chunkBytes);
  i.upload(KEY, data.bytes);
  return i;
}

beforeAll(async () => {
  const d = python<{ text: string; fsum: number }>(`rng = np.random.default_rng(41)
a = rng.standard_normal(2500) * 10.0 ** rng.integers(-5, 6, 2500)
print(json.dumps({"text": "".join(repr(float(x)) + "\\n" for x in a), "fsum": math.fsum(a.tolist())}))`);
  data = { bytes: new TextEncoder().encode(d.text), fsum: d.fsum };
  clean = await cleanRun(dirStore(), inputs(), KEY, OPTIONS);
  expect((clean.result!.result as { sum: number }).sum).toBe(data.fsum);
});

/**
 * A LambdaClient whose HTTP handler is Lambda's async invoke endpoint in miniature: it
 * accepts every request with 202 and hands the payload on. The SDK above it (retries,
 * error parsing) is the real one.
 */
function lambdaClient(onInvoke: (payload: Uint8Array) => void): LambdaClient {
  return new LambdaClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: {
      handle: async (request: { body?: Uint8Array | string }) => {
        const body = request.body ?? new Uint8Array(0);
        onInvoke(typeof body === 'string' ? new TextEncoder().encode(body) : body);
        return { response: { statusCode: 202, headers: { 'x-amzn-requestid': 'stub' }, body: Readable.from([]) } };
      },
    } as never,
  });
}

describe('throttled invokes', () => {
  it('are retried with backoff (the SDK, then the invoker) and every slice is delivered exactly once; the job completes', async () => {
    const store = dirStore();
    const box: { cloud?: Cloud } = {};
    const delivered: number[] = [];
    const client = lambdaClient((payload) => {
      const task = JSON.parse(new TextDecoder().decode(payload)) as SliceTask;
      delivered.push(task.index);
      box.cloud!.queue.push({ kind: 'slice', task, attempt: 0 } satisfies Event);
    });
    // The first 12 attempts are throttled: more than the SDK's 3 tries per call, so the
    // invoker's own retry has to step in for some calls.
    const faults = new Faults([{ op: 'POST', nth: Array.from({ length: 12 }, (_, i) => i + 1), fault: { type: 'throttle' } }]);
    installHttpFaults(client, faults);
    const invoker = new LambdaInvoker(client, 'worker', { concurrency: 4, baseDelayMs: 20, maxDelayMs: 200 });
    const cloud = (box.cloud = new Cloud({ ...OPTIONS, store, inputs: inputs(), wrapInvoker: () => invoker }));
    cloud.uploaded(KEY);
    const t0 = performance.now();
    await cloud.drain();
    console.log(`12 throttled invoke attempts retried; ${delivered.length} slices delivered in ${(performance.now() - t0).toFixed(0)} ms`);
    client.destroy();
    expect(faults.injected('throttle')).toHaveLength(12);
    expect(cloud.errors).toEqual([]);
    expect(delivered.sort((a, b) => a - b)).toEqual(Array.from({ length: clean.leaves.length }, (_, i) => i));
    const state = await finalState(store, KEY);
    expect(state.status?.state).toBe('done');
    expect(state.result?.result).toEqual(clean.result!.result);
  });
});

describe('the async payload limit', () => {
  it('holds for the descriptor of the last slice of the largest job the options allow, and of any safe index', async () => {
    const payloads: Uint8Array[] = [];
    const client = lambdaClient((p) => payloads.push(p));
    const invoker = new LambdaInvoker(client, 'worker');
    const largest = planOptionsFor({ sliceBytes: 1 }, Number.MAX_SAFE_INTEGER).slices!;
    expect(largest).toBe(DEFAULT_MAX_SLICES);
    const jobId = 'f'.repeat(64);
    for (const index of [largest - 1, Number.MAX_SAFE_INTEGER]) await invoker.invoke({ jobId, index });
    client.destroy();
    for (const p of payloads) {
      expect(p.length).toBeLessThan(ASYNC_PAYLOAD_LIMIT_BYTES);
      // What the worker accepts is exactly what was sent.
      expect(sliceTaskSchema.parse(JSON.parse(new TextDecoder().decode(p)))).toMatchObject({ jobId });
    }
    expect(Math.max(...payloads.map((p) => p.length))).toBeLessThan(120);
  });
});

describe('a worker near its deadline', () => {
  it('stops reading on the abort signal and fails as a retryable timeout without writing its partial; the retry completes the job', async () => {
    // The handler module reads its configuration when loaded, as in Lambda.
    process.env.BUCKET_NAME ??= 'unused-the-deps-are-given';
    const { createWorkerHandler, DEADLINE_MARGIN_MS } = await import('../../functions/worker.ts');
    const raw = dirStore();
    const cloud = new Cloud({ ...OPTIONS, store: raw, inputs: inputs() });
    const { jobId } = (await cloud.startJob(KEY)) as { jobId: string };
    const slices = cloud.take((e) => e.kind === 'slice');
    const slow = slices.find((e) => e.kind === 'slice' && e.task.index === 1)! as Extract<Event, { kind: 'slice' }>;

    // Every 256-byte chunk of the input takes 150 ms to arrive: the slice cannot finish in time.
    const readFaults = new Faults([{ op: 'read', fault: { type: 'delay', ms: 150 } }]);
    const storeFaults = new Faults();
    const store = new FaultyStore(raw, storeFaults);
    const deps = { store, inputs: new FaultyInputs(inputs(256), readFaults), manifests: new ManifestReader(store), defaults: {}, fanin: OPTIONS.fanin!, limits: DEFAULT_LIMITS, logger: new Logger({ logLevel: 'SILENT' }) };
    const handler = createWorkerHandler(() => deps);
    const deadline = Date.now() + DEADLINE_MARGIN_MS + 100;
    const context = { functionName: 'worker', awsRequestId: 'r-1', getRemainingTimeInMillis: () => deadline - Date.now() } as unknown as Context;
    const error = await handler(slow.task, context).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.name).toBe('TimeoutError');
    const readsAtAbort = readFaults.log.length;
    await new Promise((r) => setTimeout(r, 600));
    // At most the chunk in flight at the abort was read afterwards; nothing was written.
    expect(readFaults.log.length - readsAtAbort).toBeLessThanOrEqual(1);
    expect(storeFaults.log.filter((c) => c.op === 'put' || c.op === 'putIfAbsent')).toEqual([]);
    expect(await raw.get(nodeKey(jobId, 0, 1, OPTIONS.fanin!))).toBeUndefined();
    // Not marked failed: a timeout is for Lambda to retry.
    expect(json<{ state: string }>(await raw.get(statusKey(jobId)))!.state).toBe('running');

    cloud.queue.push(...slices);
    await cloud.drain();
    const state = await finalState(raw, KEY);
    expect(state.status?.state).toBe('done');
    expect(state.result?.result).toEqual(clean.result!.result);
  });
});
