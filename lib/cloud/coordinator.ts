/**
 * The coordinator use case: an upload arrived (or a direct invoke names a key). Plan the
 * upload its event names (version id, or ETag while still current), check the options
 * against the stack's limits, claim the input pointer for the job (only the newest
 * upload can: publish.ts), write the manifest create-only, and invoke the job's first
 * `maxWorkers` slices with a descriptor (job id + index, never data); each finished slice
 * invokes the next of its chain (merger.ts).
 *
 * Safe to run twice: the job id is a hash of the input's identity and the options, so
 * a duplicate event finds the manifest. A retry of the invocation that planned it (the
 * manifest names it) re-invokes the first missing slice of each worker chain (it may
 * have died half way); a duplicate event of a running job invokes none. See restartJob
 * for what else a second start of the same job does.
 */
import { traitsOf } from '../core/analysis.ts';
import { resolveAnalysis } from './analyses.ts';
import { InputError, SourceChangedError, UsageError } from '../core/errors.ts';
import { planJob } from '../core/plan.ts';
import type { BlobStore, Invoker } from '../job/ports.ts';
import { type CloudManifest, decodeManifest, failedPointer, jobPointer, type JobStatus, newManifest, pointedJob, readStatus, reasonOf, type UploadMark, writeManifest, writeStatus } from '../job/documents.ts';
import { manifestKey, resultKey, resultKeyForInput } from '../job/keys.ts';
import { inputIdentity, type InputObject, type InputObjects, isPartUpload, openInput, resolveInput } from './inputs.ts';
import { checkLimits, DEFAULT_CONCURRENCY, DEFAULT_LIMITS, type JobOptions, mergeJobOptions, optionsFromMetadata, planOptionsFor, type StackLimits, toleratedFailuresOf, UPLOAD_ID_METADATA } from '../job/options.ts';
import type { StartRequest } from './events.ts';
import { claimPointer, markSuperseded, publishedJob } from './publish.ts';
import { lostMerges, nodesPresent, refireMerge } from './advance.ts';

export interface CoordinatorDeps {
  store: BlobStore;
  inputs: InputObjects;
  invoker: Invoker;
  defaults: JobOptions;
  fanin: number;
  /** what the deployment allows any job (default: DEFAULT_LIMITS) */
  limits?: StackLimits;
  now?: () => number;
}

export type { StartRequest };

export type StartOutcome =
  | { outcome: 'started' | 'resumed'; jobId: string; slices: number; invoked: number }
  | { outcome: 'already-done'; jobId: string }
  /** done before, and its result published again: earlier bytes uploaded again */
  | { outcome: 'republished'; jobId: string; slices: number; invoked: number }
  /** a newer upload of the key exists: its event plans it, this one starts nothing */
  | { outcome: 'superseded'; jobId?: string }
  /** a part of a trajectory in parts (fanout-part metadata): its job file's upload starts the job */
  | { outcome: 'part' }
  | { outcome: 'gone' };

export class InputMissingError extends UsageError {
  override name = 'InputMissingError';
}

export { resolveAnalysis };

/** The upload's marks for its pointer: the event's sequencer and fanout submit's upload id. */
function uploadMark(req: StartRequest, object: InputObject): UploadMark {
  const id = object.metadata[UPLOAD_ID_METADATA];
  return { ...(req.pin?.sequencer ? { sequencer: req.pin.sequencer } : {}), ...(id ? { id } : {}) };
}

/**
 * Plans the upload the event names (its version, or its ETag while it is still the
 * object's), claims the input pointer for it (only the newest upload can: publish.ts),
 * writes the manifest create-only and invokes the job's first workers: `maxWorkers` of
 * them, each finished slice invoking the next (see onNodeCreated), with at most
 * `concurrency` Invoke calls in flight.
 */
export async function startJob(deps: CoordinatorDeps, req: StartRequest): Promise<StartOutcome> {
  const now = deps.now ?? Date.now;
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const object = await deps.inputs.describe(req.bucket, req.key, req.pin);
  // Deleted, or (pinned by ETag) overwritten before we got here: the newer upload's event plans it.
  if (!object) return req.pin?.etag || req.pin?.versionId ? { outcome: 'superseded' } : { outcome: 'gone' };
  if (isPartUpload(object)) return { outcome: 'part' };
  const where = `s3://${req.bucket}/${req.key}`;
  const mark = uploadMark(req, object);
  let manifest: CloudManifest;
  let concurrency: number;
  try {
    // The object itself, or a job file's parts, each pinned (inputs.ts).
    const { input: pinned, options: fileOptions } = await resolveInput(deps.inputs, object);
    const opts = mergeJobOptions(deps.defaults, optionsFromMetadata(object.metadata, where), fileOptions, req.options ?? {});
    checkLimits(opts, limits, where);
    concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
    const asked = opts.analysis ?? 'sum';
    // A chained analysis (rmsf) starts with its first stage; the merger that finishes it starts the rest.
    const chained = resolveAnalysis(asked).chain !== undefined && opts.options?.reference === undefined;
    const name = chained ? resolveAnalysis(asked).chain!.first : asked;
    const analysis = resolveAnalysis(name);
    const source = openInput(deps.inputs, pinned, 1 << 20);
    const options = { ...opts.options, ...(chained ? { then: asked } : {}) };
    const spec = await planJob(source, { name, options, ...traitsOf(analysis) }, planOptionsFor(opts, source.size), inputIdentity(pinned));
    const createdAt = now();
    manifest = newManifest(spec, createdAt, {
      input: pinned,
      fanin: deps.fanin,
      resultKey: resultKeyForInput(req.key),
      deadlineAt: createdAt + limits.jobTimeoutSeconds * 1000,
      maxWorkers: Math.min(opts.maxWorkers ?? limits.maxWorkersPerJob, limits.maxWorkersPerJob),
      toleratedFailures: toleratedFailuresOf(opts, spec.sliceCount),
      ...(req.invocation ? { coordinator: req.invocation } : {}),
    });
  } catch (e) {
    // Overwritten (an unversioned bucket) or deleted while we read its header: the newer upload's event plans it.
    if (e instanceof SourceChangedError) return { outcome: 'superseded' };
    if (e instanceof UsageError || e instanceof InputError) {
      // No job id exists before planning succeeds: the pointer is where the user looks,
      // if this upload is still the newest.
      const pinned = { bucket: req.bucket, key: req.key, etag: object.etag, ...(object.versionId ? { versionId: object.versionId } : {}) };
      await claimPointer(deps.store, deps.inputs, failedPointer(pinned, reasonOf(e), now(), mark));
    }
    throw e;
  }
  const { spec } = manifest;
  const claim = await claimPointer(deps.store, deps.inputs, jobPointer(manifest, mark));
  if (!claim.claimed) return { outcome: 'superseded', jobId: spec.id };
  const previous = claim.previous && pointedJob(claim.previous);
  if (previous && previous !== spec.id) {
    await markSuperseded(deps.store, previous, `a newer upload of ${where} started job ${spec.id}, which owns ${manifest.resultKey}`, now(), true);
  }
  const created = await writeManifest(deps.store, manifest);
  if (created) {
    await writeStatus(deps.store, runningStatus(manifest, manifest.deadlineAt!), now());
    const first = Math.min(spec.sliceCount, manifest.maxWorkers ?? spec.sliceCount);
    await forEachLimit(
      Array.from({ length: first }, (_, i) => i),
      concurrency,
      (index) => deps.invoker.invoke({ jobId: spec.id, index }),
    );
    return { outcome: 'started', jobId: spec.id, slices: spec.sliceCount, invoked: first };
  }
  return await restartJob(deps, manifest, concurrency, limits, req.invocation);
}

function runningStatus(manifest: CloudManifest, deadlineAt: number): Omit<JobStatus, 'at'> {
  const { spec, input } = manifest;
  return { state: 'running', job: spec.id, input: { bucket: input.bucket, key: input.key }, slices: spec.sliceCount, deadline: new Date(deadlineAt).toISOString() };
}

/**
 * The job exists already, and this upload (just claimed the pointer for it) is its
 * input's newest: a duplicate event, a retry after a crash, a user uploading the same
 * bytes again to retry a failed job, or (on an unversioned bucket, where the job id comes
 * from the ETag) earlier bytes uploaded again after others. In every case the job must
 * end with its result published under results/:
 * - done, and its result is the one under results/: nothing to do;
 * - otherwise a failed or superseded status goes back to running with a new deadline (the
 *   cause may have been transient; a deterministic one fails again), the first missing
 *   slice of every worker chain is invoked, and when none is missing the merges are fired
 *   again (see refireMerges: the merger alone may publish under results/);
 * - running, and this is another invocation than the one that planned it (a duplicate
 *   event, not a retry): no worker is invoked, so a duplicate costs no rescans; the merges
 *   are fired again only when every slice has its leaf.
 */
async function restartJob(deps: CoordinatorDeps, manifest: CloudManifest, concurrency: number, limits: StackLimits, invocation?: string): Promise<StartOutcome> {
  const { spec } = manifest;
  const now = deps.now ?? Date.now;
  const done = await deps.store.head(resultKey(spec.id));
  const status = await readStatus(deps.store, spec.id);
  if (done && status?.state === 'done' && (await publishedJob(deps.store, manifest.resultKey)) === spec.id) return { outcome: 'already-done', jobId: spec.id };
  if (!status || status.state === 'failed' || status.state === 'superseded') {
    await writeStatus(deps.store, runningStatus(manifest, now() + limits.jobTimeoutSeconds * 1000), now());
  }
  const leaves = await nodesPresent(deps.store, spec.id, 0);
  // A running job's chains are under way: a duplicate event (another invocation than the
  // one that planned the job, whose retries keep its id) invokes no worker. Lost workers
  // come back through the failure queue, or the deadline ends the job.
  const running = status?.state === 'running' && invocation !== undefined && invocation !== (await plannedBy(deps.store, spec.id));
  const missing = running ? [] : chainHeads(spec.sliceCount, manifest.maxWorkers ?? spec.sliceCount, leaves);
  await forEachLimit(missing, concurrency, (index) => deps.invoker.invoke({ jobId: spec.id, index }));
  if (missing.length === 0 && leaves.size === spec.sliceCount) await refireMerges(deps, manifest, leaves);
  return { outcome: done ? 'republished' : 'resumed', jobId: spec.id, slices: spec.sliceCount, invoked: missing.length };
}

/** The coordinator invocation the stored manifest names (this one's manifest names this invocation). */
async function plannedBy(store: BlobStore, jobId: string): Promise<string | undefined> {
  const body = await store.get(manifestKey(jobId));
  return body ? (decodeManifest(body, manifestKey(jobId)) as CloudManifest).coordinator : undefined;
}

/**
 * Slice i runs in chain i mod K (K workers at most); a chain's finished slice invokes
 * the next. The first missing slice of each chain restarts it.
 */
export function chainHeads(slices: number, maxWorkers: number, present: Set<number>): number[] {
  const heads: number[] = [];
  for (let chain = 0; chain < Math.min(maxWorkers, slices); chain++) {
    for (let i = chain; i < slices; i += maxWorkers) {
      if (!present.has(i)) {
        heads.push(i);
        break;
      }
    }
  }
  return heads.sort((a, b) => a - b);
}

/**
 * Every slice has its partial: fires the merge of every complete group of the tree whose
 * parent is missing (a merge still under way, or one lost for good when its invocation
 * failed past its retries), and the final merge when the top group is complete (see
 * lostMerges and refireMerge). The merges above follow from their events.
 * One list call per level (per 1000 nodes); `leaves` are the slices' nodes, listed already.
 */
async function refireMerges(deps: CoordinatorDeps, manifest: CloudManifest, leaves: Set<number>): Promise<void> {
  for (const node of await lostMerges(deps.store, manifest, leaves)) await refireMerge(deps, manifest, node);
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
