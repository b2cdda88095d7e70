/** The pipeline's port to input objects: what an upload is, and its bytes, pinned. */
import type { ByteSource } from '../core/source.ts';
import type { PinnedInput } from '../job/documents.ts';

export type { PinnedInput };

export interface InputObject extends PinnedInput {
  /** user metadata, names without the x-amz-meta- prefix */
  metadata: Record<string, string>;
}

export interface InputObjects {
  describe(bucket: string, key: string): Promise<InputObject | undefined>;
  /** `partBytes`: how much one read request asks for (a slice's length, typically). */
  open(input: PinnedInput, partBytes?: number): ByteSource & { identity: string };
}

export function inputIdentity(input: PinnedInput): string {
  return input.versionId ? `version:${input.versionId}` : `etag:${input.etag}`;
}
