/** The pipeline's port to input objects: what an upload is, and its bytes, pinned. */
import { UsageError } from '../core/errors.ts';
import { PartsSource } from '../core/parts.ts';
import { readHead } from '../core/plan.ts';
import type { ByteSource } from '../core/source.ts';
import type { PinnedInput } from '../job/documents.ts';
import { isJobFileKey, type JobFile, MAX_JOB_FILE_BYTES, parseJobFile, PART_METADATA, partKeys } from '../job/job-file.ts';
import type { JobOptions } from '../job/options.ts';

export type { PinnedInput };

export interface InputObject extends PinnedInput {
  /** user metadata, names without the x-amz-meta- prefix */
  metadata: Record<string, string>;
}

/** Which upload of a key an event names: its version id, else its ETag (quotes or none). */
export interface InputPin {
  versionId?: string;
  etag?: string;
}

export interface InputObjects {
  /**
   * The upload a pin names (its version, or the current object if its ETag still matches:
   * undefined once overwritten), or without a pin the key's current object; undefined if gone.
   */
  describe(bucket: string, key: string, pin?: InputPin): Promise<InputObject | undefined>;
  /** `partBytes`: how much one read request asks for (a slice's length, typically). */
  open(input: PinnedInput, partBytes?: number): ByteSource & { identity: string };
}

const objectIdentity = (input: Omit<PinnedInput, 'parts'>): string => (input.versionId ? `version:${input.versionId}` : `etag:${input.etag}`);

/** What pins the input's content: its version or ETag, and for a job file its parts' too. */
export function inputIdentity(input: PinnedInput): string {
  return [input, ...(input.parts ?? [])].map(objectIdentity).join('+');
}

/** ETags compared as S3 does: with or without their quotes. */
export const sameEtag = (a: string, b: string): boolean => a.replace(/"/g, '') === b.replace(/"/g, '');

/** Whether `object` (a key's current object) is the upload `input` was pinned to. */
export function isUpload(object: PinnedInput | undefined, input: { etag: string; versionId?: string }): boolean {
  if (!object) return false;
  return input.versionId && object.versionId ? object.versionId === input.versionId : sameEtag(object.etag, input.etag);
}

// ---------------------------------------------------------------------------------------
// One job over several objects (lib/job/job-file.ts)

/** A part of a trajectory in parts, uploaded before its job file: its own event starts nothing. */
export const isPartUpload = (object: InputObject): boolean => object.metadata[PART_METADATA] !== undefined;

const pin = (o: PinnedInput): PinnedInput => ({ bucket: o.bucket, key: o.key, size: o.size, etag: o.etag, ...(o.versionId ? { versionId: o.versionId } : {}) });
const url = (bucket: string, key: string): string => `s3://${bucket}/${key}`;
/** HEADs in flight while a job file's parts are pinned. */
const DESCRIBE_CONCURRENCY = 16;

/**
 * What a job reads: the uploaded object itself, or for a job file (`*.fanout.json`) the
 * objects it lists, each pinned to its version (or ETag) as it is now, with the job
 * file's options. A part that does not exist fails here, naming it.
 */
export async function resolveInput(inputs: InputObjects, object: InputObject): Promise<{ input: PinnedInput; options: JobOptions }> {
  if (!isJobFileKey(object.key)) return { input: pin(object), options: {} };
  const where = url(object.bucket, object.key);
  const file: JobFile = parseJobFile(await readHead(inputs.open(pin(object)), Math.min(object.size, MAX_JOB_FILE_BYTES + 1)), where);
  const keys = partKeys(object.key, file);
  const parts: PinnedInput[] = new Array(keys.length);
  for (let from = 0; from < keys.length; from += DESCRIBE_CONCURRENCY) {
    await Promise.all(
      keys.slice(from, from + DESCRIBE_CONCURRENCY).map(async (key, k) => {
        const i = from + k;
        const part = await inputs.describe(object.bucket, key);
        if (!part) throw new UsageError(`${where}: part ${i + 1} of ${keys.length}, ${url(object.bucket, key)}: no such object (upload the parts before the job file, then upload the job file again)`);
        parts[i] = pin(part);
      }),
    );
  }
  return { input: { ...pin(object), parts }, options: file.options ?? {} };
}

/** The bytes a job reads, pinned: one object, or a job file's parts one after the other (named by the job file). */
export function openInput(inputs: InputObjects, input: PinnedInput, partBytes?: number): ByteSource & { identity: string } {
  if (!input.parts) return inputs.open(input, partBytes);
  const identity = inputIdentity(input);
  return Object.assign(
    new PartsSource(
      input.parts.map((p) => inputs.open(p, partBytes)),
      url(input.bucket, input.key),
    ),
    { identity },
  );
}
