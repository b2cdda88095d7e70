/**
 * Merger: fires on the creation of a merge-tree node (S3 event). Also accepts, through
 * SQS, the failure records of the functions' asynchronous invocations: a worker that
 * failed after Lambda's retries marks its job failed.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { decodeS3Key, parseEvent, s3EventSchema, sqsEventSchema } from '../lib/cloud/events.ts';
import { type MergeOutcome, onFailureRecord, onNodeCreated } from '../lib/cloud/merger.ts';
import { parseNodeKey } from '../lib/job/keys.ts';
import { acceptEvent, defaultDeps, type HandlerDeps } from './runtime.ts';
import { LambdaInvoker, makeLambdaClient } from '../lib/cloud/aws/lambda-invoker.ts';
import { config } from './config.ts';

export type MergerResult = (MergeOutcome | { outcome: 'failure-recorded' | 'failure-logged' })[];

export function createMergerHandler(getDeps: () => HandlerDeps) {
  return middy<unknown, MergerResult, Error, Context>()
    .use(injectLambdaContext(getDeps().logger, { resetKeys: true }))
    .handler(async (event) => {
      const deps = getDeps();
      const { logger } = deps;
      const results: MergerResult = [];
      const records = (event as { Records?: { eventSource?: string }[] })?.Records;
      if (Array.isArray(records) && records[0]?.eventSource === 'aws:sqs') {
        for (const r of acceptEvent(logger, () => parseEvent(sqsEventSchema, event, 'SQS event')).Records) {
          const f = await onFailureRecord(deps, r.body);
          if ('rejected' in f) logger.error('rejected failure record', { error: f.rejected });
          else if ('functionArn' in f) logger.error('an invocation failed after its retries', { reason: f.reason, function: f.functionArn });
          else if ('jobs' in f) logger.error(`the ${f.function} failed after its retries`, { reason: f.reason, marked: f.jobs });
          else {
            logger.appendKeys({ jobId: f.jobId, slice: f.index });
            logger.error('slice failed after its retries', { reason: f.reason, recorded: f.outcome === 'failure-recorded' ? 'recorded' : 'unknown-job' });
          }
          results.push({ outcome: f.outcome });
        }
        return results;
      }
      const s3 = acceptEvent(logger, () => parseEvent(s3EventSchema, event, 'S3 event'));
      for (const r of s3.Records) {
        const key = decodeS3Key(r.s3.object.key);
        const node = parseNodeKey(key);
        if (node) logger.appendKeys({ jobId: node.jobId, treeLevel: node.level, treeNode: node.index });
        const outcome = await onNodeCreated(deps, key);
        if (outcome.outcome === 'ignored') logger.warn('ignored', { key, reason: outcome.reason });
        else logger.info('merge step', { ...outcome });
        results.push(outcome);
      }
      return results;
    });
}

// The merger invokes the next slice of a job's worker chain when a slice finishes.
let invoker: LambdaInvoker | undefined;
function mergerDeps(): HandlerDeps {
  if (!invoker && config.workerFunctionName) invoker = new LambdaInvoker(makeLambdaClient(), config.workerFunctionName);
  return { ...defaultDeps(), invoker };
}

export const handler = createMergerHandler(mergerDeps);
