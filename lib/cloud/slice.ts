/**
 * Scanning one slice and committing its partial as one object, create-only: the cloud
 * worker's step. Running it twice is harmless: the second run finds the partial and
 * checks it says the same. (The embedded runtime appends partials to a PartialLog
 * instead; the rule that a slice committed twice says the same is shared.)
 */
import type { Analysis } from '../core/analysis.ts';
import { type Partial, type SliceRunOptions, scanSlice } from '../core/job.ts';
import type { JobSpec } from '../core/plan.ts';
import { decodePartial, encodePartial, PartialConflictError, partialContent } from '../job/documents.ts';
import type { BlobStore, ByteSource } from '../job/ports.ts';

/** Scans one slice and commits its partial as the object `key` (the cloud's merge-tree leaf), create-only. */
export async function runSlice(
  store: BlobStore,
  key: string,
  source: ByteSource,
  spec: JobSpec,
  index: number,
  analysis: Analysis,
  options: SliceRunOptions = {},
): Promise<{ partial: Partial; created: boolean }> {
  const partial = await scanSlice(source, spec, index, analysis, options);
  const created = await store.putIfAbsent(key, encodePartial(partial));
  if (!created) {
    const existing = await store.get(key);
    if (existing && partialContent(decodePartial(existing, key)) !== partialContent(partial)) {
      throw new PartialConflictError(`${key} already exists with different content: the input or the analysis changed under job ${spec.id}`);
    }
  }
  return { partial, created };
}
