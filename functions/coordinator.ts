/**
 * Coordinator: an upload under input/ (S3 event) or a direct invoke naming bucket, key
 * and options. Plans the job and invokes one worker per slice. A redrive request under
 * redrive/ (fanout redrive) redrives its failed job (lib/cloud/redrive.ts).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { LambdaInvoker, makeLambdaClient } from '../lib/cloud/aws/lambda-invoker.ts';
import { config } from './config.ts';
import { FanoutError } from '../lib/core/errors.ts';
import { type StartOutcome, startJob } from '../lib/cloud/coordinator.ts';
import { type StartRequest, startRequestsOf } from '../lib/cloud/events.ts';
import { type RedriveOutcome, redriveJob } from '../lib/cloud/redrive.ts';
import { parseRedriveKey, REDRIVE_PREFIX } from '../lib/job/keys.ts';
import { acceptEvent, defaultDeps, type HandlerDeps } from './runtime.ts';

export type CoordinatorResult = (StartOutcome | RedriveOutcome | { outcome: 'failed'; reason: string })[];

export function requestsOf(event: unknown): StartRequest[] {
  return startRequestsOf(event);
}

export function createCoordinatorHandler(getDeps: () => HandlerDeps) {
  return middy<unknown, CoordinatorResult, Error, Context>()
    .use(injectLambdaContext(getDeps().logger, { resetKeys: true }))
    .handler(async (event, context) => {
      const deps = getDeps();
      const { logger } = deps;
      const requests = acceptEvent(logger, () => requestsOf(event));
      if (!deps.invoker) throw new Error('WORKER_FUNCTION_NAME is not set: the coordinator cannot invoke workers');
      const results: CoordinatorResult = [];
      for (const [i, r0] of requests.entries()) {
        // Lambda's request id names this invocation; its retries keep it, a duplicate event has its own.
        const id = context?.awsRequestId;
        const req: StartRequest = id ? { ...r0, invocation: requests.length > 1 ? `${id}#${i}` : id } : r0;
        logger.appendKeys({ bucket: req.bucket, key: req.key });
        // `fanout redrive`'s request (redrive/<job>/<request>.json), not an upload.
        const redrive = parseRedriveKey(req.key);
        if (redrive) {
          const r = await redriveJob({ ...deps, invoker: deps.invoker }, redrive.jobId, redrive.requestId);
          logger.info('redrive', { ...r });
          results.push(r);
          continue;
        }
        if (req.key.startsWith(REDRIVE_PREFIX)) {
          logger.warn('ignored: not a redrive request (redrive/<job id>/<request id>.json)');
          results.push({ outcome: 'failed', reason: `${req.key} is not a redrive request` });
          continue;
        }
        try {
          const r = await startJob({ ...deps, invoker: deps.invoker }, req);
          logger.info('coordinated', { ...r });
          results.push(r);
        } catch (e) {
          // Bad options or bad bytes fail the same way on every retry: record and stop.
          if (!(e instanceof FanoutError)) throw e;
          logger.error('job failed during planning', { reason: e.message });
          results.push({ outcome: 'failed', reason: e.message });
        }
      }
      return results;
    });
}

// The Lambda client is built here rather than in defaultDeps: the worker and the merger
// never invoke a function, and leaving @aws-sdk/client-lambda out of their bundles saves
// about 110 KiB of code to load at every cold start.
let invoker: LambdaInvoker | undefined;
function coordinatorDeps(): HandlerDeps {
  // No bound of its own: startJob keeps the job's `concurrency` invocations in flight, so an
  // upload's fanout-concurrency can raise the cap as well as lower it.
  if (!invoker && config.workerFunctionName) invoker = new LambdaInvoker(makeLambdaClient(), config.workerFunctionName);
  return { ...defaultDeps(), invoker };
}

export const handler = createCoordinatorHandler(coordinatorDeps);
