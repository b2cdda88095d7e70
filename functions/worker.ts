/**
 * Worker: scans one slice, named by a descriptor { jobId, index }, and, when its chain of
 * slices ends there, helps at the job's tail (lib/cloud/stragglers.ts). Reads stop on an
 * abort signal that fires shortly before the Lambda deadline, so a slow slice ends as
 * a retryable timeout rather than being killed mid-write.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { parseEvent, sliceTaskSchema } from '../lib/cloud/events.ts';
import { runWorkerTask } from '../lib/cloud/stragglers.ts';
import type { SliceOutcome } from '../lib/cloud/worker.ts';
import { acceptEvent, defaultDeps, type HandlerDeps } from './runtime.ts';
import { LambdaInvoker, makeLambdaClient } from '../lib/cloud/aws/lambda-invoker.ts';
import { config } from './config.ts';

/** Time kept back before the deadline for the abort to unwind and be logged. */
export const DEADLINE_MARGIN_MS = 3_000;

// The first slice this execution environment scans pays its init: its partial says so (fanout report).
let coldStart = true;

export function createWorkerHandler(getDeps: () => HandlerDeps) {
  return middy<unknown, SliceOutcome, Error, Context>({ timeoutEarlyInMillis: DEADLINE_MARGIN_MS })
    .use(injectLambdaContext(getDeps().logger, { resetKeys: true }))
    .handler(async (event, context, { signal }) => {
      const deps = getDeps();
      const { logger } = deps;
      const task = acceptEvent(logger, () => parseEvent(sliceTaskSchema, event, 'slice descriptor ({ jobId, index })'));
      logger.appendKeys({ jobId: task.jobId, slice: task.index });
      // One log stream per execution environment: the report's timeline has one lane per instance.
      const first = coldStart;
      coldStart = false;
      // A worker whose chain ends here helps at the job's tail (backups of stragglers): lib/cloud/stragglers.ts.
      const r = await runWorkerTask(deps, task, {
        signal,
        worker: context.logStreamName || context.awsRequestId || 'lambda',
        coldStart: first,
        ...(context.awsRequestId ? { invocation: context.awsRequestId } : {}),
        remainingMs: () => context.getRemainingTimeInMillis(),
      });
      if (r.outcome === 'failed') logger.error('slice failed', { reason: r.reason });
      else logger.info('slice scanned', { ...r });
      return r;
    });
}

// A finished slice invokes the next slice of its worker chain: this very function
// (Lambda names it in AWS_LAMBDA_FUNCTION_NAME; the construct cannot pass its own name
// without a circular reference).
let invoker: LambdaInvoker | undefined;
function workerDeps(): HandlerDeps {
  const name = config.workerFunctionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME;
  if (!invoker && name) invoker = new LambdaInvoker(makeLambdaClient(), name);
  return { ...defaultDeps(), invoker };
}

export const handler = createWorkerHandler(workerDeps);
