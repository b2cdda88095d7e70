/**
 * The cloud pipeline's use cases over the local directory store, with faults injected
 * at the ports: every test ends by comparing the final state (the result under
 * results/, the job's own result, its status, its set of partials) with a clean run of
 * the same input, and the sum with math.fsum.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Faults, type FaultRule, FaultyInputs, FaultyInvoker, FaultyStore } from '../helpers/faults.ts';
import { LocalDirStore } from '../../lib/local/local-store.ts';
import { manifestKey, resultKey, statusKey } from '../../lib/job/keys.ts';
import { nodeKey } from '../../lib/job/keys.ts';
import { python } from '../helpers/python.ts';
import { Cloud, type CloudOptions, cleanRun, type Event, type FinalState, finalState, json, VersionedInputs } from './harness.ts';
import { DEFAULT_LIMITS, type JobOptions, type StackLimits } from '../../lib/job/options.ts';

const KEY = 'input/runs/values.txt';
const OPTIONS: Omit<CloudOptions, 'store' | 'inputs'> = { defaults: { analysis: 'sum', sliceBytes: 4096, maxSlices: 1000 }, fanin: 3 };

const roots: string[] = [];
function dirStore(): LocalDirStore {
  const root = mkdtempSync(join(tmpdir(), 'fanout-rel-'));
  roots.push(root);
  return new LocalDirStore(root);
}
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface Data {
  bytes: Uint8Array;
  fsum: number;
}
function makeData(seed: number, n: number): Data {
  const d = python<{ text: string; fsum: number }>(
    `rng = np.random.default_rng(${seed})
a = rng.standard_normal(${n}) * 10.0 ** rng.integers(-6, 7, ${n})
print(json.dumps({"text": "".join(repr(float(x)) + "\\n" for x in a), "fsum": math.fsum(a.tolist())}))`,
  );
  return { bytes: new TextEncoder().encode(d.text), fsum: d.fsum };
}

let v1: Data;
let v2: Data;
let clean1: FinalState;
let clean2: FinalState;

beforeAll(async () => {
  v1 = makeData(21, 3000);
  v2 = makeData(22, 2500);
  const a = new VersionedInputs(true);
  a.upload(KEY, v1.bytes);
  clean1 = await cleanRun(dirStore(), a, KEY, OPTIONS);
  const b = new VersionedInputs(true);
  b.upload(KEY, v1.bytes);
  b.upload(KEY, v2.bytes);
  clean2 = await cleanRun(dirStore(), b, KEY, OPTIONS);
  expect((clean1.result!.result as { sum: number }).sum).toBe(v1.fsum);
  expect((clean2.result!.result as { sum: number }).sum).toBe(v2.fsum);
  expect(clean1.leaves.length).toBeGreaterThan(9);
});

interface Setup {
  versioned?: boolean;
  store?: FaultRule[];
  invoker?: FaultRule[];
  inputs?: FaultRule[];
  seed?: number;
  /** the versions already uploaded before the one the test starts with */
  history?: Uint8Array[];
  now?: () => number;
  limits?: StackLimits;
  defaults?: JobOptions;
}

function setup(s: Setup = {}) {
  const raw = dirStore();
  const inputs = new VersionedInputs(s.versioned ?? true);
  for (const h of s.history ?? []) inputs.upload(KEY, h);
  inputs.upload(KEY, v1.bytes);
  const faults = { store: new Faults(s.store), invoker: new Faults(s.invoker), inputs: new Faults(s.inputs) };
  const cloud = new Cloud({
    ...OPTIONS,
    ...(s.defaults ? { defaults: s.defaults } : {}),
    ...(s.now ? { now: s.now } : {}),
    ...(s.limits ? { limits: s.limits } : {}),
    seed: s.seed ?? 7,
    store: raw,
    inputs: new FaultyInputs(inputs, faults.inputs),
    wrapStore: (st) => new FaultyStore(st, faults.store),
    wrapInvoker: (inv) => new FaultyInvoker(inv, faults.invoker),
  });
  return { raw, inputs, faults, cloud };
}

/** The final state equals the clean run's: same result, done, the same partials, one job. */
function expectSameAsClean(state: FinalState, clean: FinalState): void {
  expect(state.status?.state, state.status?.reason).toBe('done');
  expect(state.job).toBe(clean.job);
  expect(state.result?.result).toEqual(clean.result!.result);
  expect(state.result?.job).toBe(clean.job);
  expect(state.jobResult?.result).toEqual(clean.result!.result);
  expect(state.leaves).toEqual(clean.leaves);
}

const isSlice = (e: Event): boolean => e.kind === 'slice';

describe('duplicate delivery', () => {
  it('gives the clean result when every slice is invoked twice, one after the other', async () => {
    const { raw, cloud, faults } = setup({ invoker: [{ op: 'invoke', fault: { type: 'duplicate' } }] });
    cloud.uploaded(KEY);
    await cloud.drain();
    expect(faults.invoker.injected('duplicate').length).toBe(clean1.leaves.length);
    expect(cloud.outcomes.filter((o) => o === 'exists').length).toBe(clean1.leaves.length);
    expect(cloud.errors).toEqual([]);
    expectSameAsClean(await finalState(raw, KEY), clean1);
  });

  it('gives the clean result when every slice runs twice at the same time', async () => {
    const { raw, cloud } = setup();
    await cloud.startJob(KEY);
    const slices = cloud.take(isSlice);
    expect(slices.length).toBe(clean1.leaves.length);
    await Promise.all(slices.flatMap((e) => [cloud.handle(e), cloud.handle({ ...e })]));
    await cloud.drain();
    expect(cloud.errors).toEqual([]);
    // Both copies scanned and wrote; exactly one write of each partial created it.
    expect(cloud.created.filter((k) => k.includes('/tree/0/')).sort()).toEqual(clean1.leaves);
    expectSameAsClean(await finalState(raw, KEY), clean1);
  });
});

describe('workers that die', () => {
  it('a worker that dies mid-read is retried and the job completes', async () => {
    // The second chunk read of three different slices fails (64 KiB chunks: slices are one chunk, so use the n-th read overall).
    const { raw, cloud, faults } = setup({ inputs: [{ op: 'read', nth: [2, 5, 9], fault: { type: 'throw' } }] });
    cloud.uploaded(KEY);
    await cloud.drain();
    expect(faults.inputs.injected('throw').length).toBe(3);
    expect(cloud.errors.filter((e) => e.startsWith('InjectedFaultError')).length).toBe(3);
    expectSameAsClean(await finalState(raw, KEY), clean1);
  });

  it('a worker that dies right after writing its partial is retried, finds it and does nothing', async () => {
    const { raw, cloud, faults } = setup({ store: [{ op: 'putIfAbsent', key: /\/tree\/0\//, nth: [1, 4, 7], fault: { type: 'crash-after' } }] });
    cloud.uploaded(KEY);
    await cloud.drain();
    expect(faults.store.injected('crash-after').length).toBe(3);
    expect(cloud.outcomes.filter((o) => o === 'exists').length).toBe(3);
    expectSameAsClean(await finalState(raw, KEY), clean1);
  });

  it('a merger that dies right after writing a tree node is retried and the job completes once', async () => {
    const { raw, cloud } = setup({ store: [{ op: 'putIfAbsent', key: /\/tree\/[1-9]\//, fault: { type: 'crash-after' } }, { op: 'putIfAbsent', key: /result\.json$/, nth: 1, fault: { type: 'crash-after' } }] });
    cloud.uploaded(KEY);
    await cloud.drain();
    expect(cloud.created.filter((k) => k.endsWith('/result.json'))).toHaveLength(1);
    expectSameAsClean(await finalState(raw, KEY), clean1);
  });
});

describe('a partial rewritten with different content', () => {
  it('is detected when two scans of one slice disagree: the job fails and has no result', async () => {
    const { raw, inputs, cloud } = setup();
    // A second, racing worker for slice 1 reads different bytes under the same pin (a
    // corrupted read, or an analysis changed under the same deployment).
    await cloud.startJob(KEY);
    const slices = cloud.take(isSlice);
    const target = slices.find((e) => e.kind === 'slice' && e.task.index === 1)!;
    const original = inputs.open.bind(inputs);
    let opens = 0;
    inputs.open = (input) => {
      const src = original(input);
      if (++opens !== 2) return src;
      const chunks = src.chunks.bind(src);
      src.chunks = async function* (start: number, end: number) {
        for await (const c of chunks(start, end)) {
          const copy = c.slice();
          // A digit becomes another digit: still valid numbers, a different sum.
          for (let i = 0; i < copy.length; i++) if (copy[i]! >= 0x31 && copy[i]! <= 0x38) copy[i]!++;
          yield copy;
        }
      };
      return src;
    };
    await Promise.all([cloud.handle(target), cloud.handle({ ...target })]);
    inputs.open = original;
    cloud.queue.push(...slices.filter((e) => e !== target));
    await cloud.drain();
    const state = await finalState(raw, KEY);
    expect(state.status?.state).toBe('failed');
    expect(state.status?.slice).toBe(1);
    expect(state.status?.reason).toMatch(/already exists with different content/);
    expect(state.result).toBeUndefined();
    expect(state.jobResult).toBeUndefined();
  });
});

describe('the input overwritten while the job runs', () => {
  it.each([
    { versioned: false, reason: /overwritten after the job was planned|newer upload/ },
    { versioned: true, reason: /newer upload/ },
  ])('the first job ends superseded and the new version gets its clean result (versioned bucket: $versioned)', async ({ versioned, reason }) => {
    const { raw, inputs, cloud } = setup({ versioned });
    const first = await cloud.startJob(KEY);
    const job1 = (first as { jobId: string }).jobId;
    // Half the slices run, then the object is replaced and its event arrives.
    const slices = cloud.take(isSlice);
    for (const e of slices.slice(0, slices.length / 2)) await cloud.handle(e);
    inputs.upload(KEY, v2.bytes);
    const next = await cloud.startJob(KEY);
    // The rest of the first job's work is delivered before the new job's.
    const newer = cloud.take(() => true);
    cloud.queue.push(...slices.slice(slices.length / 2));
    await cloud.drain();
    cloud.queue.push(...newer);
    await cloud.drain();

    expect((next as { jobId: string }).jobId).not.toBe(job1);
    const status1 = json<{ state: string; reason: string }>(await raw.get(statusKey(job1)))!;
    expect(status1.state).toBe('superseded');
    expect(status1.reason).toMatch(reason);
    expect(await raw.get(resultKey(job1))).toBeUndefined();
    const state = await finalState(raw, KEY);
    expect(state.status?.state).toBe('done');
    expect(state.result?.result).toEqual(clean2.result!.result);
    expect((state.result?.result as { sum: number }).sum).toBe(v2.fsum);
  });

  it('uploading the same bytes again retries a failed job (unversioned bucket: same job id)', async () => {
    // Every read of one slice fails past Lambda's retries: the job is marked failed.
    let broken = true;
    // (Slice 1 of 4096-byte slices starts its read a little early, for the look-back.)
    const { raw, inputs, cloud } = setup({ versioned: false, inputs: [{ op: 'read', key: /@40\d\d$/, where: () => broken, fault: { type: 'throw' } }] });
    cloud.uploaded(KEY);
    await cloud.drain();
    const failed = await finalState(raw, KEY);
    expect(failed.status?.state).toBe('failed');
    expect(failed.result).toBeUndefined();
    // The cause goes away; the user uploads the very same bytes again.
    broken = false;
    inputs.upload(KEY, v1.bytes);
    cloud.uploaded(KEY);
    await cloud.drain();
    const state = await finalState(raw, KEY);
    expect(state.job).toBe(failed.job);
    expect(state.status?.state, state.status?.reason).toBe('done');
    expect(state.result?.result).toEqual(clean1.result!.result);
    expect(state.leaves).toHaveLength(clean1.leaves.length);
  });

  it('a merge lost for good fails the job (it would wait for ever), and a retry finishes it', async () => {
    // Every write of one level-1 node fails past the merger's retries: that merge is lost,
    // and the level above would wait for it for ever. Its failure record fails the job.
    let broken = true;
    const { raw, cloud } = setup({ store: [{ op: 'putIfAbsent', key: /\/tree\/1\/00000000\/00000001\.partial\.json$/, where: () => broken, fault: { type: 'throw' } }] });
    cloud.uploaded(KEY);
    await cloud.drain();
    const stuck = await finalState(raw, KEY);
    expect(stuck.status?.state).toBe('failed');
    // The last worker of the group merges it (advance.ts): its retries, then its failure record, fail the same way.
    expect(stuck.status?.reason).toMatch(
      /^the merge of jobs\/[0-9a-f]+\/tree\/0\/00000001\/0000000[345]\.leaf\.json failed: InjectedFaultError: injected failure of putIfAbsent .*\/tree\/1\/00000000\/00000001\.partial\.json \(after 3 attempts\) \(then: InjectedFaultError: .*\)$/,
    );
    expect(stuck.result).toBeUndefined();
    // The same upload's event again (or the same bytes uploaded again): every slice has its partial.
    broken = false;
    cloud.uploaded(KEY);
    await cloud.drain();
    expectSameAsClean(await finalState(raw, KEY), clean1);
  });

  it('uploading earlier bytes again publishes their result again (unversioned bucket: the old job id)', async () => {
    const { raw, inputs, cloud } = setup({ versioned: false });
    cloud.uploaded(KEY);
    await cloud.drain();
    inputs.upload(KEY, v2.bytes);
    cloud.uploaded(KEY);
    await cloud.drain();
    expect(((await finalState(raw, KEY)).result?.result as { sum: number }).sum).toBe(v2.fsum);
    inputs.upload(KEY, v1.bytes);
    cloud.uploaded(KEY);
    await cloud.drain();
    const state = await finalState(raw, KEY);
    expect(state.status?.state).toBe('done');
    expect(state.result?.result).toEqual(clean1.result!.result);
  });

  it('a later upload of the same key replaces the result of a finished job', async () => {
    const { raw, inputs, cloud } = setup();
    cloud.uploaded(KEY);
    await cloud.drain();
    expectSameAsClean(await finalState(raw, KEY), clean1);
    inputs.upload(KEY, v2.bytes);
    cloud.uploaded(KEY);
    await cloud.drain();
    const state = await finalState(raw, KEY);
    expect(state.status?.state).toBe('done');
    expect(state.result?.result).toEqual(clean2.result!.result);
    expect(state.result?.job).toBe(clean2.job);
  });
});

describe('merge triggers', () => {
  it('two merges of the complete top group at the same moment write exactly one result', async () => {
    const { raw: raw2, cloud: cloud2 } = setup();
    await cloud2.startJob(KEY);
    const merges: Event[] = [];
    for (;;) {
      const slices = cloud2.take(isSlice);
      const created = cloud2.take((e) => e.kind === 'created');
      merges.push(...created);
      if (slices.length === 0) break;
      for (const s of slices) await cloud2.handle(s);
    }
    // Every merge event is held until all slices are written, then each is delivered
    // twice at the same moment, level by level: the top group's last event races itself.
    for (let round = 0; merges.length > 0 && round < 10; round++) {
      const batch = merges.splice(0);
      await Promise.all(batch.flatMap((e) => [cloud2.handle(e), cloud2.handle({ ...e })]));
      merges.push(...cloud2.take(() => true));
    }
    expect(cloud2.errors).toEqual([]);
    expect(cloud2.created.filter((k) => k.endsWith('/result.json'))).toHaveLength(1);
    expect(cloud2.outcomes.filter((o) => o === 'done').length).toBeGreaterThanOrEqual(1);
    expectSameAsClean(await finalState(raw2, KEY), clean1);
  });

  it('a merge triggered before all partials exist writes nothing until the last one does', async () => {
    const { raw, cloud } = setup();
    const start = (await cloud.startJob(KEY)) as { jobId: string; slices: number };
    const slices = cloud.take(isSlice);
    const last = slices.pop()!;
    cloud.queue.push(...slices);
    await cloud.drain();
    const before = await finalState(raw, KEY);
    expect(before.status?.state).toBe('running');
    expect(before.result).toBeUndefined();
    expect(before.jobResult).toBeUndefined();
    expect(cloud.outcomes).toContain('waiting');
    // Replaying a leaf's event changes nothing either.
    cloud.queue.push({ kind: 'created', key: nodeKey(start.jobId, 0, 0, 3), attempt: 0 });
    await cloud.drain();
    expect(await raw.get(resultKey(start.jobId))).toBeUndefined();
    cloud.queue.push(last);
    await cloud.drain();
    expectSameAsClean(await finalState(raw, KEY), clean1);
  });
});

describe('older versions', () => {
  it('partials of an earlier job on an older version of the same key are never mixed in', async () => {
    const { raw, inputs, cloud } = setup();
    // v1's job scans a few slices and is abandoned (its remaining invocations are lost).
    const first = (await cloud.startJob(KEY)) as { jobId: string };
    const slices = cloud.take(isSlice);
    for (const e of slices.slice(0, 4)) await cloud.handle(e);
    cloud.take(() => true);
    const leftovers = await raw.list(`jobs/${first.jobId}/tree/0/`);
    expect(leftovers).toHaveLength(4);
    inputs.upload(KEY, v2.bytes);
    cloud.uploaded(KEY);
    await cloud.drain();
    const state = await finalState(raw, KEY);
    expect(state.job).not.toBe(first.jobId);
    expect(state.job).toBe(clean2.job);
    expect(state.status?.state).toBe('done');
    expect(state.result?.result).toEqual(clean2.result!.result);
    for (const leaf of state.leaves) expect(json<{ job: string }>(await raw.get(leaf))!.job).toBe(state.job);
    // The old job's partials are still its own, and it never got a result.
    expect(await raw.list(`jobs/${first.jobId}/tree/0/`)).toEqual(leftovers);
    expect(await raw.get(resultKey(first.jobId))).toBeUndefined();
  });
});

describe('the coordinator retried', () => {
  it('after it already invoked some slices: the same job, the clean result', async () => {
    const { raw, cloud, faults } = setup({ invoker: [{ op: 'invoke', nth: 5, fault: { type: 'throw' } }] });
    cloud.uploaded(KEY);
    await cloud.drain();
    expect(faults.invoker.injected('throw')).toHaveLength(1);
    expect(cloud.outcomes).toContain('resumed');
    const state = await finalState(raw, KEY);
    expect(state.manifests).toEqual([manifestKey(clean1.job!)]);
    expectSameAsClean(state, clean1);
  });

  it('after it died right after writing the manifest: the retry writes the status and the pointer', async () => {
    const { raw, cloud } = setup({ store: [{ op: 'putIfAbsent', key: /manifest\.json$/, nth: 1, fault: { type: 'crash-after' } }] });
    cloud.uploaded(KEY);
    await cloud.drain();
    const state = await finalState(raw, KEY);
    expect(state.pointer?.job).toBe(clean1.job);
    expectSameAsClean(state, clean1);
  });

  it('when every event is shuffled and every second one duplicated: the clean result', async () => {
    for (const seed of [3, 4, 5]) {
      const { raw, cloud } = setup({ seed, invoker: [{ op: 'invoke', nth: Array.from({ length: 40 }, (_, i) => 2 * i + 1), fault: { type: 'duplicate' } }] });
      cloud.uploaded(KEY);
      cloud.uploaded(KEY);
      await cloud.drain();
      expect(cloud.errors).toEqual([]);
      expectSameAsClean(await finalState(raw, KEY), clean1);
    }
  });
});

describe('store errors without an SDK to retry them', () => {
  it('S3 errors on any call end in a retried function and the clean result', async () => {
    const { raw, cloud, faults } = setup({
      seed: 11,
      store: [
        { op: 'putIfAbsent', nth: [3, 9], fault: { type: 's3-error', code: 'SlowDown' } },
        { op: 'get', nth: [5, 17], fault: { type: 's3-error', code: 'InternalError' } },
        { op: 'list', nth: [2], fault: { type: 's3-error', code: 'SlowDown' } },
      ],
    });
    cloud.uploaded(KEY);
    await cloud.drain();
    expect(faults.store.injected('s3-error')).toHaveLength(5);
    expectSameAsClean(await finalState(raw, KEY), clean1);
  });
});


describe('no job runs forever', () => {
  it('a job past its deadline is failed with the reason by the next event of it, and publishes nothing', async () => {
    let now = 1_000_000;
    const { raw, cloud } = setup({ now: () => now, limits: { ...DEFAULT_LIMITS, jobTimeoutSeconds: 60 } });
    const start = (await cloud.startJob(KEY)) as { jobId: string };
    const slices = cloud.take(isSlice);
    for (const e of slices.slice(0, 3)) await cloud.handle(e);
    // The rest of the work arrives after the deadline.
    now += 61_000;
    cloud.queue.push(...slices.slice(3));
    await cloud.drain();
    const status = json<{ state: string; reason: string }>(await raw.get(statusKey(start.jobId)))!;
    expect(status.state).toBe('failed');
    expect(status.reason).toBe(`job ${start.jobId} did not finish by its deadline (${new Date(1_000_000 + 60_000).toISOString()})`);
    expect(await raw.get(resultKey(start.jobId))).toBeUndefined();
    const manifest = json<{ deadlineAt: number }>(await raw.get(manifestKey(start.jobId)))!;
    expect(manifest.deadlineAt).toBe(1_060_000);
  });
});

describe('limits the stack enforces', () => {
  it.each([
    [{ 'fanout-max-slices': '1000000000' }, /fanout-max-slices 1000000000 is more than this deployment allows \(maxSlices 10000\)/],
    [{ 'fanout-slice-bytes': '1' }, /fanout-slice-bytes 1 is less than this deployment allows \(minSliceBytes 4096\)/],
    [{ 'fanout-max-workers': '500' }, /fanout-max-workers 500 is more than this deployment allows \(maxWorkersPerJob 100\)/],
  ])('metadata %j cannot exceed them: no job, a failed pointer naming the limit', async (metadata, reason) => {
    const raw = dirStore();
    const inputs = new VersionedInputs(true);
    inputs.upload(KEY, v1.bytes, metadata);
    const cloud = new Cloud({ ...OPTIONS, store: raw, inputs });
    cloud.uploaded(KEY);
    await cloud.drain();
    const state = await finalState(raw, KEY);
    expect(state.pointer).toMatchObject({ state: 'failed', reason: expect.stringMatching(reason) });
    expect(state.manifests).toEqual([]);
  });

  it('runs at most maxWorkers workers of a job at once: each finished slice invokes the next', async () => {
    const { raw, cloud } = setup({ defaults: { ...OPTIONS.defaults, maxWorkers: 3 } });
    let outstanding = 0;
    let peak = 0;
    let invoked = 0;
    // A worker invokes the next slice of its chain as its last act: from then on it is done.
    let current: { handedOver: boolean } | undefined;
    const handle = cloud.handle.bind(cloud);
    const queue = cloud.queue;
    const push = queue.push.bind(queue);
    queue.push = (...events: Event[]) => {
      for (const e of events) {
        if (e.kind !== 'slice' || e.attempt > 0) continue;
        if (current && !current.handedOver) {
          current.handedOver = true;
          outstanding--;
        }
        outstanding++;
        invoked++;
        peak = Math.max(peak, outstanding);
      }
      return push(...events);
    };
    cloud.handle = async (e: Event) => {
      const mine = { handedOver: e.kind !== 'slice' };
      current = mine;
      await handle(e);
      current = undefined;
      if (!mine.handedOver) outstanding--;
    };
    cloud.uploaded(KEY);
    await cloud.drain();
    expect(peak).toBe(3);
    expect(invoked).toBe(clean1.leaves.length);
    expectSameAsClean(await finalState(raw, KEY), clean1);
  });
});

describe('tolerated failures', () => {
  // Two slices of 4096 bytes hold a bad token.
  function badData(): Uint8Array {
    const text = new TextDecoder().decode(v1.bytes).split('\n');
    for (const at of [50, 800]) text[at] = '12abc';
    return new TextEncoder().encode(text.join('\n'));
  }

  it.each([
    [{ toleratedFailures: 2 }, 'done'],
    [{ toleratedFailurePercent: 20 }, 'done'],
    [{ toleratedFailures: 1 }, 'failed'],
    [{}, 'failed'],
  ])('with %j a job with two bad slices ends %s', async (tolerance, expected) => {
    const raw = dirStore();
    const inputs = new VersionedInputs(true);
    const bytes = badData();
    inputs.upload(KEY, bytes);
    const cloud = new Cloud({ ...OPTIONS, defaults: { ...OPTIONS.defaults, ...tolerance }, store: raw, inputs });
    cloud.uploaded(KEY);
    await cloud.drain();
    const state = await finalState(raw, KEY);
    expect(state.status?.state, state.status?.reason).toBe(expected);
    if (expected === 'failed') {
      expect(state.result).toBeUndefined();
      return;
    }
    const incomplete = (state.result as unknown as { incomplete: { failedSlices: { index: number; start: number; end: number; reason: string }[] } }).incomplete;
    expect(incomplete.failedSlices).toHaveLength(2);
    for (const f of incomplete.failedSlices) expect(f.reason).toMatch(/12abc/);
    expect((state.status as unknown as { failedSlices: unknown[] }).failedSlices).toEqual(incomplete.failedSlices);
    // The failed slices are left out whole: the exact sum of the lines whose first byte lies in any other slice.
    const kept: string[] = [];
    let at = 0;
    for (const line of new TextDecoder().decode(bytes).split('\n')) {
      if (line && !incomplete.failedSlices.some((f) => at >= f.start && at < f.end)) kept.push(line);
      at += line.length + 1;
    }
    expect((state.result?.result as { sum: number }).sum).toBe(python<number>('print(json.dumps(math.fsum(float(t) for t in args)))', kept));
    expect(state.status).toMatchObject({ state: 'done' });
  });
});
