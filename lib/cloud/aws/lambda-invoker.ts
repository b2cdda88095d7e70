/**
 * Invoker over AWS Lambda: one asynchronous (`Event`) invocation per slice, with a
 * bound on the calls in flight and throttling retried with exponential backoff and
 * full jitter (sleep a random time up to base * 2^attempt, capped), so that thousands
 * of slices do not all retry in step.
 */
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import type { Invoker, SliceTask } from '../../job/ports.ts';
import { httpStatus } from './s3-client.ts';

/** The part of LambdaClient this adapter uses, so tests can hand in a stand-in. */
export interface LambdaSender {
  send(command: InvokeCommand): Promise<InvokeCommandOutput>;
}

export interface LambdaInvokerOptions {
  /** invocations in flight at most; default: no bound of its own (the coordinator's use case bounds them) */
  concurrency?: number;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const THROTTLING = new Set(['TooManyRequestsException', 'ThrottlingException', 'Throttling', 'EC2ThrottledException', 'ServiceException', 'ResourceNotReadyException']);

export function isRetryable(e: unknown): boolean {
  const status = httpStatus(e);
  return THROTTLING.has((e as Error)?.name) || status === 429 || (status !== undefined && status >= 500);
}

export class LambdaInvoker implements Invoker {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly opts: Required<LambdaInvokerOptions>;

  constructor(
    private readonly client: LambdaSender,
    private readonly functionName: string,
    options: LambdaInvokerOptions = {},
  ) {
    this.opts = {
      concurrency: options.concurrency ?? Number.POSITIVE_INFINITY,
      maxAttempts: options.maxAttempts ?? 8,
      baseDelayMs: options.baseDelayMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 20_000,
      random: options.random ?? Math.random,
      sleep: options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    };
  }

  async invoke(task: SliceTask): Promise<void> {
    await this.acquire();
    try {
      const payload = new TextEncoder().encode(JSON.stringify({ jobId: task.jobId, index: task.index }));
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await this.client.send(new InvokeCommand({ FunctionName: this.functionName, InvocationType: 'Event', Payload: payload }));
          if (r.StatusCode !== undefined && r.StatusCode !== 202) throw new Error(`invoking ${this.functionName} for slice ${task.index} returned status ${r.StatusCode}`);
          return;
        } catch (e) {
          if (!isRetryable(e) || attempt + 1 >= this.opts.maxAttempts) throw e;
          const cap = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** attempt);
          await this.opts.sleep(this.opts.random() * cap);
        }
      }
    } finally {
      this.release();
    }
  }

  private async acquire(): Promise<void> {
    if (this.inFlight < this.opts.concurrency) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.inFlight--;
  }
}

export function makeLambdaClient(): LambdaClient {
  return new LambdaClient({ region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1' });
}
