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
      const r = await runWorkerTask(deps, task, { signal, worker: context.logStreamName || context.awsRequestId || 'lambda', coldStart: first, remainingMs: () => context.getRemainingTimeInMillis() });
      if (r.outcome === 'failed') logger.error('slice failed', { reason: r.reason });
      else logger.info('slice scanned', { ...r });
      return r;
    });
}

export const handler = createWorkerHandler(defaultDeps);
