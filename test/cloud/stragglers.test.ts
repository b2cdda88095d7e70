/**
 * Backup tasks for stragglers, measured in virtual time: the pipeline's use cases over the
 * counting fakes, where every slice's scan takes one slice time (a delay fault on its
 * first read, test/helpers/faults.ts) and one slice's first run takes ten. The clock only
 * moves when every function is waiting on it, so the job's duration is exact and no test
 * waits on the wall clock.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { startJob } from '../../lib/cloud/coordinator.ts';
import { onNodeCreated } from '../../lib/cloud/merger.ts';
import { runWorkerTask, splitPoint, tailSegments } from '../../lib/cloud/stragglers.ts';
import { nodeKey, tailClaimKey } from '../../lib/job/keys.ts';
import { routeFor } from '../../lib/cloud/topology.ts';
import { scanSliceTask } from '../../lib/cloud/worker.ts';
import { sliceBounds } from '../../lib/core/plan.ts';
import { decodeManifest, ManifestReader } from '../../lib/job/documents.ts';
import { resultKeyForInput, statusKey } from '../../lib/job/keys.ts';
import { DEFAULT_LIMITS } from '../../lib/job/options.ts';
import type { SliceTask } from '../../lib/job/ports.ts';
import { Faults, FaultyInputs, FaultyStore, type FaultRule } from '../helpers/faults.ts';
import { python } from '../helpers/python.ts';
import { CountingStore, MemoryInputs } from './fakes.ts';

const BUCKET = 'bucket';
const KEY = 'input/x.npy';
/** one slice time, in virtual ms */
const SLICE_MS = 1000;

/** A clock that moves to the next timer only once every task is waiting on one. */
class VirtualClock {
  t = 0;
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  now = (): number => this.t;
  sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, resolve });
    });
  /** Runs until no timer is left: one timer at a time, in time order, everything else settling in between. */
  async run(limit = 1_000_000): Promise<void> {
    for (let n = 0; n < limit; n++) {
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      if (this.timers.length === 0) return;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.t = next.at;
      next.resolve();
    }
    throw new Error('the clock ran too long');
  }
}

interface Run {
  makespanMs: number;
  sum: number;
  status: { state: string; backups?: number };
  /** scans started per slice */
  scans: number[];
  /** the most slices scanning at once */
  maxScanning: number;
  /** invocations per slice (the coordinator's chain heads, then each chain's next slice) */
  invoked: number[];
  errors: string[];
}

/**
 * The whole pipeline in virtual time: `slow` is the slice whose first scan takes ten slice
 * times; `helpers: false` runs workers without the tail helpers (scanSliceTask alone).
 */
async function runJob(npy: Uint8Array, opts: { slices: number; maxWorkers: number; slow?: number; helpers?: boolean }): Promise<Run> {
  const clock = new VirtualClock();
  const store = new CountingStore();
  const memory = new MemoryInputs();
  memory.add(BUCKET, KEY, npy);
  const errors: string[] = [];
  let scanning = 0;
  let maxScanning = 0;
  const sleep = async (ms: number): Promise<void> => {
    scanning++;
    maxScanning = Math.max(maxScanning, scanning);
    await clock.sleep(ms);
    scanning--;
  };
  // Slice starts, from the manifest once the coordinator wrote it (before any worker reads).
  let starts: Map<number, number> | undefined;
  const sliceAt = (key: string): number | undefined => {
    if (!starts) {
      // The coordinator's own reads (planning) come before the manifest.
      const key = [...store.objects.keys()].find((k) => k.endsWith('/manifest.json'));
      if (!key) return undefined;
      const spec = decodeManifest(store.objects.get(key)!, key).spec;
      starts = new Map(Array.from({ length: spec.sliceCount }, (_, i) => [sliceBounds(spec, i).start, i]));
    }
    return starts.get(Number(key.slice(key.lastIndexOf('@') + 1)));
  };
  const rules: FaultRule[] = [];
  if (opts.slow !== undefined) rules.push({ op: 'read', where: (c) => sliceAt(c.key) === opts.slow, nth: 1, fault: { type: 'delay', ms: 10 * SLICE_MS } });
  rules.push({ op: 'read', where: (c) => sliceAt(c.key) !== undefined, fault: { type: 'delay', ms: SLICE_MS } });
  const faults = new Faults(rules, { sleep });
  const inputs = new FaultyInputs(memory, faults);
  let makespanMs = -1;
  const spawn = (p: Promise<unknown>): void => void p.catch((e: unknown) => errors.push(String(e)));
  // One invocation's dependencies: a cold container each time (its manifest cache holds only what this invocation read).
  // A worker invokes the next slice of its chain itself (afterLeaf, lib/cloud/advance.ts); each invocation has its own id.
  let invocations = 0;
  const invoked = Array.from({ length: opts.slices }, () => 0);
  const invoker = {
    invoke: async (task: SliceTask) => {
      invoked[task.index]!++;
      const invocation = `invocation-${++invocations}`;
      spawn(opts.helpers === false ? scanSliceTask(workerDeps(), task, { invocation }) : runWorkerTask(workerDeps(), task, { invocation }));
    },
  };
  const workerDeps = () => ({ store, inputs, manifests: new ManifestReader(store), invoker, now: clock.now, sleep: clock.sleep });
  store.onCreated = (key) => {
    if (key === resultKeyForInput(KEY) && makespanMs < 0) makespanMs = clock.t;
    if (routeFor(key)?.target === 'merger') spawn(onNodeCreated({ store, manifests: new ManifestReader(store, 0), invoker, now: clock.now }, key));
  };
  const sliceBytes = Math.ceil(npy.length / opts.slices / 8) * 8;
  const start = await startJob(
    { store, inputs, invoker, defaults: { analysis: 'sum', sliceBytes, maxWorkers: opts.maxWorkers }, fanin: 4, limits: { ...DEFAULT_LIMITS, minSliceBytes: 1 }, now: clock.now },
    { bucket: BUCKET, key: KEY },
  );
  if (start.outcome !== 'started') throw new Error(`no job: ${start.outcome}`);
  const jobId = start.jobId;
  expect(start.slices).toBe(opts.slices);
  await clock.run();
  const scans = Array.from({ length: opts.slices }, () => 0);
  for (const c of faults.log) if (c.op === 'read' && sliceAt(c.key) !== undefined) scans[sliceAt(c.key)!]!++;
  const result = JSON.parse(store.text(resultKeyForInput(KEY)) ?? '{"result":{"sum":null}}') as { result: { sum: number } };
  return { makespanMs, sum: result.result.sum, status: JSON.parse(store.text(statusKey(jobId))!), scans, maxScanning, invoked, errors };
}

describe('tailSegments', () => {
  it('finds the running slice of each chain and the slices queued behind it, split claims included', () => {
    // 12 slices in 3 chains: chain 0 done, chain 1 stuck at 4 (1 landed), chain 2 at 8 with a split at... none.
    const present = new Set([0, 3, 6, 9, 1, 2, 5]);
    expect(tailSegments(12, 3, present, new Set())).toEqual([
      { head: 4, queue: [7, 10] },
      { head: 8, queue: [11] },
    ]);
    expect(tailSegments(12, 3, present, new Set([10]))).toEqual([
      { head: 4, queue: [7] },
      { head: 8, queue: [11] },
      { head: 10, queue: [] },
    ]);
  });
});

describe('splitPoint', () => {
  it.each([
    [{ head: 1, queue: [5, 9, 13, 17, 21] }, 2, 17],
    [{ head: 1, queue: [5, 9, 13] }, 1, 9],
    [{ head: 1, queue: [5, 9, 13] }, 3, 13],
    // never the slice right behind the head: the head may land any moment
    [{ head: 1, queue: [5] }, 1, undefined],
    [{ head: 1, queue: [5, 9] }, 1, 9],
    [{ head: 1, queue: [] }, 3, undefined],
  ])('splits %j among %i free slots at %s', (segment, free, expected) => {
    expect(splitPoint(segment, free)).toBe(expected);
  });
});

describe('stragglers (virtual time)', () => {
  let npy: Uint8Array;
  let fsum: number;
  beforeAll(() => {
    const made = python<{ npy: string; fsum: number }>(`import io, base64
a = np.random.default_rng(18).standard_normal(24 * 500) * 10.0 ** np.random.default_rng(19).integers(-6, 7, 24 * 500)
buf = io.BytesIO(); np.save(buf, a)
print(json.dumps({"npy": base64.b64encode(buf.getvalue()).decode(), "fsum": math.fsum(a.tolist())}))`);
    npy = Buffer.from(made.npy, 'base64');
    fsum = made.fsum;
  });

  it('a normal job of 24 slices on 4 workers takes 6 slice times, each slice scanned once', async () => {
    const r = await runJob(npy, { slices: 24, maxWorkers: 4 });
    expect(r.errors).toEqual([]);
    expect(r.makespanMs).toBe(6 * SLICE_MS);
    expect(r.sum).toBe(fsum);
    expect(r.scans).toEqual(Array(24).fill(1));
    expect(r.status.backups).toBeUndefined();
  });

  it.each([1, 5, 9, 14, 21, 23])('with slice %i ten times slower, the job takes at most 1.5 times as long, one backup, within maxWorkers', async (slow) => {
    const r = await runJob(npy, { slices: 24, maxWorkers: 4, slow });
    expect(r.errors).toEqual([]);
    expect(r.sum).toBe(fsum);
    expect(r.status).toMatchObject({ state: 'done', backups: 1 });
    expect(r.makespanMs).toBeLessThanOrEqual(1.5 * 6 * SLICE_MS);
    // The straggler twice (its first run and its backup), every other slice once: no slice taken by two helpers.
    expect(r.scans).toEqual(Array.from({ length: 24 }, (_, i) => (i === slow ? 2 : 1)));
    expect(r.maxScanning).toBeLessThanOrEqual(4);
    // Only the winner of the straggler's create-only commit (its backup) continues its chain:
    // the first run, landing later, finds the leaf another invocation wrote and invokes nothing.
    expect(r.invoked).toEqual(Array(24).fill(1));
  });

  it.each([
    [100, 10, 0],
    [100, 10, 37],
    [100, 10, 95],
    [30, 8, 12],
  ])('%i slices on %i workers with slice %i ten times slower: at most 1.5 times a normal job', async (slices, maxWorkers, slow) => {
    const normal = await runJob(npy, { slices, maxWorkers });
    const r = await runJob(npy, { slices, maxWorkers, slow });
    expect(r.errors).toEqual([]);
    expect(r.sum).toBe(fsum);
    expect(r.makespanMs).toBeLessThanOrEqual(1.5 * normal.makespanMs);
    expect(r.maxScanning).toBeLessThanOrEqual(maxWorkers);
    expect(r.invoked).toEqual(Array(slices).fill(1));
  });

  it('without the tail helpers the same job waits for the straggler (the check above can fail)', async () => {
    const r = await runJob(npy, { slices: 24, maxWorkers: 4, slow: 5, helpers: false });
    expect(r.sum).toBe(fsum);
    expect(r.makespanMs).toBeGreaterThan(1.5 * 6 * SLICE_MS);
  });
});

describe('a tail helper retried after a crash', () => {
  it('finishes what follows the commit of a backup leaf it wrote: its group merged, the next slice of its chain invoked', async () => {
    const made = python<{ npy: string }>(`import io, base64
buf = io.BytesIO(); np.save(buf, np.arange(8 * 100, dtype=np.float64))
print(json.dumps({"npy": base64.b64encode(buf.getvalue()).decode()}))`);
    const npy = Buffer.from(made.npy, 'base64');
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add(BUCKET, KEY, npy);
    const invoked: number[] = [];
    const invoker = { invoke: async (t: SliceTask) => void invoked.push(t.index) };
    const sliceBytes = Math.ceil(npy.length / 8 / 8) * 8;
    const start = await startJob({ store, inputs, invoker, defaults: { analysis: 'sum', sliceBytes, maxWorkers: 2 }, fanin: 4, limits: { ...DEFAULT_LIMITS, minSliceBytes: 1 } }, { bucket: BUCKET, key: KEY });
    if (start.outcome !== 'started') throw new Error(start.outcome);
    const job = start.jobId;
    expect(start.slices).toBe(8);
    const deps = (s: CountingStore | FaultyStore = store) => ({ store: s, inputs, manifests: new ManifestReader(s), invoker });
    // Chains 0, 2, 4, 6 and 1, 3, 5, 7 (2 workers); groups 0-3 and 4-7 (fan-in 4).
    for (const i of [0, 1, 2]) await scanSliceTask(deps(), { jobId: job, index: i }, { invocation: `a${i}` });
    // Invocation H ran slice 7 (its chain's last), became a helper and backed up slice 3:
    // its leaf committed, then the invocation crashed before listing its group.
    await scanSliceTask(deps(), { jobId: job, index: 7 }, { invocation: 'H' });
    await store.putIfAbsent(tailClaimKey(job, 1, 'backup', 3), '{"at":1}');
    const crashing = new FaultyStore(store, new Faults([{ op: 'list', fault: { type: 'throw' } }]));
    await expect(scanSliceTask(deps(crashing), { jobId: job, index: 3 }, { invocation: 'H' })).rejects.toThrow();
    expect(await store.head(nodeKey(job, 0, 3, 4))).toBeDefined();
    invoked.length = 0;
    // Slice 3's first run lands later and loses: it continues nothing.
    expect((await scanSliceTask(deps(), { jobId: job, index: 3 }, { invocation: 'slow' })).outcome).toBe('exists');
    expect(invoked).toEqual([]);
    // Lambda retries H: its own slice's leaf is its, and so is the backup's.
    const r = await runWorkerTask(deps(), { jobId: job, index: 7 }, { invocation: 'H' });
    expect(r).toMatchObject({ outcome: 'exists', resumed: true, resumedTail: [3] });
    expect(invoked).toEqual([5]);
    expect(await store.head(nodeKey(job, 1, 0, 4))).toBeDefined();
  });
});
