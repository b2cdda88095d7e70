/**
 * The events the functions accept, validated at the edge: an S3 notification, a direct
 * invoke of the coordinator, a slice descriptor, and an asynchronous invocation's
 * failure record (from the on-failure destination, delivered through SQS).
 */
import * as z from 'zod/mini';
import { type JobOptions, jobOptionsSchema } from '../job/options.ts';

const nonEmpty = z.string().check(z.minLength(1));

const s3Record = z.object({
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: nonEmpty }),
    object: z.object({ key: nonEmpty, size: z.optional(z.number()), eTag: z.optional(z.string()), versionId: z.optional(z.string()), sequencer: z.optional(z.string()) }),
  }),
});

export const s3EventSchema = z.object({ Records: z.array(s3Record).check(z.minLength(1)) });
export type S3Notification = z.infer<typeof s3EventSchema>;

export const directInvokeSchema = z.strictObject({ bucket: nonEmpty, key: nonEmpty, options: z.optional(jobOptionsSchema()) });

export const sliceTaskSchema = z.strictObject({ jobId: z.string().check(z.regex(/^[0-9a-f]{8,64}$/)), index: z.int().check(z.minimum(0)) });

/** Lambda's destination record for a failed asynchronous invocation. */
export const failureRecordSchema = z.object({
  requestContext: z.looseObject({ functionArn: z.optional(z.string()), condition: z.optional(z.string()), approximateInvokeCount: z.optional(z.number()) }),
  requestPayload: z.unknown(),
  responsePayload: z.optional(z.unknown()),
});

export const sqsEventSchema = z.object({
  Records: z.array(z.looseObject({ body: z.string(), eventSource: z.optional(z.literal('aws:sqs')) })).check(z.minLength(1)),
});

/** S3 event keys are URL-encoded, with '+' for a space. Decoded here, exactly once. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

export class EventValidationError extends Error {
  override name = 'EventValidationError';
}

export function parseEvent<T>(schema: z.ZodMiniType<T>, event: unknown, what: string): T {
  const r = schema.safeParse(event);
  if (!r.success) throw new EventValidationError(`not a valid ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** Why an invocation failed, from its failure record. */
export function failureReason(record: z.infer<typeof failureRecordSchema>): string {
  const p = record.responsePayload as { errorType?: string; errorMessage?: string } | undefined;
  const cond = record.requestContext.condition ?? 'failed';
  const tries = record.requestContext.approximateInvokeCount;
  return `${p?.errorType ?? 'Error'}: ${p?.errorMessage ?? cond}${tries ? ` (after ${tries} attempts)` : ''}`;
}

/** What an event asks the coordinator to start: an upload, pinned to what its event names. */
export interface StartRequest {
  bucket: string;
  key: string;
  /** options of a direct invoke: they win over metadata and defaults */
  options?: JobOptions;
  /** the upload the event names: its version id, else its ETag (and the event's sequencer) */
  pin?: { versionId?: string; etag?: string; sequencer?: string };
  /** the invocation handling it (Lambda's request id: its retries keep it, a duplicate event has its own) */
  invocation?: string;
}

/** The uploads an S3 event (or a direct invoke) names. */
export function startRequestsOf(event: unknown): StartRequest[] {
  if (event && typeof event === 'object' && 'Records' in event) {
    const s3 = parseEvent(s3EventSchema, event, 'S3 event');
    return s3.Records.filter((r) => r.eventName.startsWith('ObjectCreated')).map((r) => {
      const { versionId, eTag, sequencer } = r.s3.object;
      // An unversioned bucket's events say versionId "null" (or nothing).
      const pin = { ...(versionId && versionId !== 'null' ? { versionId } : {}), ...(eTag ? { etag: eTag } : {}), ...(sequencer ? { sequencer } : {}) };
      return { bucket: r.s3.bucket.name, key: decodeS3Key(r.s3.object.key), ...(Object.keys(pin).length > 0 ? { pin } : {}) };
    });
  }
  const direct = parseEvent(directInvokeSchema, event, 'coordinator invoke ({ bucket, key, options? })');
  return [{ bucket: direct.bucket, key: direct.key, ...(direct.options ? { options: direct.options } : {}) }];
}
