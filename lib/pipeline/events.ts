/**
 * The events the functions accept, validated at the edge: an S3 notification, a direct
 * invoke of the coordinator, a slice descriptor, and an asynchronous invocation's
 * failure record (from the on-failure destination, delivered through SQS).
 */
import { z } from 'zod';
import { jobOptionsSchema } from './options.ts';

const s3Record = z.object({
  eventName: z.string(),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({ key: z.string().min(1), size: z.number().optional(), eTag: z.string().optional(), versionId: z.string().optional() }),
  }),
});

export const s3EventSchema = z.object({ Records: z.array(s3Record).min(1) });
export type S3Notification = z.infer<typeof s3EventSchema>;

export const directInvokeSchema = z.object({ bucket: z.string().min(1), key: z.string().min(1), options: jobOptionsSchema.optional() }).strict();

export const sliceTaskSchema = z.object({ jobId: z.string().regex(/^[0-9a-f]{8,64}$/), index: z.number().int().min(0) }).strict();

/** Lambda's destination record for a failed asynchronous invocation. */
export const failureRecordSchema = z.object({
  requestContext: z.object({ functionArn: z.string().optional(), condition: z.string().optional(), approximateInvokeCount: z.number().optional() }).loose(),
  requestPayload: z.unknown(),
  responsePayload: z.unknown().optional(),
});

export const sqsEventSchema = z.object({ Records: z.array(z.object({ body: z.string(), eventSource: z.literal('aws:sqs').optional() }).loose()).min(1) });

/** S3 event keys are URL-encoded, with '+' for a space. Decoded here, exactly once. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

export class EventValidationError extends Error {
  override name = 'EventValidationError';
}

export function parseEvent<T>(schema: z.ZodType<T>, event: unknown, what: string): T {
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
