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

/**
 * Scans one slice and commits its partial as the object `key` (the cloud's merge-tree
 * leaf), create-only. `invocation` (the Lambda request id, the same for its retries) is
 * recorded in the partial's run story: `mine` says whether this invocation committed it,
 * also when its create landed but the answer was lost and a retried create found it.
 */
export async function runSlice(
  store: BlobStore,
  key: string,
  source: ByteSource,
  spec: JobSpec,
  index: number,
  analysis: Analysis,
  options: SliceRunOptions & { invocation?: string } = {},
): Promise<{ partial: Partial; created: boolean; mine: boolean }> {
  const { invocation, ...scanOptions } = options;
  const scanned = await scanSlice(source, spec, index, analysis, scanOptions);
  const partial: Partial = invocation ? { ...scanned, run: { ...scanned.run, invocation } as Partial['run'] } : scanned;
  const created = await store.putIfAbsent(key, encodePartial(partial));
  let mine = created;
  if (!created) {
    const existing = await store.get(key);
    const found = existing && decodePartial(existing, key);
    if (found && partialContent(found) !== partialContent(partial)) {
      throw new PartialConflictError(`${key} already exists with different content: the input or the analysis changed under job ${spec.id}`);
    }
    mine = !!found && invocation !== undefined && (found.run as { invocation?: unknown }).invocation === invocation;
  }
  return { partial, created, mine };
}
