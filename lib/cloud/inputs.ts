/** The pipeline's port to input objects: what an upload is, and its bytes, pinned. */
import type { ByteSource } from '../core/source.ts';
import type { PinnedInput } from '../job/documents.ts';

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

export function inputIdentity(input: PinnedInput): string {
  return input.versionId ? `version:${input.versionId}` : `etag:${input.etag}`;
}

/** ETags compared as S3 does: with or without their quotes. */
export const sameEtag = (a: string, b: string): boolean => a.replace(/"/g, '') === b.replace(/"/g, '');

/** Whether `object` (a key's current object) is the upload `input` was pinned to. */
export function isUpload(object: PinnedInput | undefined, input: { etag: string; versionId?: string }): boolean {
  if (!object) return false;
  return input.versionId && object.versionId ? object.versionId === input.versionId : sameEtag(object.etag, input.etag);
}
