/**
 * Stragglers and redrive end to end through the real handlers (`fanout dev`'s dispatcher on
 * moto), with faults injected into their dependencies (test/helpers/faults.ts):
 * - every slice's scan stalls SLICE_MS (a delay on its read), and one slice's first scan
 *   ten times as long, and longer until the result is out: the job must not wait for it
 *   (its backup lands first);
 * - a slice that fails past its retries fails the job; `fanout redrive`'s request then
 *   runs only the missing slices and the job ends done with its result published.
 * Wall times are printed for the record, never asserted.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerDeps } from '../../functions/runtime.ts';
import { S3Store } from '../../lib/cloud/aws/s3-store.ts';
import { followJob, requestRedrive } from '../../lib/cloud/client.ts';
import { decodeManifest } from '../../lib/job/documents.ts';
import { manifestKey } from '../../lib/job/keys.ts';
import { sliceBounds } from '../../lib/core/plan.ts';
import { Faults, type FaultRule, FaultyInputs, FaultyStore } from '../helpers/faults.ts';
import { type PipelineOnMoto, startPipelineOnMoto } from '../helpers/moto.ts';
import { python } from '../helpers/python.ts';

const BUCKET = 'fanout-tail';
const SLICE_MS = 400;
const SLICES = 16;
const HEADER = 128;
const SLICE_BYTES = 8000;
/** The slice starts this test assumes (checked against the manifest): header + k * slice bytes. */
const sliceAt = (offset: number): number | undefined => ((offset - HEADER) % SLICE_BYTES === 0 && offset >= HEADER ? (offset - HEADER) / SLICE_BYTES : undefined);
const offsetOf = (key: string): number => Number(key.slice(key.lastIndexOf('@') + 1));

/** What the test changes between its runs: the faults the handlers' dependencies go through. */
const control: { key?: string; inputs: Faults; store: Faults; slowDone: boolean } = { inputs: new Faults(), store: new Faults(), slowDone: false };

describe('stragglers and redrive through the real handlers on moto', () => {
  let env: PipelineOnMoto;
  let store: S3Store;
  let data: { npy: string; fsum: number };

  beforeAll(async () => {
    data = python<{ npy: string; fsum: number }>(`import io, base64
a = np.random.default_rng(77).standard_normal(${(SLICES * SLICE_BYTES) / 8}) * 10.0 ** np.random.default_rng(78).integers(-6, 7, ${(SLICES * SLICE_BYTES) / 8})
buf = io.BytesIO(); np.save(buf, a)
print(json.dumps({"npy": base64.b64encode(buf.getvalue()).decode(), "fsum": math.fsum(a.tolist())}))`);
    env = await startPipelineOnMoto({
      bucket: BUCKET,
      // 16 slices of SLICE_BYTES: the planner cuts the whole file (header included) into equal slices.
      defaults: { analysis: 'sum', sliceBytes: SLICE_BYTES + 8, maxWorkers: 4 },
      fanin: 4,
      workerConcurrency: 4,
      wrapDeps: (deps: HandlerDeps & { invoker?: unknown }) => ({ ...deps, inputs: new FaultyInputs(deps.inputs, control.inputs), store: new FaultyStore(deps.store, control.store) }) as HandlerDeps,
    });
    store = new S3Store(env.s3, BUCKET);
  }, 60_000);

  afterAll(async () => {
    await env?.stop();
  });

  /** Uploads the data under `key` and follows its job to the result; returns the job, its result and the wall time. */
  async function runOnce(key: string): Promise<{ job: string; sum: number; ms: number; publishedWhileSlow: boolean }> {
    const started = Date.now();
    await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from(data.npy, 'base64') }));
    let job: string | undefined;
    for (let i = 0; i < 600 && !job; i++) {
      const p = await env.text(`jobs/inputs/${key.slice('input/'.length)}.json`);
      if (p) job = (JSON.parse(p) as { job: string }).job;
      else await new Promise((r) => setTimeout(r, 100));
    }
    const doc = await followJob(store, job!, () => {}, { pollMs: 100, deadline: Date.now() + 120_000 });
    const publishedWhileSlow = !control.slowDone;
    const ms = Date.now() - started;
    const spec = decodeManifest((await store.get(manifestKey(job!)))!, 'manifest').spec;
    expect(Array.from({ length: spec.sliceCount }, (_, i) => sliceBounds(spec, i).start)).toEqual(Array.from({ length: SLICES }, (_, i) => HEADER + i * SLICE_BYTES));
    return { job: job!, sum: (doc.result as { sum: number }).sum, ms, publishedWhileSlow };
  }

  it('a slice ten times slower than its peers is backed up: the job does not wait for it', async () => {
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    const slice: FaultRule = { op: 'read', where: (c) => sliceAt(offsetOf(c.key)) !== undefined, fault: { type: 'delay', ms: SLICE_MS } };
    control.inputs = new Faults([slice], { sleep });
    const normal = await runOnce('input/normal.npy');
    await env.settle();
    expect(normal.sum).toBe(data.fsum);

    // Slice 5's first scan stalls until the test lets it go (after the result, or a minute):
    // at least ten slice times, however slow the machine is today.
    control.slowDone = false;
    let release = (): void => {};
    const released = new Promise<void>((r) => (release = r));
    const slow: FaultRule = { op: 'read', where: (c) => sliceAt(offsetOf(c.key)) === 5, nth: 1, fault: { type: 'delay', ms: 10 * SLICE_MS } };
    control.inputs = new Faults([slow, slice], {
      sleep: async (ms) => {
        if (ms !== 10 * SLICE_MS) return sleep(ms);
        await Promise.all([sleep(ms), Promise.race([released, sleep(60_000)])]);
        control.slowDone = true;
      },
    });
    const straggling = await runOnce('input/straggler.npy');
    release();
    expect(straggling.sum).toBe(data.fsum);
    // The result was published while the straggler's first scan still stalled: its backup won.
    expect(straggling.publishedWhileSlow).toBe(true);
    const status = JSON.parse((await env.text(`jobs/${straggling.job}/status.json`))!) as { state: string; backups?: number };
    expect(status.state).toBe('done');
    expect(status.backups).toBeGreaterThanOrEqual(1);
    // Slice 5 scanned twice (the stalled run and its backup); every scan beyond one a slice is
    // a counted backup (on a loaded machine a slice of normal speed may look slow too).
    const scans = Array.from({ length: SLICES }, () => 0);
    for (const c of control.inputs.log) if (c.op === 'read' && sliceAt(offsetOf(c.key)) !== undefined) scans[sliceAt(offsetOf(c.key))!]!++;
    expect(scans[5]).toBe(2);
    expect(Math.min(...scans)).toBe(1);
    expect(scans.reduce((a, b) => a + b, 0) - SLICES).toBe(status.backups);
    await env.settle();
    process.stderr.write(`[moto-tail] 16 slices, 4 workers, ${SLICE_MS} ms a slice: normal job ${normal.ms} ms; slice 5 ten times slower: ${straggling.ms} ms (${(straggling.ms / normal.ms).toFixed(2)}x)\n`);
  }, 180_000);

  it('fanout redrive runs only the missing slices of a failed job and publishes its result', async () => {
    let broken = true;
    control.inputs = new Faults();
    // Slice 6's partial cannot be written, past the retries: the job fails, and its chain (6, 10, 14) stops there.
    control.store = new Faults([{ op: 'putIfAbsent', key: /\/tree\/0\/\d{8}\/00000006\.leaf\.json$/, where: () => broken, fault: { type: 'throw' } }]);
    const key = 'input/redriven.npy';
    await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from(data.npy, 'base64') }));
    let job: string | undefined;
    for (let i = 0; i < 600 && !job; i++) {
      const p = await env.text('jobs/inputs/redriven.npy.json');
      if (p) job = (JSON.parse(p) as { job: string }).job;
      else await new Promise((r) => setTimeout(r, 100));
    }
    await expect(followJob(store, job!, () => {}, { pollMs: 100, deadline: Date.now() + 120_000 })).rejects.toThrow(/failed at slice 6/);
    await env.settle();
    expect(await env.text('results/redriven.npy.json')).toBeUndefined();

    broken = false;
    control.inputs = new Faults();
    const answer = await requestRedrive(store, job!, { pollMs: 100, deadline: Date.now() + 60_000 });
    expect(answer).toMatchObject({ outcome: 'redriven', invoked: 1, merges: 0 });
    const doc = await followJob(store, job!, () => {}, { pollMs: 100, deadline: Date.now() + 120_000 });
    expect((doc.result as { sum: number }).sum).toBe(data.fsum);
    await env.settle();
    const published = JSON.parse((await env.text('results/redriven.npy.json'))!) as { job: string; result: { sum: number } };
    expect(published).toMatchObject({ job, result: { sum: data.fsum } });
    // Only slices 6, 10 and 14 were scanned again.
    const scanned = [...new Set(control.inputs.log.filter((c) => c.op === 'read').map((c) => sliceAt(offsetOf(c.key))))].sort((a, b) => a! - b!);
    expect(scanned).toEqual([6, 10, 14]);
    // Done: a second redrive is refused.
    await expect(requestRedrive(store, job!)).rejects.toThrow(/is done: nothing to redrive/);
  }, 180_000);
});
