/**
 * Per-job metrics (Powertools Metrics' embedded metric format) and the completion event,
 * from what a pipeline run over the fakes writes through ObservedStore.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { jobObserver } from '../../functions/observe.ts';
import { startJob } from '../../lib/cloud/coordinator.ts';
import { onNodeCreated } from '../../lib/cloud/merger.ts';
import { type JobCompletion, ObservedStore } from '../../lib/cloud/observe.ts';
import { routeFor } from '../../lib/cloud/topology.ts';
import { scanSliceTask } from '../../lib/cloud/worker.ts';
import { ManifestReader } from '../../lib/job/documents.ts';
import { DEFAULT_LIMITS } from '../../lib/job/options.ts';
import type { SliceTask } from '../../lib/job/ports.ts';
import { CountingStore, MemoryInputs } from '../cloud/fakes.ts';

type Emf = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string; Unit: string }[] }[] } };

async function run(text: string, metadata: Record<string, string> = {}) {
  const raw = new CountingStore();
  const records: Emf[] = [];
  const completions: JobCompletion[] = [];
  const observer = jobObserver({ flush: (m: Metrics) => records.push(m.serializeMetrics() as unknown as Emf), completions: { publish: async (c) => void completions.push(c) } });
  const store = new ObservedStore(raw, observer);
  const inputs = new MemoryInputs();
  inputs.add('b', 'input/x.csv', new TextEncoder().encode(text), { 'fanout-max-slices': '6', ...metadata });
  const queue: ({ kind: 'created'; key: string } | { kind: 'slice'; task: SliceTask })[] = [];
  raw.onCreated = (key) => queue.push({ kind: 'created', key });
  const deps = { store, inputs, invoker: { invoke: async (task: SliceTask) => void queue.push({ kind: 'slice', task }) }, defaults: { sliceBytes: 1 }, fanin: 2, limits: { ...DEFAULT_LIMITS, minSliceBytes: 1 }, manifests: new ManifestReader(store, 0) };
  const start = (await startJob(deps, { bucket: 'b', key: 'input/x.csv' })) as { jobId: string };
  for (let n = 1; queue.length > 0; n++) {
    const e = queue.shift()!;
    if (e.kind === 'slice') await scanSliceTask(deps, e.task, { invocation: `i${n}` });
    else if (routeFor(e.key)?.target === 'merger') await onNodeCreated(deps, e.key);
  }
  const sum = (name: string) => records.filter((r) => name in r).reduce((a, r) => a + (r[name] as number), 0);
  return { jobId: start.jobId, records, completions, sum, bytes: text.length };
}

describe('per-job metrics and the completion event', () => {
  it('count every slice once with its bytes and duration, the job with its size, and publish its completion with the result key', async () => {
    const text = Array.from({ length: 300 }, (_, i) => `${i}\n`).join('');
    const { jobId, records, completions, sum, bytes } = await run(text);
    expect(sum('SlicesDone')).toBe(6);
    expect(sum('SlicesFailed')).toBe(0);
    // Each slice reads its own bytes, and a look at its neighbours' edges.
    expect(sum('BytesScanned')).toBeGreaterThanOrEqual(bytes);
    expect(sum('JobsDone')).toBe(1);
    expect(records.find((r) => 'JobBytes' in r)).toMatchObject({ JobBytes: bytes, JobSlices: 6, jobId });
    for (const r of records) {
      expect(r.jobId).toBe(jobId);
      expect(r._aws.CloudWatchMetrics[0]!.Namespace).toBe('fanout');
    }
    const slice = records.find((r) => 'SlicesDone' in r)!;
    expect(slice._aws.CloudWatchMetrics[0]!.Metrics).toEqual([
      { Name: 'SlicesDone', Unit: 'Count' },
      { Name: 'BytesScanned', Unit: 'Bytes' },
      { Name: 'SliceDuration', Unit: 'Milliseconds' },
    ]);
    expect(completions).toEqual([{ job: jobId, state: 'done', input: { bucket: 'b', key: 'input/x.csv' }, slices: 6, resultKey: 'results/x.csv.json', at: expect.any(String) }]);
  });

  it('count a tolerated failure, and publish a failed job with its reason', async () => {
    const text = Array.from({ length: 300 }, (_, i) => (i === 10 ? '12abc\n' : `${i}\n`)).join('');
    const tolerated = await run(text, { 'fanout-tolerated-failures': '1' });
    expect(tolerated.sum('SlicesFailed')).toBe(1);
    expect(tolerated.sum('SlicesDone')).toBe(5);
    expect(tolerated.completions).toMatchObject([{ state: 'done', failedSlices: [{ index: 0, reason: expect.stringContaining('12abc') }] }]);
    const failed = await run(text);
    expect(failed.sum('JobsFailed')).toBeGreaterThanOrEqual(1);
    expect(failed.completions[0]).toMatchObject({ job: failed.jobId, state: 'failed', slice: 0, reason: expect.stringContaining('12abc') });
    expect(failed.completions.every((c) => c.state === 'failed')).toBe(true);
  });
});
