/**
 * The coordinator use case: an object arrived (or a direct invoke names one). Pin its
 * version, plan the job, write the manifest create-only, and invoke one worker per
 * slice with a descriptor (job id + index, never data).
 *
 * Safe to run twice: the job id is a hash of the input's identity and the options, so
 * a duplicate event finds the manifest. It then re-invokes the slices whose partial is
 * missing (the first run may have died half way); workers skip finished slices.
 */
import type { Analysis } from '../core/analysis.ts';
import { builtinAnalyses } from '../core/analyses/index.ts';
import { InputError, UsageError } from '../core/errors.ts';
import { planJob } from '../core/plan.ts';
import type { BlobStore, Invoker } from '../ports.ts';
import { inputPointerKey, type Manifest, readStatus, reasonOf, resultKeyForInput, writeStatus } from './documents.ts';
import { inputIdentity, type InputObjects } from './inputs.ts';
import { jobPrefix, manifestKey, resultKey } from './keys.ts';
import { type JobOptions, mergeJobOptions, optionsFromMetadata, planOptionsFor } from './options.ts';
import { parseNodeKey } from './tree.ts';

export interface CoordinatorDeps {
  store: BlobStore;
  inputs: InputObjects;
  invoker: Invoker;
  defaults: JobOptions;
  fanin: number;
  now?: () => number;
}

export interface StartRequest {
  bucket: string;
  key: string;
  /** options of a direct invoke: they win over metadata and defaults */
  options?: JobOptions;
}

export type StartOutcome =
  | { outcome: 'started' | 'resumed'; jobId: string; slices: number; invoked: number }
  | { outcome: 'already-done'; jobId: string }
  | { outcome: 'gone' };

export class InputMissingError extends UsageError {
  override name = 'InputMissingError';
}

/** Looks the analysis up by name in the registry: no module paths in a Lambda. */
export function resolveAnalysis(name: string): Analysis {
  const analysis = builtinAnalyses[name];
  if (!analysis) throw new UsageError(`unknown analysis ${JSON.stringify(name)}: this deployment has ${Object.keys(builtinAnalyses).join(', ')}`);
  return analysis as Analysis;
}

export async function startJob(deps: CoordinatorDeps, req: StartRequest, concurrency = 64): Promise<StartOutcome> {
  const now = deps.now ?? Date.now;
  const object = await deps.inputs.describe(req.bucket, req.key);
  // Deleted or replaced before we got here: the event of the replacement plans it.
  if (!object) return { outcome: 'gone' };
  const where = `s3://${req.bucket}/${req.key}`;
  try {
    const opts = mergeJobOptions(deps.defaults, optionsFromMetadata(object.metadata, where), req.options ?? {});
    const name = opts.analysis ?? 'sum';
    const analysis = resolveAnalysis(name);
    const source = deps.inputs.open(object, 1 << 20);
    const spec = await planJob(source, { name, options: opts.options ?? {}, needsFrames: analysis.needsFrames ?? false, wholeFrames: analysis.wholeFrames ?? false }, planOptionsFor(opts, object.size), inputIdentity(object));
    const pinned = { bucket: object.bucket, key: object.key, size: object.size, etag: object.etag, ...(object.versionId ? { versionId: object.versionId } : {}) };
    const manifest: Manifest = { version: 1, spec, input: pinned, fanin: deps.fanin, resultKey: resultKeyForInput(req.key), createdAt: now() };
    const created = await deps.store.putIfAbsent(manifestKey(spec.id), JSON.stringify(manifest, null, 2));
    if (!created && (await deps.store.head(resultKey(spec.id)))) return { outcome: 'already-done', jobId: spec.id };
    // A first run that died right after the manifest left no status and no pointer: a retry writes them.
    if (created || !(await readStatus(deps.store, spec.id))) {
      await writeStatus(deps.store, { state: 'running', job: spec.id, input: { bucket: req.bucket, key: req.key }, slices: spec.sliceCount }, now());
      await deps.store.put(inputPointerKey(req.key), JSON.stringify({ job: spec.id, input: pinned, status: `jobs/${spec.id}/status.json`, result: manifest.resultKey }, null, 2));
    }
    // A re-run invokes only the slices without a partial: one list call per 1000 slices.
    const done = new Set<number>();
    if (!created) for (const k of await deps.store.list(`${jobPrefix(spec.id)}tree/0/`)) done.add(parseNodeKey(k)?.index ?? -1);
    const indices = Array.from({ length: spec.sliceCount }, (_, i) => i).filter((i) => !done.has(i));
    await forEachLimit(indices, opts.concurrency ?? concurrency, (index) => deps.invoker.invoke({ jobId: spec.id, index }));
    return { outcome: created ? 'started' : 'resumed', jobId: spec.id, slices: spec.sliceCount, invoked: indices.length };
  } catch (e) {
    if (e instanceof UsageError || e instanceof InputError) {
      // No job id exists before planning succeeds: the pointer is where the user looks.
      await deps.store.put(inputPointerKey(req.key), JSON.stringify({ state: 'failed', input: { bucket: req.bucket, key: req.key, etag: object.etag }, reason: reasonOf(e), at: new Date(now()).toISOString() }, null, 2));
    }
    throw e;
  }
}

/** Runs fn over items with at most `limit` calls in flight; the first error stops new calls. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}
