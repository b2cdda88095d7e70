/** The coordinator's bound on worker invocations in flight: one cap, from the job's options. */
import type { InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { LambdaInvoker } from '../../lib/cloud/aws/lambda-invoker.ts';
import { startJob } from '../../lib/cloud/coordinator.ts';
import { DEFAULT_CONCURRENCY, DEFAULT_LIMITS, type JobOptions } from '../../lib/job/options.ts';

/** Tiny slices, and every slice invoked at the start: what these tests count. */
const TEST_LIMITS = { ...DEFAULT_LIMITS, minSliceBytes: 1, maxWorkersPerJob: 1000 };
import { CountingStore, MemoryInputs } from './fakes.ts';

/** An invoker over LambdaInvoker (as the deployed coordinator builds it) that records the peak in flight. */
function peakInvoker() {
  const state = { inFlight: 0, peak: 0, calls: 0 };
  const invoker = new LambdaInvoker(
    {
      send: async () => {
        state.calls++;
        state.peak = Math.max(state.peak, ++state.inFlight);
        // Every lane's call is in flight before any returns.
        await new Promise((r) => setImmediate(r));
        state.inFlight--;
        return { StatusCode: 202 } as InvokeCommandOutput;
      },
    },
    'worker',
  );
  return { state, invoker };
}

async function peakFor(defaults: JobOptions, metadata: Record<string, string>): Promise<{ peak: number; calls: number }> {
  const inputs = new MemoryInputs();
  inputs.add('b', 'input/x.txt', new TextEncoder().encode('1\n'.repeat(500)), metadata);
  const { state, invoker } = peakInvoker();
  const r = await startJob({ store: new CountingStore(), inputs, invoker, defaults: { sliceBytes: 4, ...defaults }, fanin: 32, limits: TEST_LIMITS }, { bucket: 'b', key: 'input/x.txt' });
  expect(r).toMatchObject({ outcome: 'started', slices: 250 });
  return state;
}

describe('startJob invocations in flight', () => {
  it('default to the declared concurrency', async () => {
    expect(await peakFor({}, {})).toMatchObject({ peak: DEFAULT_CONCURRENCY, calls: 250 });
  });

  it.each([
    ['lower', 5],
    ['raise', 100],
  ])("follow an upload's fanout-concurrency, which may %s the deployment's", async (_, concurrency) => {
    expect((await peakFor({ concurrency: 20 }, { 'fanout-concurrency': String(concurrency) })).peak).toBe(concurrency);
  });
});
