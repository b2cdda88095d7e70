/**
 * `fanout redrive` over the counting fakes, through the pipeline's use cases with AWS's
 * delivery rules (test/reliability/harness.ts): a failed job runs again from where it
 * stopped (only its slices without a partial are invoked, lost merges fired again) and
 * ends done with its result published; a done, running or superseded job is refused.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { RedriveRefusedError, requestRedrive } from '../../lib/cloud/client.ts';
import { redriveHeads } from '../../lib/cloud/redrive.ts';
import { UsageError } from '../../lib/core/errors.ts';
import { readRedriveAnswer } from '../../lib/job/documents.ts';
import { levelPrefix, parseNodeKey, redriveRequestKey } from '../../lib/job/keys.ts';
import type { BlobStore, SliceTask } from '../../lib/job/ports.ts';
import { Faults, FaultyStore } from '../helpers/faults.ts';
import { python } from '../helpers/python.ts';
import { Cloud, finalState, VersionedInputs } from '../reliability/harness.ts';
import { CountingStore } from './fakes.ts';

const KEY = 'input/values.txt';
const DEFAULTS = { analysis: 'sum', sliceBytes: 4096, maxSlices: 1000, maxWorkers: 3 };

let bytes: Uint8Array;
let fsum: number;
beforeAll(() => {
  const d = python<{ text: string; fsum: number }>(`rng = np.random.default_rng(58)
a = rng.standard_normal(3000) * 10.0 ** rng.integers(-6, 7, 3000)
print(json.dumps({"text": "".join(repr(float(x)) + "\\n" for x in a), "fsum": math.fsum(a.tolist())}))`);
  bytes = new TextEncoder().encode(d.text);
  fsum = d.fsum;
});

/** A pipeline over a CountingStore whose store calls can be broken by rules while `broken` holds; every invoked slice is recorded. */
function setup(rules: (broken: () => boolean) => ConstructorParameters<typeof Faults>[0] = () => []) {
  const store = new CountingStore();
  const inputs = new VersionedInputs(true);
  inputs.upload(KEY, bytes);
  const state = { broken: true };
  const invoked: number[] = [];
  const cloud = new Cloud({
    store,
    inputs,
    defaults: DEFAULTS,
    fanin: 3,
    seed: 11,
    wrapStore: (s) => new FaultyStore(s, new Faults(rules(() => state.broken))),
    wrapInvoker: (inv) => ({ invoke: async (t: SliceTask) => void (invoked.push(t.index), await inv.invoke(t)) }),
  });
  return { store, inputs, cloud, state, invoked };
}

async function leaves(store: BlobStore, job: string): Promise<Set<number>> {
  return new Set((await store.list(levelPrefix(job, 0))).map((k) => parseNodeKey(k)!.index));
}

/** Asks for a redrive the way `fanout redrive` does, and delivers the events it causes. */
async function redrive(cloud: Cloud, job: string) {
  const answer = requestRedrive(cloud.store, job, { pollMs: 1 });
  // The request lands (in-memory store: a few turns of the event loop), then its event runs.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await cloud.drain();
  return answer;
}

describe('redriveHeads', () => {
  it('invokes the missing slices no chain reaches: heads of chains and slices right behind a landed one', () => {
    // 10 slices in 3 chains; 4 failed (chain 1 stopped there), 8 lost (chain 2's slice 5 landed).
    expect(redriveHeads(10, 3, new Set([0, 1, 2, 3, 5, 6, 9]))).toEqual([4, 8]);
    expect(redriveHeads(10, 3, new Set())).toEqual([0, 1, 2]);
    expect(redriveHeads(4, 3, new Set([0, 1, 2, 3]))).toEqual([]);
  });
});

describe('fanout redrive', () => {
  it('re-invokes only the failed slice and the slices its chain never reached, and the job ends done with its result published', async () => {
    // Slice 4's partial cannot be written (past Lambda's retries): the job fails there, and its chain stops.
    const { store, cloud, state, invoked } = setup((broken) => [{ op: 'putIfAbsent', key: /\/tree\/0\/\d{8}\/00000004\.leaf\.json$/, where: broken, fault: { type: 'throw' } }]);
    cloud.uploaded(KEY);
    await cloud.drain();
    const failed = await finalState(store, KEY);
    expect(failed.status).toMatchObject({ state: 'failed', slice: 4 });
    expect(failed.result).toBeUndefined();
    const job = failed.job!;
    const slices = (failed.status as unknown as { slices: number }).slices;
    const before = await leaves(store, job);
    const missing = Array.from({ length: slices }, (_, i) => i).filter((i) => !before.has(i));
    // The failed slice and the rest of its chain (every third slice from 4).
    expect(missing).toEqual(Array.from({ length: slices }, (_, i) => i).filter((i) => i >= 4 && i % 3 === 1));

    state.broken = false;
    invoked.length = 0;
    const answer = await redrive(cloud, job);
    expect(answer).toMatchObject({ job, outcome: 'redriven', invoked: 1, merges: 0 });
    // Each missing slice invoked once (4 by the redrive, the rest by its chain), no other.
    expect([...invoked].sort((a, b) => a - b)).toEqual(missing);
    const done = await finalState(store, KEY);
    expect(done.status?.state).toBe('done');
    expect(done.job).toBe(job);
    expect((done.result!.result as { sum: number }).sum).toBe(fsum);
    expect(done.jobResult?.result).toEqual(done.result!.result);

    // Done now: a second redrive is refused with one line.
    await expect(requestRedrive(cloud.store, job, { pollMs: 1 })).rejects.toThrow(new RedriveRefusedError(`job ${job} is done: nothing to redrive (its result is s3://bucket/results/values.txt.json)`));
  });

  it('merges a group of leaves whose merge was lost for good, and restarts the chain its worker did not continue', async () => {
    const { store, cloud, state, invoked } = setup((broken) => [{ op: 'putIfAbsent', key: /\/tree\/1\/00000000\/00000001\.partial\.json$/, where: broken, fault: { type: 'throw' } }]);
    cloud.uploaded(KEY);
    await cloud.drain();
    const failed = await finalState(store, KEY);
    expect(failed.status?.state).toBe('failed');
    expect(failed.status?.reason).toMatch(/^the merge of .* failed/);
    // The worker whose leaf completed group 1 failed merging it, before it invoked the next
    // slice of its chain (afterLeaf merges first): that chain stopped there.
    const job = failed.job!;
    const slices = (failed.status as unknown as { slices: number }).slices;
    const before = await leaves(store, job);
    const missing = Array.from({ length: slices }, (_, i) => i).filter((i) => !before.has(i));
    expect(missing.length).toBeGreaterThan(0);
    state.broken = false;
    invoked.length = 0;
    const answer = await redrive(cloud, job);
    // The group of leaves merged by the redrive itself (a leaf raises no event), and the stopped chain invoked where it stopped.
    expect(answer).toMatchObject({ outcome: 'redriven', invoked: 1, merges: 1 });
    // Each missing slice invoked once (the head by the redrive, the rest by its chain), no other.
    expect([...invoked].sort((a, b) => a - b)).toEqual(missing);
    const done = await finalState(store, KEY);
    expect(done.status?.state).toBe('done');
    expect((done.result!.result as { sum: number }).sum).toBe(fsum);
  });

  it('fires a merge above the leaves lost for good again (a member rewritten: its event reaches the merger), invoking no slice', async () => {
    const { store, cloud, state, invoked } = setup((broken) => [{ op: 'putIfAbsent', key: /\/tree\/2\/00000000\/00000000\.partial\.json$/, where: broken, fault: { type: 'throw' } }]);
    cloud.uploaded(KEY);
    await cloud.drain();
    const failed = await finalState(store, KEY);
    expect(failed.status?.state).toBe('failed');
    const job = failed.job!;
    expect((await leaves(store, job)).size).toBe((failed.status as unknown as { slices: number }).slices);
    state.broken = false;
    invoked.length = 0;
    expect(await redrive(cloud, job)).toMatchObject({ outcome: 'redriven', invoked: 0, merges: 1 });
    expect(invoked).toEqual([]);
    const done = await finalState(store, KEY);
    expect(done.status?.state).toBe('done');
    expect((done.result!.result as { sum: number }).sum).toBe(fsum);
  });

  it('answers two requests at once by redriving once: the second finds the job running', async () => {
    const { store, cloud, state, invoked } = setup((broken) => [{ op: 'putIfAbsent', key: /\/tree\/0\/\d{8}\/00000004\.leaf\.json$/, where: broken, fault: { type: 'throw' } }]);
    cloud.uploaded(KEY);
    await cloud.drain();
    const job = (await finalState(store, KEY)).job!;
    state.broken = false;
    invoked.length = 0;
    await cloud.store.put(redriveRequestKey(job, 'first'), '');
    await cloud.store.put(redriveRequestKey(job, 'second'), '');
    await cloud.drain();
    const answers = [await readRedriveAnswer(store, job, 'first'), await readRedriveAnswer(store, job, 'second')].map((a) => a?.outcome).sort();
    expect(answers).toEqual(['redriven', 'refused']);
    expect(new Set(invoked).size).toBe(invoked.length);
    expect((await finalState(store, KEY)).status?.state).toBe('done');
  });

  it('refuses a running job, a superseded one and an unknown one with one line', async () => {
    const { store, inputs, cloud } = setup();
    cloud.uploaded(KEY);
    // Only the coordinator: the job is running.
    await cloud.drain(() => cloud.outcomes.includes('started'));
    const job = (await finalState(store, KEY)).job!;
    await expect(requestRedrive(cloud.store, job)).rejects.toThrow(/^job [0-9a-f]+ is still running \(deadline .*\): only a failed job is redriven$/);
    // A newer upload supersedes it.
    inputs.upload(KEY, new TextEncoder().encode('1\n2\n'));
    cloud.uploaded(KEY);
    await cloud.drain();
    expect((await finalState(store, KEY)).job).not.toBe(job);
    await expect(requestRedrive(cloud.store, job)).rejects.toThrow(RedriveRefusedError);
    await expect(requestRedrive(cloud.store, job)).rejects.toThrow(/^job [0-9a-f]+ (was superseded|is not redriven: a newer upload)/);
    await expect(requestRedrive(cloud.store, 'abcdef0123')).rejects.toThrow(UsageError);
  });
});
