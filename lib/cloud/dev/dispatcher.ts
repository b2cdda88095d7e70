/**
 * `fanout dev`: the cloud pipeline on any S3-compatible endpoint (moto, LocalStack,
 * MinIO with notifications), without Lambda. The bucket's notifications go to SQS
 * queues built from the same ROUTES the CDK construct uses; this process polls them
 * and calls the real handlers, and worker invocations run the worker handler in
 * process (with Lambda's async semantics: fire and forget, two retries, then a failure
 * record to the merger).
 */
import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, HeadBucketCommand, PutBucketNotificationConfigurationCommand, PutBucketVersioningCommand, type QueueConfiguration } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { makeS3Client } from '../aws/s3-client.ts';
import type { JobOptions } from '../../job/options.ts';
import type { Invoker, SliceTask } from '../../job/ports.ts';
import { type FunctionName, ROUTES } from '../topology.ts';

export interface DispatcherOptions<D extends object = object> {
  endpoint: string;
  bucket: string;
  region?: string;
  defaults?: JobOptions;
  fanin?: number;
  /** worker handler calls running at once */
  workerConcurrency?: number;
  /** Lambda's retries of a failed async invocation */
  retryAttempts?: number;
  log?: (message: string) => void;
  /** Wraps the handlers' dependencies (a test's fault injection: test/helpers/faults.ts). */
  wrapDeps?: (deps: D & { invoker?: Invoker }) => D & { invoker?: Invoker };
  /**
   * Loads the real handlers (functions/dev-handlers.ts). They read their configuration
   * from the environment when they load, as in Lambda, so they are loaded after it is set.
   */
  loadHandlers: () => Promise<HandlerFactories<D>>;
}

/** What functions/dev-handlers.ts gives: the three handler factories and the production wiring. */
export interface HandlerFactories<D extends object> {
  createCoordinatorHandler: (deps: () => D & { invoker?: Invoker }) => unknown;
  createWorkerHandler: (deps: () => D & { invoker?: Invoker }) => unknown;
  createMergerHandler: (deps: () => D & { invoker?: Invoker }) => unknown;
  defaultDeps: () => D;
}

export interface Dispatcher {
  queues: Record<string, string>;
  /**
   * Handler calls running or waiting in this process (worker invocations go through no
   * queue: a job's workers can run for a while with every queue empty).
   */
  inFlight(): number;
  /** Stops polling and waits for the work in progress. */
  stop(): Promise<void>;
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const FUNCTION_TIMEOUT_MS = 15 * 60 * 1000;

/** `requestId`: as Lambda's, the same for the retries of one invocation. */
function fakeContext(functionName: string, requestId: string = randomUUID()): Context {
  const deadline = Date.now() + FUNCTION_TIMEOUT_MS;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'fanout-dev',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export function queueName(bucket: string, target: FunctionName): string {
  return `fanout-dev-${bucket.replace(/[^A-Za-z0-9_-]/g, '-')}-${target}`.slice(0, 80);
}

export async function startDispatcher<D extends object>(opts: DispatcherOptions<D>): Promise<Dispatcher> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const region = opts.region ?? process.env.AWS_REGION ?? 'us-east-1';
  // The handlers read their configuration from the environment at load time, as in
  // Lambda: set it before loading them.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: opts.endpoint,
    AWS_REGION: region,
    BUCKET_NAME: opts.bucket,
    WORKER_FUNCTION_NAME: 'fanout-dev-worker',
    // A job's worker chains fill the worker slots, as they fill Lambda's concurrency: with more
    // chains than slots, invocations would wait here, and a waiting slice looks like a straggler.
    FANOUT_DEFAULTS: JSON.stringify({ ...opts.defaults, maxWorkers: opts.defaults?.maxWorkers ?? opts.workerConcurrency ?? 2 }),
    ...(opts.fanin ? { FANOUT_MERGE_FANIN: String(opts.fanin) } : {}),
  });
  // Per-job metrics are CloudWatch's embedded format on stdout: in this process they would
  // mix with the command's own output (POWERTOOLS_METRICS_DISABLED=false brings them back).
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

  const s3 = makeS3Client({ endpoint: opts.endpoint, region });
  const sqs = new SQSClient({ endpoint: opts.endpoint, region });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: opts.bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: opts.bucket }));
    log(`created bucket ${opts.bucket}`);
  }
  // As the CDK bucket: versioned, so every read is pinned to a version id.
  await s3.send(new PutBucketVersioningCommand({ Bucket: opts.bucket, VersioningConfiguration: { Status: 'Enabled' } }));

  const queues: Record<string, string> = {};
  const configs: QueueConfiguration[] = [];
  for (const [n, route] of ROUTES.entries()) {
    const name = queueName(opts.bucket, route.target);
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '120' } }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    queues[route.target] = url;
    configs.push({
      // One queue per function; a function may have several routes (the coordinator: uploads and redrive requests).
      Id: `fanout-${route.target}-${n}`,
      QueueArn: arn,
      Events: [...route.events],
      Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: route.prefix }, ...(route.suffix ? [{ Name: 'suffix' as const, Value: route.suffix }] : [])] } },
    });
  }
  await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: opts.bucket, NotificationConfiguration: { QueueConfigurations: configs } }));

  const { createCoordinatorHandler, createWorkerHandler, createMergerHandler, defaultDeps } = await opts.loadHandlers();

  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => {});
    return p;
  };

  const workerSlots = opts.workerConcurrency ?? 2;
  const retries = opts.retryAttempts ?? 2;
  const workQueue: SliceTask[] = [];
  let running = 0;
  const handlers: Record<FunctionName, Handler> = {} as Record<FunctionName, Handler>;
  const localInvoker: Invoker = {
    async invoke(task) {
      workQueue.push(task);
      pump();
    },
  };
  const wrap = opts.wrapDeps ?? ((d: D & { invoker?: Invoker }) => d);
  const deps = () => wrap({ ...defaultDeps(), invoker: localInvoker });
  handlers.coordinator = createCoordinatorHandler(deps) as unknown as Handler;
  handlers.worker = createWorkerHandler(deps) as unknown as Handler;
  handlers.merger = createMergerHandler(deps) as unknown as Handler;

  const runWorker = async (task: SliceTask): Promise<void> => {
    let lastError: Error | undefined;
    const requestId = randomUUID();
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        await handlers.worker(task, fakeContext('fanout-dev-worker', requestId));
        return;
      } catch (e) {
        lastError = e as Error;
      }
    }
    log(`slice ${task.index} of job ${task.jobId} failed after ${retries + 1} attempts: ${lastError?.message}`);
    // What Lambda's on-failure destination delivers, through SQS, to the merger.
    const record = {
      requestContext: { functionArn: 'fanout-dev-worker', condition: 'RetriesExhausted', approximateInvokeCount: retries + 1 },
      requestPayload: task,
      responsePayload: { errorType: lastError?.name ?? 'Error', errorMessage: lastError?.message ?? 'failed' },
    };
    await handlers.merger({ Records: [{ eventSource: 'aws:sqs', body: JSON.stringify(record) }] }, fakeContext('fanout-dev-merger')).catch((e) => log(`recording the failure: ${(e as Error).message}`));
  };
  function pump(): void {
    while (running < workerSlots && workQueue.length > 0) {
      const task = workQueue.shift()!;
      running++;
      void track(runWorker(task)).finally(() => {
        running--;
        pump();
      });
    }
  }

  let stopping = false;
  const poll = async (target: FunctionName, url: string): Promise<void> => {
    while (!stopping) {
      let messages;
      try {
        messages = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }))).Messages ?? [];
      } catch (e) {
        if (stopping) return;
        log(`polling ${target}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      await Promise.all(
        messages.map(async (m) => {
          const event = JSON.parse(m.Body ?? '{}') as { Event?: string };
          // S3 sends a test message when notifications are configured.
          if (event.Event === 's3:TestEvent') {
            await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
            return;
          }
          try {
            // A redelivered message is a retry of the same invocation: the same request id.
            await track(handlers[target](event, fakeContext(`fanout-dev-${target}`, m.MessageId)));
          } catch (e) {
            const count = Number(m.Attributes?.ApproximateReceiveCount ?? 1);
            log(`${target} failed (attempt ${count}): ${(e as Error).message}`);
            // Lambda gives an async event three attempts; so does this.
            if (count < retries + 1) return;
          }
          await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
        }),
      );
    }
  };
  const loops = Object.entries(queues).map(([target, url]) => poll(target as FunctionName, url));
  log(`fanout dev: ${opts.endpoint} bucket ${opts.bucket}: watching ${ROUTES.map((r) => `${r.prefix}${r.suffix ? `*${r.suffix}` : ''} -> ${r.target}`).join(', ')}`);

  return {
    queues,
    inFlight: () => pending.size + workQueue.length,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      while (pending.size > 0 || workQueue.length > 0) await Promise.allSettled([...pending]);
      sqs.destroy();
      s3.destroy();
    },
  };
}
