import { beforeAll, describe, expect, it } from 'vitest';
import { startJob } from '../../lib/cloud/coordinator.ts';
import { ManifestReader } from '../../lib/job/documents.ts';
import { DEFAULT_LIMITS } from '../../lib/job/options.ts';
import { manifestKey, resultKey, statusKey } from '../../lib/job/keys.ts';
import { onFailureRecord, onNodeCreated } from '../../lib/cloud/merger.ts';
import { levelSizes } from '../../lib/cloud/tree.ts';
import { scanSliceTask } from '../../lib/cloud/worker.ts';
import type { SliceTask } from '../../lib/job/ports.ts';
import { routeFor } from '../../lib/cloud/topology.ts';
import { python } from '../helpers/python.ts';
import { CountingStore, MemoryInputs } from './fakes.ts';
import { rmsf, rmsfAverage } from '../../lib/core/analyses/rmsf.ts';
import { chainedOptions, type ResultDocument } from '../../lib/core/job.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { runInProcess } from '../helpers/dcd-run.ts';

const BUCKET = 'bucket';

/**
 * Runs the whole pipeline over the fakes: S3 events and worker invocations go into one
 * queue, delivered in a seeded random order, some of them twice (S3 and Lambda both
 * deliver at least once). Every function call gets cold-start deps (no warm caches),
 * the worst case for request counts.
 */
async function runPipeline(store: CountingStore, inputs: MemoryInputs, key: string, options: { fanin: number; seed: number; duplicateEvery?: number; uploadEvents?: number }) {
  type Event = { kind: 'created'; key: string } | { kind: 'slice'; task: SliceTask } | { kind: 'upload' };
  const queue: Event[] = [];
  let rng = options.seed;
  const random = (): number => ((rng = (rng * 1103515245 + 12345) % 2147483648) / 2147483648);
  let delivered = 0;
  const enqueue = (e: Event): void => {
    queue.push(e);
    if (options.duplicateEvery && ++delivered % options.duplicateEvery === 0) queue.push(e);
  };
  store.onCreated = (k) => enqueue({ kind: 'created', key: k });
  const invoker = { invoke: async (task: SliceTask) => enqueue({ kind: 'slice', task }) };
  const deps = () => ({ store, inputs, invoker, defaults: { analysis: 'sum', maxSlices: 10_000, sliceBytes: 1 }, fanin: options.fanin, limits: { ...DEFAULT_LIMITS, minSliceBytes: 1 }, manifests: new ManifestReader(store, 0) });
  const outcomes: Record<string, number> = {};
  // Lambda invocations: the coordinator's (one per upload event), the workers', the merger's.
  const invocations = { coordinator: 1, worker: 0, merger: 0 };
  // Each delivery is an invocation of its own (Lambda's request id).
  let deliveries = 0;
  const start = await startJob(deps(), { bucket: BUCKET, key, invocation: `coordinator-${++deliveries}` });
  // The upload's event delivered again, while the job runs.
  for (let n = 1; n < (options.uploadEvents ?? 1); n++) queue.push({ kind: 'upload' });
  while (queue.length > 0) {
    const i = Math.floor(random() * queue.length);
    const e = queue[i]!;
    queue[i] = queue[queue.length - 1]!;
    queue.pop();
    let outcome: string;
    const invocation = `invocation-${++deliveries}`;
    if (e.kind === 'slice') {
      invocations.worker++;
      outcome = (await scanSliceTask(deps(), e.task, { invocation })).outcome;
    } else if (e.kind === 'upload') {
      invocations.coordinator++;
      outcome = (await startJob(deps(), { bucket: BUCKET, key, invocation })).outcome;
    } else if (routeFor(e.key)?.target === 'merger') {
      invocations.merger++;
      outcome = (await onNodeCreated(deps(), e.key)).outcome;
    } else continue;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  }
  return { start, outcomes, invocations };
}

describe('merger', () => {
  let npy: Uint8Array;
  let csv: Uint8Array;
  let expectedSum: number;
  beforeAll(() => {
    const made = python<{ npy: string; csv: string; fsum: number }>(
      `import io, base64
rng = np.random.default_rng(7)
a = rng.standard_normal(20000) * 10.0 ** rng.integers(-8, 9, 20000)
buf = io.BytesIO(); np.save(buf, a)
csv = "".join(repr(float(x)) + "\\n" for x in a)
print(json.dumps({"npy": base64.b64encode(buf.getvalue()).decode(), "csv": csv, "fsum": math.fsum(a.tolist())}))`,
    );
    npy = Buffer.from(made.npy, 'base64');
    csv = new TextEncoder().encode(made.csv);
    expectedSum = made.fsum;
  });

  it('cuts a framed .npy on frame boundaries for rg, and gives numpy\'s per-frame series', async () => {
    const made = python<{ npy: string; rg: number[] }>(
      `import io, base64
a = np.random.default_rng(4).normal(0, 5, (37, 11, 3))
buf = io.BytesIO(); np.save(buf, a)
c = a - a.mean(axis=1, keepdims=True)
print(json.dumps({"npy": base64.b64encode(buf.getvalue()).decode(), "rg": np.sqrt((c ** 2).sum(axis=2).mean(axis=1)).tolist()}))`,
    );
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add(BUCKET, 'input/traj.npy', Buffer.from(made.npy, 'base64'), { 'fanout-analysis': 'rg' });
    const { start } = await runPipeline(store, inputs, 'input/traj.npy', { fanin: 3, seed: 5 });
    expect(start).toMatchObject({ outcome: 'started' });
    const doc = JSON.parse(store.text('results/traj.npy.json')!);
    expect(doc.result.frames).toBe(37);
    doc.result.rg.forEach((r: number, i: number) => expect(Math.abs(r - made.rg[i]!)).toBeLessThan(1e-12 * made.rg[i]!));
  });

  it.each([5, 6])('chains rmsf: the first stage\'s merger starts the second once, whatever the order and duplicates of events (seed %i)', async (seed) => {
    const made = python<{ npy: string }>(
      `import io, base64
rng = np.random.default_rng(9)
a = (rng.normal(0, 5, (1, 13, 3)) + rng.normal(0, 0.5, (41, 13, 3)).cumsum(axis=0)).astype(np.float32)
buf = io.BytesIO(); np.save(buf, a)
print(json.dumps({"npy": base64.b64encode(buf.getvalue()).decode()}))`,
    );
    const bytes = Buffer.from(made.npy, 'base64');
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add(BUCKET, 'input/fit.npy', bytes, { 'fanout-analysis': 'rmsf', 'fanout-option-ref-frame': '3' });
    const { start, outcomes } = await runPipeline(store, inputs, 'input/fit.npy', { fanin: 3, seed, duplicateEvery: 4 });
    expect(start).toMatchObject({ outcome: 'started' });
    const doc = JSON.parse(store.text('results/fit.npy.json')!);
    expect(doc.analysis).toBe('rmsf');
    // the chain as the local runtime runs it
    const first = await runInProcess(new MemorySource(bytes, 'fit.npy'), rmsfAverage, { slices: 4 }, 1, { 'ref-frame': '3' });
    const second = await runInProcess(new MemorySource(bytes, 'fit.npy'), rmsf, { slices: 3 }, 1, chainedOptions(rmsf, { 'ref-frame': '3' }, { result: first.result } as unknown as ResultDocument));
    expect(doc.result).toEqual(second.result);
    const firstJob = (start as { jobId: string }).jobId;
    expect(JSON.parse(store.text(statusKey(firstJob))!)).toMatchObject({ state: 'done', next: doc.job });
    expect(JSON.parse(store.text(statusKey(doc.job))!)).toMatchObject({ state: 'done', resultKey: 'results/fit.npy.json' });
    // one second job: its manifest, and one result each
    expect([...store.objects.keys()].filter((k) => k.endsWith('/manifest.json'))).toHaveLength(2);
    expect(outcomes.done).toBeGreaterThanOrEqual(2);
  });

  it('merges 10,000 slices with a constant number of store requests per slice', async () => {
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    // Text: the binary reader allocates a full read block per slice, which makes
    // 10,000 tiny binary slices slow to scan, and the scan is not what is measured here.
    inputs.add(BUCKET, 'input/big.csv', csv);
    const { start, outcomes } = await runPipeline(store, inputs, 'input/big.csv', { fanin: 32, seed: 1 });
    expect(start).toMatchObject({ outcome: 'started', slices: 10_000 });
    const jobId = (start as { jobId: string }).jobId;
    const doc = JSON.parse(store.text('results/big.csv.json')!);
    expect(doc.result.sum).toBe(expectedSum);
    expect(store.text('results/big.csv.json')).toBe(store.text(resultKey(jobId)));
    expect(JSON.parse(store.text(statusKey(jobId))!).state).toBe('done');
    expect(outcomes.done).toBe(1);

    const perSlice = store.total / 10_000;
    const readsPerSlice = inputs.reads / 10_000;
    console.log(
      `10,000 slices, fan-in 32 (levels ${levelSizes(10_000, 32).join(' -> ')}): ${store.total} store requests = ${perSlice.toFixed(3)} per slice ` +
        `(${JSON.stringify(store.counts)}), plus ${readsPerSlice.toFixed(2)} input reads per slice`,
    );
    expect(perSlice).toBeLessThan(8);
    expect(readsPerSlice).toBeLessThanOrEqual(1.01);
  });

  it('runs 4,096 slices with at most 1.1 Lambda invocations per slice; a duplicate upload event while it runs invokes no slice again', async () => {
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add(BUCKET, 'input/big.csv', csv, { 'fanout-max-slices': '4096' });
    // The deployment's defaults: fan-in 32, at most 100 workers of a job at once (chains of 41 slices).
    const { start, invocations } = await runPipeline(store, inputs, 'input/big.csv', { fanin: 32, seed: 2, uploadEvents: 3 });
    expect(start).toMatchObject({ outcome: 'started', slices: 4096 });
    expect(JSON.parse(store.text('results/big.csv.json')!).result.sum).toBe(expectedSum);
    const total = invocations.coordinator + invocations.worker + invocations.merger;
    console.log(`4,096 slices, fan-in 32, 3 upload events: ${JSON.stringify(invocations)} = ${total} invocations, ${(total / 4096).toFixed(3)} per slice`);
    // Every slice scanned once; the merger once per node above the slices (128 + 4).
    expect(invocations).toEqual({ coordinator: 3, worker: 4096, merger: levelSizes(4096, 32).slice(1).reduce((a, b) => a + b, 0) });
    expect(total / 4096).toBeLessThanOrEqual(1.1);
  });

  it('invokes N + a few workers when the upload event arrives twice while the first workers run (10 slices; was 20)', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const store = new CountingStore();
      const inputs = new MemoryInputs();
      inputs.add(BUCKET, 'input/ten.csv', new TextEncoder().encode(Array.from({ length: 400 }, (_, i) => `${i}\n`).join('')), { 'fanout-max-slices': '10' });
      const { start, invocations, outcomes } = await runPipeline(store, inputs, 'input/ten.csv', { fanin: 4, seed, uploadEvents: 2 });
      expect(start).toMatchObject({ slices: 10 });
      expect(invocations.worker, JSON.stringify(outcomes)).toBe(10);
    }
  });

  it.each([
    { fanin: 2, seed: 3 },
    { fanin: 3, seed: 4 },
    { fanin: 7, seed: 5 },
  ])('gives the exact sum under shuffled and duplicated events (fan-in $fanin)', async ({ fanin, seed }) => {
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add(BUCKET, 'input/a b+c.npy', npy, { 'fanout-max-slices': '50' });
    const { start, outcomes } = await runPipeline(store, inputs, 'input/a b+c.npy', { fanin, seed, duplicateEvery: 3 });
    expect(start).toMatchObject({ outcome: 'started', slices: 50 });
    expect(JSON.parse(store.text('results/a b+c.npy.json')!).result.sum).toBe(expectedSum);
    expect(outcomes.done).toBe(1);
  });

  it('never writes a result for a job with a failed slice', async () => {
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    const text = new TextEncoder().encode(Array.from({ length: 400 }, (_, i) => (i === 321 ? '12abc' : String(i))).join('\n') + '\n');
    inputs.add(BUCKET, 'input/bad.csv', text, { 'fanout-max-slices': '8' });
    const { start, outcomes } = await runPipeline(store, inputs, 'input/bad.csv', { fanin: 2, seed: 9 });
    const jobId = (start as { jobId: string }).jobId;
    const status = JSON.parse(store.text(statusKey(jobId))!);
    const badOffset = text.indexOf(new TextEncoder().encode('12abc')[0]!, new TextEncoder().encode(Array.from({ length: 321 }, (_, i) => String(i)).join('\n')).length);
    expect(status).toMatchObject({ state: 'failed', slice: expect.any(Number) });
    expect(status.reason).toContain(`at byte ${badOffset}`);
    expect(store.text('results/bad.csv.json')).toBeUndefined();
    expect(store.text(resultKey(jobId))).toBeUndefined();
    expect(outcomes.failed).toBe(1);
  });

  it('marks the job failed from the on-failure record of a slice that kept failing', async () => {
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add(BUCKET, 'input/x.csv', new TextEncoder().encode('1\n2\n3\n'));
    const deps = { store, inputs, invoker: { invoke: async () => {} }, defaults: { analysis: 'sum' }, fanin: 4, manifests: new ManifestReader(store, 0) };
    const start = await startJob(deps, { bucket: BUCKET, key: 'input/x.csv' });
    const jobId = (start as { jobId: string }).jobId;
    const record = (payload: unknown) =>
      JSON.stringify({
        requestContext: { functionArn: 'arn:aws:lambda:eu-west-1:1:function:worker', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
        requestPayload: payload,
        responsePayload: { errorType: 'Error', errorMessage: 'out of memory' },
      });
    expect(await onFailureRecord(deps, record({ jobId, index: 0 }))).toEqual({ outcome: 'failure-recorded', jobId, index: 0, reason: 'Error: out of memory (after 3 attempts)' });
    expect(JSON.parse(store.text(statusKey(jobId))!)).toMatchObject({ state: 'failed', slice: 0, reason: 'Error: out of memory (after 3 attempts)' });
    expect(await onFailureRecord(deps, 'not json')).toMatchObject({ outcome: 'failure-logged', rejected: expect.any(String) });
    expect(await onFailureRecord(deps, record({ something: 'else' }))).toMatchObject({ outcome: 'failure-logged', functionArn: 'arn:aws:lambda:eu-west-1:1:function:worker' });
  });

  it('marks the job failed from its status when its manifest cannot be read (it stayed running)', async () => {
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add(BUCKET, 'input/x.csv', new TextEncoder().encode('1\n2\n3\n'));
    const deps = { store, inputs, invoker: { invoke: async () => {} }, defaults: { analysis: 'sum' }, fanin: 4, manifests: new ManifestReader(store, 0) };
    const jobId = ((await startJob(deps, { bucket: BUCKET, key: 'input/x.csv' })) as { jobId: string }).jobId;
    // A manifest this version cannot read (a format it does not know): every worker fails on it.
    const manifest = JSON.parse(store.text(manifestKey(jobId))!);
    await store.put(manifestKey(jobId), JSON.stringify({ ...manifest, spec: { ...manifest.spec, format: 'parquet' } }));
    const record = JSON.stringify({
      requestContext: { functionArn: 'arn:aws:lambda:eu-west-1:1:function:worker', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { jobId, index: 0 },
      responsePayload: { errorType: 'DocumentError', errorMessage: 'not a job manifest' },
    });
    expect(await onFailureRecord(deps, record)).toMatchObject({ outcome: 'failure-recorded', jobId, index: 0 });
    expect(JSON.parse(store.text(statusKey(jobId))!)).toMatchObject({ state: 'failed', slice: 0, input: { bucket: BUCKET, key: 'input/x.csv' }, reason: expect.stringMatching(/^the job's manifest cannot be read: .*manifest\.json: not a job manifest/) });
  });

  it.each([
    ['merger', (jobId: string) => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key: `jobs/${jobId}/tree/1/00000000/00000000.partial.json` } } }] }), 'the merge of'],
    ['coordinator', () => ({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key: 'input/x.csv' } } }] }), 'the coordinator failed for s3://bucket/input/x.csv'],
  ])('marks the job failed from the on-failure record of a %s that failed for good (it would stay running for ever)', async (fn, payload, reason) => {
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add(BUCKET, 'input/x.csv', new TextEncoder().encode('1\n2\n3\n'));
    const deps = { store, inputs, invoker: { invoke: async () => {} }, defaults: { analysis: 'sum' }, fanin: 4, manifests: new ManifestReader(store, 0) };
    const { jobId } = (await startJob(deps, { bucket: BUCKET, key: 'input/x.csv' })) as { jobId: string };
    const record = JSON.stringify({
      requestContext: { functionArn: `arn:aws:lambda:eu-west-1:1:function:${fn}`, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: payload(jobId),
      responsePayload: { errorType: 'Error', errorMessage: 'S3 is down' },
    });
    expect(await onFailureRecord(deps, record)).toEqual({ outcome: 'failure-recorded', function: fn, jobs: [jobId], reason: 'Error: S3 is down (after 3 attempts)' });
    const status = JSON.parse(store.text(statusKey(jobId))!);
    expect(status.state).toBe('failed');
    expect(status.reason).toContain(reason);
    expect(status.reason).toContain('S3 is down');
  });

  it('says in the input pointer why no job started when the coordinator failed for good before planning', async () => {
    const store = new CountingStore();
    const deps = { store, manifests: new ManifestReader(store, 0) };
    const record = JSON.stringify({
      requestContext: { functionArn: 'arn:aws:lambda:eu-west-1:1:function:coordinator', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: BUCKET }, object: { key: 'input/y.csv', eTag: 'abc', sequencer: '0A' } } }] },
      responsePayload: { errorType: 'Error', errorMessage: 'S3 is down' },
    });
    expect(await onFailureRecord(deps, record)).toMatchObject({ outcome: 'failure-recorded', function: 'coordinator' });
    expect(JSON.parse(store.text('jobs/inputs/y.csv.json')!)).toMatchObject({ state: 'failed', reason: expect.stringContaining('S3 is down'), input: { etag: 'abc' } });
  });
});
