/**
 * The worker use case: scan one slice and commit its partial, create-only. Running it
 * twice is harmless: the second run finds the partial and checks it says the same.
 */
import type { Analysis } from '../core/analysis.ts';
import { FanoutError } from '../core/errors.ts';
import { type Partial, type SliceRunOptions, scanSlice } from '../core/job.ts';
import type { JobSpec } from '../core/plan.ts';
import { stableStringify } from '../core/plan.ts';
import type { BlobStore, ByteSource } from '../ports.ts';
import { partialKey } from './keys.ts';

export class PartialConflictError extends FanoutError {
  override name = 'PartialConflictError';
}

/** The part of a partial that must be the same every time the slice is scanned. */
export function partialContent(p: Partial): string {
  const { run: _run, ...content } = p;
  return stableStringify(content);
}

export function decodePartial(body: Uint8Array): Partial {
  return JSON.parse(new TextDecoder().decode(body)) as Partial;
}

export async function runSlice(
  store: BlobStore,
  source: ByteSource,
  spec: JobSpec,
  index: number,
  analysis: Analysis,
  /** `key`: where the partial goes, when not the local runtime's partialKey (the cloud's merge tree). */
  options: SliceRunOptions & { key?: string } = {},
): Promise<{ partial: Partial; created: boolean }> {
  const partial = await scanSlice(source, spec, index, analysis, options);
  const key = options.key ?? partialKey(spec.id, index);
  const created = await store.putIfAbsent(key, JSON.stringify(partial));
  if (!created) {
    const existing = await store.get(key);
    if (existing && partialContent(decodePartial(existing)) !== partialContent(partial)) {
      throw new PartialConflictError(`${key} already exists with different content: the input or the analysis changed under job ${spec.id}`);
    }
  }
  return { partial, created };
}
