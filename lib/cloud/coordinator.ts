/**
 * The coordinator use case: an object arrived (or a direct invoke names one). Pin its
 * version, plan the job, write the manifest create-only, and invoke one worker per
 * slice with a descriptor (job id + index, never data).
 *
 * Safe to run twice: the job id is a hash of the input's identity and the options, so
 * a duplicate event finds the manifest. It then re-invokes the slices whose partial is
 * missing (the first run may have died half way); workers skip finished slices. See
 * restartJob for what else a second start of the same job does.
 */
import type { Analysis } from '../core/analysis.ts';
import { builtinAnalyses } from '../core/analyses/index.ts';
import { InputError, UsageError } from '../core/errors.ts';
import { planJob } from '../core/plan.ts';
import type { BlobStore, Invoker } from '../job/ports.ts';
import { type CloudManifest, failedPointer, jobPointer, newManifest, pointedJob, readPointer, readStatus, reasonOf, writeManifest, writePointer, writeStatus } from '../job/documents.ts';
import { levelPrefix, nodeKey, parseNodeKey, resultKey, resultKeyForInput } from '../job/keys.ts';
import { inputIdentity, type InputObjects } from './inputs.ts';
import { DEFAULT_CONCURRENCY, type JobOptions, mergeJobOptions, optionsFromMetadata, planOptionsFor } from '../job/options.ts';
import { groupMembers, levelSizes } from './tree.ts';

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
  /** done before, and its result published again: earlier bytes uploaded again */
  | { outcome: 'republished'; jobId: string; slices: number; invoked: number }
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

/**
 * The job's `concurrency` option (deployment default, then the upload's metadata, then a
 * direct invoke) is the one bound on worker invocations in flight: the invoker adds none.
 */
export async function startJob(deps: CoordinatorDeps, req: StartRequest): Promise<StartOutcome> {
  const now = deps.now ?? Date.now;
  const object = await deps.inputs.describe(req.bucket, req.key);
  // Deleted or replaced before we got here: the event of the replacement plans it.
  if (!object) return { outcome: 'gone' };
  const where = `s3://${req.bucket}/${req.key}`;
  try {
    const opts = mergeJobOptions(deps.defaults, optionsFromMetadata(object.metadata, where), req.options ?? {});
    const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
    const name = opts.analysis ?? 'sum';
    const analysis = resolveAnalysis(name);
    const source = deps.inputs.open(object, 1 << 20);
    const spec = await planJob(source, { name, options: opts.options ?? {}, needsFrames: analysis.needsFrames ?? false, wholeFrames: analysis.wholeFrames ?? false }, planOptionsFor(opts, object.size), inputIdentity(object));
    const pinned = { bucket: object.bucket, key: object.key, size: object.size, etag: object.etag, ...(object.versionId ? { versionId: object.versionId } : {}) };
    const manifest = newManifest(spec, now(), { input: pinned, fanin: deps.fanin, resultKey: resultKeyForInput(req.key) });
    const created = await writeManifest(deps.store, manifest);
    if (created) {
      await writeStatus(deps.store, { state: 'running', job: spec.id, input: { bucket: req.bucket, key: req.key }, slices: spec.sliceCount }, now());
      await writePointer(deps.store, jobPointer(manifest));
      await forEachLimit(
        Array.from({ length: spec.sliceCount }, (_, i) => i),
        concurrency,
        (index) => deps.invoker.invoke({ jobId: spec.id, index }),
      );
      return { outcome: 'started', jobId: spec.id, slices: spec.sliceCount, invoked: spec.sliceCount };
    }
    return await restartJob(deps, manifest, concurrency);
  } catch (e) {
    if (e instanceof UsageError || e instanceof InputError) {
      // No job id exists before planning succeeds: the pointer is where the user looks.
      await writePointer(deps.store, failedPointer({ bucket: req.bucket, key: req.key, etag: object.etag }, reasonOf(e), now()));
    }
    throw e;
  }
}

/**
 * The job exists already: its input's current bytes are the ones it was planned on. That
 * is a duplicate event, a retry after a crash, a user uploading the same bytes again to
 * retry a failed job, or (on an unversioned bucket, where the job id comes from the
 * ETag) earlier bytes uploaded again after others. In every case the job is the newest
 * of its input again, and must end with its result published under results/:
 * - done, and still the input's newest job: nothing to do;
 * - otherwise the pointer names it again, a failed status goes back to running (the
 *   cause may have been transient; a deterministic one fails again), the slices without
 *   a partial are invoked, and when none is missing the merges are fired again (see
 *   refireMerges: the merger alone may publish under results/).
 */
async function restartJob(deps: CoordinatorDeps, manifest: CloudManifest, concurrency: number): Promise<StartOutcome> {
  const { spec } = manifest;
  const now = deps.now ?? Date.now;
  const done = await deps.store.head(resultKey(spec.id));
  const pointer = done ? await readPointer(deps.store, manifest.input.key) : undefined;
  if (pointer && pointedJob(pointer) === spec.id) return { outcome: 'already-done', jobId: spec.id };

  const status = await readStatus(deps.store, spec.id);
  if (!status || status.state === 'failed') {
    await writeStatus(deps.store, { state: 'running', job: spec.id, input: { bucket: manifest.input.bucket, key: manifest.input.key }, slices: spec.sliceCount }, now());
  }
  await writePointer(deps.store, jobPointer(manifest));
  const leaves = await nodesPresent(deps.store, spec.id, 0);
  const missing = Array.from({ length: spec.sliceCount }, (_, i) => i).filter((i) => !leaves.has(i));
  await forEachLimit(missing, concurrency, (index) => deps.invoker.invoke({ jobId: spec.id, index }));
  if (missing.length === 0) await refireMerges(deps.store, manifest, leaves);
  return { outcome: done ? 'republished' : 'resumed', jobId: spec.id, slices: spec.sliceCount, invoked: missing.length };
}

/**
 * Every slice has its partial: fires the merge of every complete group of the tree whose
 * parent is missing (a merge still under way, or one lost for good when its invocation
 * failed past its retries), and the final merge when the top group is complete, by
 * rewriting one member with its own bytes. The merges above follow from their events.
 * One list call per level (per 1000 nodes); `leaves` are the slices' nodes, listed already.
 */
async function refireMerges(store: BlobStore, manifest: CloudManifest, leaves: Set<number>): Promise<void> {
  const { spec, fanin } = manifest;
  const sizes = levelSizes(spec.sliceCount, fanin);
  let below = leaves;
  for (let level = 1; level < sizes.length; level++) {
    const present = await nodesPresent(store, spec.id, level);
    // A complete group of the level below whose node on this level is missing.
    for (let group = 0; group < sizes[level]!; group++) {
      if (present.has(group)) continue;
      const { first, count } = groupMembers(sizes[level - 1]!, fanin, group);
      if (Array.from({ length: count }, (_, i) => first + i).every((i) => below.has(i))) await rewrite(store, nodeKey(spec.id, level - 1, first, fanin));
    }
    below = present;
  }
  // The top group, complete: the final merge (it publishes, or finds the job done).
  const top = sizes.length - 1;
  if (below.size === sizes[top]) await rewrite(store, nodeKey(spec.id, top, 0, fanin));
}

/** The indexes of a tree level's nodes that exist: one list call per 1000 nodes. */
async function nodesPresent(store: BlobStore, jobId: string, level: number): Promise<Set<number>> {
  const present = new Set<number>();
  for (const k of await store.list(levelPrefix(jobId, level))) {
    const ref = parseNodeKey(k);
    if (ref?.level === level) present.add(ref.index);
  }
  return present;
}

async function rewrite(store: BlobStore, key: string): Promise<void> {
  const body = await store.get(key);
  if (body) await store.put(key, body);
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
