import { describe, expect, it } from 'vitest';
import { startJob } from '../../lib/cloud/coordinator.ts';
import { DEFAULT_LIMITS } from '../../lib/job/options.ts';
import { ManifestReader, readStatus } from '../../lib/job/documents.ts';
import { onNodeCreated } from '../../lib/cloud/merger.ts';
import { scanSliceTask } from '../../lib/cloud/worker.ts';
import type { SliceTask } from '../../lib/job/ports.ts';
import { documentRequests, estimateCloud, type Requests, SUPERSEDE_REQUESTS } from '../../lib/report/estimate.ts';
import { routeFor } from '../../lib/cloud/topology.ts';
import { CountingStore, MemoryInputs, type Op } from '../cloud/fakes.ts';

type Event = { kind: 'created'; key: string } | { kind: 'slice'; task: SliceTask };

/**
 * Runs the pipeline over the request-counting fakes with cold functions (no manifest
 * cache). `lifo`: each merge event is handled the moment its node lands; `fifo`: events
 * wait until everything before them is done, so a whole level lands first. `superseding`:
 * the key's previous upload (other bytes) has a job started and still running when this
 * one is uploaded; only this job's requests are counted.
 */
async function countRequests(slices: number, fanin: number, order: 'lifo' | 'fifo', superseding = false) {
  const store = new CountingStore();
  const inputs = new MemoryInputs();
  const text = Array.from({ length: slices * 3 }, (_, i) => `${i}\n`).join('');
  const queue: Event[] = [];
  store.onCreated = (key) => queue.push({ kind: 'created', key });
  const invocations = { coordinator: 1, workers: 0, merger: 0 };
  const deps = () => ({
    store,
    inputs,
    invoker: { invoke: async (task: SliceTask) => void queue.push({ kind: 'slice', task }) },
    defaults: { analysis: 'sum', maxSlices: slices, sliceBytes: 1, maxWorkers: slices },
    fanin,
    // 1-byte slices, every slice invoked at the start: as the estimate assumes
    limits: { ...DEFAULT_LIMITS, minSliceBytes: 1, maxWorkersPerJob: Math.max(slices, DEFAULT_LIMITS.maxWorkersPerJob) },
    manifests: new ManifestReader(store, 0),
  });
  let previous: string | undefined;
  if (superseding) {
    inputs.add('b', 'input/x.csv', new TextEncoder().encode(text.replace(/^0/, '9')));
    const started = await startJob(deps(), { bucket: 'b', key: 'input/x.csv' });
    expect(started).toMatchObject({ outcome: 'started' });
    previous = (started as { jobId: string }).jobId;
    queue.length = 0;
    for (const op of Object.keys(store.counts) as Op[]) store.counts[op] = 0;
  }
  inputs.add('b', 'input/x.csv', new TextEncoder().encode(text));
  const start = await startJob(deps(), { bucket: 'b', key: 'input/x.csv' });
  expect(start).toMatchObject({ outcome: 'started', slices });
  while (queue.length > 0) {
    const e = order === 'fifo' ? queue.shift()! : queue.pop()!;
    if (e.kind === 'slice') {
      invocations.workers++;
      await scanSliceTask(deps(), e.task);
    } else if (routeFor(e.key)?.target === 'merger') {
      invocations.merger++;
      await onNodeCreated(deps(), e.key);
    }
  }
  const c = { ...store.counts };
  expect(JSON.parse(store.text('results/x.csv.json')!)).toMatchObject({ job: (start as { jobId: string }).jobId });
  if (previous) expect(await readStatus(store, previous)).toMatchObject({ state: 'superseded' });
  // S3 bills create-only and conditional (If-Match) PUTs as PUTs
  return { requests: { get: c.get, put: c.put + c.putIfAbsent + c.putIfMatch, head: c.head, list: c.list }, invocations };
}

const plus = (a: Requests, b: Requests): Requests => ({ get: a.get + b.get, put: a.put + b.put, head: a.head + b.head, list: a.list + b.list });

describe('estimateCloud', () => {
  it.each([
    [1, 32],
    [7, 4],
    [32, 32],
    [33, 32],
    [100, 4],
    [300, 8],
  ])('counts the store requests and invocations a pipeline run of %i slices with fan-in %i makes', async (slices, fanin) => {
    const plan = estimateCloud({ slices, sliceBytes: Array(slices).fill(1), binary: false, fanin, memoryMb: 1024, region: 'us-east-1' });
    const expected = documentRequests(slices, fanin);
    const lifo = await countRequests(slices, fanin, 'lifo');
    const fifo = await countRequests(slices, fanin, 'fifo');
    const superseding = await countRequests(slices, fanin, 'fifo', true);
    expect(lifo.requests).toEqual(expected.fewest);
    expect(superseding.requests).toEqual(expected.most);
    // the key's first upload, a whole level landing first: all but the superseding
    expect(plus(fifo.requests, SUPERSEDE_REQUESTS)).toEqual(expected.most);
    for (const run of [lifo, fifo, superseding]) {
      expect(run.invocations).toEqual({ coordinator: plan.invocations.coordinator, workers: plan.invocations.workers, merger: plan.invocations.merger });
    }
  });

  it('prices a job from the dated constants of its region, and says when the region is unknown', () => {
    const args = { slices: 100, sliceBytes: Array(100).fill(64 << 20), binary: true, fanin: 32, memoryMb: 1024 };
    const east = estimateCloud({ ...args, region: 'us-east-1' });
    const frankfurt = estimateCloud({ ...args, region: 'eu-central-1' });
    const mars = estimateCloud({ ...args, region: 'mars-north-1' });
    expect(east.cost.pricesKnown).toBe(true);
    expect(frankfurt.cost.s3Requests).toBeGreaterThan(east.cost.s3Requests);
    expect(frankfurt.cost.lambdaCompute).toBe(east.cost.lambdaCompute);
    expect(mars.cost.pricesKnown).toBe(false);
    expect(east.cost.total).toBeCloseTo(east.cost.lambdaCompute + east.cost.lambdaRequests + east.cost.s3Requests, 12);
    // 100 slices, 1000 at once: one wave
    expect(east.levels).toEqual([100, 4]);
  });
});
