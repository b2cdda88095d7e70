import type { InvokeCommand, InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { LambdaInvoker } from '../../../lib/cloud/aws/lambda-invoker.ts';

function throttle(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });
}

describe('LambdaInvoker', () => {
  it('invokes asynchronously with a slice descriptor and no data', async () => {
    const sent: InvokeCommand[] = [];
    const invoker = new LambdaInvoker({ send: async (c) => (sent.push(c), { StatusCode: 202 } as InvokeCommandOutput) }, 'worker-fn');
    await invoker.invoke({ jobId: 'abc', index: 7 });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.input.InvocationType).toBe('Event');
    expect(sent[0]!.input.FunctionName).toBe('worker-fn');
    expect(JSON.parse(new TextDecoder().decode(sent[0]!.input.Payload as Uint8Array))).toEqual({ jobId: 'abc', index: 7 });
  });

  it('retries throttling with full-jitter exponential backoff', async () => {
    let calls = 0;
    const sleeps: number[] = [];
    const invoker = new LambdaInvoker(
      {
        send: async () => {
          if (++calls <= 3) throw throttle();
          return { StatusCode: 202 } as InvokeCommandOutput;
        },
      },
      'w',
      { baseDelayMs: 100, maxDelayMs: 250, random: () => 0.5, sleep: async (ms) => void sleeps.push(ms) },
    );
    await invoker.invoke({ jobId: 'j', index: 0 });
    expect(calls).toBe(4);
    // half (random 0.5) of min(cap, base * 2^attempt)
    expect(sleeps).toEqual([50, 100, 125]);
  });

  it('gives up after maxAttempts and does not retry other errors', async () => {
    let calls = 0;
    const always = new LambdaInvoker({ send: async () => (calls++, Promise.reject(throttle())) }, 'w', { maxAttempts: 3, sleep: async () => {} });
    await expect(always.invoke({ jobId: 'j', index: 0 })).rejects.toThrow('Rate exceeded');
    expect(calls).toBe(3);
    calls = 0;
    const denied = new LambdaInvoker({ send: async () => (calls++, Promise.reject(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }))) }, 'w', { sleep: async () => {} });
    await expect(denied.invoke({ jobId: 'j', index: 0 })).rejects.toThrow('denied');
    expect(calls).toBe(1);
  });

  it('keeps at most `concurrency` invocations in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const invoker = new LambdaInvoker(
      {
        send: async () => {
          peak = Math.max(peak, ++inFlight);
          await new Promise((r) => setTimeout(r, 2));
          inFlight--;
          return { StatusCode: 202 } as InvokeCommandOutput;
        },
      },
      'w',
      { concurrency: 4 },
    );
    await Promise.all(Array.from({ length: 40 }, (_, i) => invoker.invoke({ jobId: 'j', index: i })));
    expect(peak).toBe(4);
  });
});
