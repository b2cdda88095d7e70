/**
 * The merger use case, fired by the creation of any merge-tree node above the slices (a
 * key ending in PARTIAL_SUFFIX under jobs/; the slices' own group merges are done by
 * their workers: advance.ts). It looks only at the new node's group: one list of the
 * group's prefix. An incomplete group waits for its last member's event. A complete
 * group is merged, in index order, into one node of the next level (create-only), or,
 * at the last level, into the result: jobs/<id>/result.json (create-only), then its
 * copy at results/<key>.json, if this job is still the newest of its input.
 *
 * Safe to run twice and in parallel: the outputs are deterministic and committed
 * create-only, a node whose parent already exists is not merged again, and the result
 * of a job marked failed or superseded is never written.
 */
import { FanoutError } from '../core/errors.ts';
import { failureReason, failureRecordSchema, parseEvent, sliceTaskSchema, type StartRequest, startRequestsOf } from './events.ts';
import { afterLeaf, type FailedTreePartial, leafInvocation, mergeGroup, readMembers } from './advance.ts';
import { analysisContext, chainedOptions, finishResult, mergePartials, type ResultDocument, resultDocument } from '../core/job.ts';
import { type JobSpec, jobId, sliceBounds } from '../core/plan.ts';
import type { BlobStore, Invoker } from '../job/ports.ts';
import { forEachLimit, resolveAnalysis } from './coordinator.ts';
import { DEFAULT_CONCURRENCY } from '../job/options.ts';
import {
  type CloudManifest,
  decodePartial,
  DocumentError,
  encodePartial,
  type FailedSlice,
  encodePointer,
  failedPointer,
  type JobStatus,
  type ManifestReader,
  markFailed,
  pointedJob,
  readPointer,
  readStatus,
  reasonOf,
  UnknownJobError,
  writeManifest,
  writeResult,
  writeResultArrays,
  writeStatus,
} from '../job/documents.ts';
import { failedSliceKey, failedSlicesPrefix, groupPrefix, inputPointerKey, nodeKey, parseNodeKey, parseTailClaim, resultKey, tailPrefix } from '../job/keys.ts';
import { sameEtag } from './inputs.ts';
import { compareSequencers, isJobOf, markSuperseded, newestJob, publishedJob, publishIfNewest, writeStatusIfNewest } from './publish.ts';
import { groupMembers, levelSizes } from './tree.ts';

export interface MergerDeps {
  store: BlobStore;
  manifests: ManifestReader;
  /** invokes the next slice of a worker chain (a job with fewer workers than slices) */
  invoker?: Invoker;
  now?: () => number;
}

export type MergeOutcome =
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'waiting'; present: number; needed: number }
  | { outcome: 'merged'; level: number; index: number }
  | { outcome: 'already-merged' | 'done' | 'already-done' | 'job-failed' | 'superseded' };

export async function onNodeCreated(deps: MergerDeps, key: string): Promise<MergeOutcome> {
  const ref = parseNodeKey(key);
  if (!ref) return { outcome: 'ignored', reason: `${key} is not a merge-tree node` };
  let manifest: CloudManifest;
  try {
    manifest = await deps.manifests.read(ref.jobId);
  } catch (e) {
    if (e instanceof UnknownJobError) return { outcome: 'ignored', reason: e.message };
    throw e;
  }
  const { spec, fanin } = manifest;
  const sizes = levelSizes(spec.sliceCount, fanin);
  const size = sizes[ref.level];
  if (size === undefined || ref.index >= size || ref.group !== Math.floor(ref.index / fanin)) {
    return { outcome: 'ignored', reason: `${key} does not fit the tree of job ${spec.id} (${sizes.join(', ')} nodes per level, fan-in ${fanin})` };
  }
  if (await pastDeadline(deps, manifest)) return { outcome: 'job-failed' };
  const { first, count } = groupMembers(size, fanin, ref.group);
  const wanted = new Set(Array.from({ length: count }, (_, i) => nodeKey(spec.id, ref.level, first + i, fanin)));
  const present = (await deps.store.list(groupPrefix(spec.id, ref.level, ref.group))).filter((k) => wanted.has(k));
  if (present.length < count) return { outcome: 'waiting', present: present.length, needed: count };

  // Below the last level: merged into its parent (the slices' level is merged by its workers, advance.ts).
  if (ref.level < sizes.length - 1) return mergeGroup(deps, manifest, ref.level, ref.group, [...wanted], first);
  return finishJob(deps, manifest, [...wanted]);
}

/**
 * A job past its deadline (the manifest's, or a restart's later one in its status) is
 * failed with the reason when any event of it arrives. Reads the status only once the
 * manifest's deadline has passed.
 */
export async function pastDeadline(deps: { store: BlobStore; now?: () => number }, manifest: CloudManifest): Promise<boolean> {
  const now = (deps.now ?? Date.now)();
  if (manifest.deadlineAt === undefined || now <= manifest.deadlineAt) return false;
  const status = await readStatus(deps.store, manifest.spec.id);
  if (!status || status.state !== 'running') return status?.state === 'failed';
  const deadline = status.deadline ? Date.parse(status.deadline) : manifest.deadlineAt;
  if (now <= deadline) return false;
  await markFailed(deps.store, manifest, deadlineReason(manifest.spec.id, deadline));
  return true;
}

export const deadlineReason = (jobId: string, deadline: number): string => `job ${jobId} did not finish by its deadline (${new Date(deadline).toISOString()})`;

async function finishJob(deps: MergerDeps, manifest: CloudManifest, memberKeys: string[]): Promise<MergeOutcome> {
  const { spec } = manifest;
  const now = deps.now ?? Date.now;
  const where = `s3://${manifest.input.bucket}/${manifest.input.key}`;
  const supersede = async (): Promise<MergeOutcome> => {
    const newest = await newestJob(deps.store, manifest);
    await markSuperseded(deps.store, spec.id, `a newer upload of ${where} (${newest ? `job ${newest}` : 'one that could not be planned'}) owns ${manifest.resultKey}, so job ${spec.id} publishes no result there`, now());
    return { outcome: 'superseded' };
  };
  const status = await readStatus(deps.store, spec.id);
  if (status?.state === 'failed') return { outcome: 'job-failed' };
  if (status?.state === 'done' && (await publishedJob(deps.store, manifest.resultKey)) === spec.id) return { outcome: 'already-done' };
  // Only the newest job of an input publishes under results/ (publish.ts): a job whose
  // input was replaced (or re-submitted with other options) while it ran is superseded.
  if (!isJobOf(await newestJob(deps.store, manifest), manifest)) return supersede();
  const analysis = resolveAnalysis(spec.analysis.name);
  const members = await readMembers(deps.store, memberKeys);
  const merged = mergePartials(spec, analysis, members, 0);
  const failedSlices = members.flatMap((m) => m.failed ?? []);
  let result: unknown;
  try {
    result = await finishResult(spec, analysis, merged);
  } catch (e) {
    if (!(e instanceof FanoutError)) throw e;
    await markFailed(deps.store, manifest, reasonOf(e));
    return { outcome: 'job-failed' };
  }
  const base = resultDocument(spec, merged, result, { resumedSlices: 0, elapsedMs: Math.max(0, now() - manifest.createdAt) });
  const doc = failedSlices.length > 0 ? { ...base, incomplete: { failedSlices } } : base;
  // Whichever merger commits first wins; a racing one finds the key taken. The copy
  // under results/ repeats the job's own document, so racing mergers and retries all
  // write the same bytes there; it is published only while this job is the newest.
  await writeResult(deps.store, doc, 'create-only');
  // The result and trajectory the next stage takes are deterministic: any merger's document gives the same.
  if (spec.analysis.options.then !== undefined) return startNextStage(deps, manifest, doc);
  const committed = (await deps.store.get(resultKey(spec.id)))!;
  // Counted before publishing: the done status follows the published result at once.
  const backups = await countBackups(deps.store, spec.id);
  // A large result's arrays go beside the copy first (the same bytes whichever merger writes them).
  await writeResultArrays(deps.store, manifest.resultKey, doc);
  if (!(await publishIfNewest(deps.store, manifest, manifest.resultKey, () => new TextDecoder().decode(committed)))) return supersede();
  const done: Omit<JobStatus, 'at'> = {
    state: 'done',
    job: spec.id,
    input: { bucket: manifest.input.bucket, key: manifest.input.key },
    slices: spec.sliceCount,
    resultKey: manifest.resultKey,
    ...(failedSlices.length > 0 ? { failedSlices } : {}),
    ...(backups > 0 ? { backups } : {}),
  };
  if (!(await writeStatusIfNewest(deps.store, manifest, done, now()))) return supersede();
  return { outcome: 'done' };
}

/**
 * The first stage of a chained analysis (rmsf) is done: start the second over the same
 * pinned input, with the first result as its reference (the analysis option `reference`,
 * so in its manifest: a job document every worker reads). Its slices are the first
 * stage's (the same traits), its manifest names the first stage (`chainOf`), which the
 * input pointer keeps naming: the second publishes under the first's result key while
 * the pointer names the first. Safe to run twice: the manifest is create-only, and a job
 * that has a status already is not started again.
 */
async function startNextStage(deps: MergerDeps, manifest: CloudManifest, first: ResultDocument): Promise<MergeOutcome> {
  const { spec } = manifest;
  const now = deps.now ?? Date.now;
  const { then, ...options } = spec.analysis.options;
  const next = resolveAnalysis(then!);
  const { id: _first, ...plan } = spec;
  const planned = { ...plan, analysis: { name: then!, options: chainedOptions(next, options, first) } };
  const nextSpec: JobSpec = { id: jobId(planned), ...planned };
  const startedAt = now();
  const second: CloudManifest = {
    ...manifest,
    spec: nextSpec,
    createdAt: startedAt,
    ...(manifest.deadlineAt !== undefined ? { deadlineAt: startedAt + (manifest.deadlineAt - manifest.createdAt) } : {}),
    chainOf: spec.id,
  };
  const created = await writeManifest(deps.store, second);
  if (!created && (await readStatus(deps.store, nextSpec.id))) return { outcome: 'done' };
  const input = { bucket: manifest.input.bucket, key: manifest.input.key };
  const running: Omit<JobStatus, 'at'> = { state: 'running', job: nextSpec.id, input, slices: nextSpec.sliceCount, ...(second.deadlineAt !== undefined ? { deadline: new Date(second.deadlineAt).toISOString() } : {}) };
  if (!(await writeStatusIfNewest(deps.store, second, running, now()))) return { outcome: 'superseded' };
  const backups = await countBackups(deps.store, spec.id);
  const firstDone: Omit<JobStatus, 'at'> = { state: 'done', job: spec.id, input, slices: spec.sliceCount, next: nextSpec.id, ...(backups > 0 ? { backups } : {}) };
  if (!(await writeStatusIfNewest(deps.store, manifest, firstDone, now()))) return { outcome: 'superseded' };
  if (!deps.invoker) throw new Error(`job ${spec.id} is the first stage of ${then}, and this merger cannot invoke workers to start it`);
  const invoker = deps.invoker;
  const heads = Math.min(nextSpec.sliceCount, second.maxWorkers ?? nextSpec.sliceCount);
  await forEachLimit(
    Array.from({ length: heads }, (_, i) => i),
    DEFAULT_CONCURRENCY,
    (index) => invoker.invoke({ jobId: nextSpec.id, index }),
  );
  return { outcome: 'done' };
}

/** Backup runs of straggling slices (lib/cloud/stragglers.ts): the tail helpers' backup claims, one list. */
export async function countBackups(store: BlobStore, jobId: string): Promise<number> {
  return (await store.list(tailPrefix(jobId))).filter((k) => parseTailClaim(k)?.claim === 'backup').length;
}


/**
 * A slice that failed for good (bad bytes, or its invocation failed past Lambda's
 * retries). Within the job's tolerated failures it is recorded (jobs/<id>/failed/<i>.json)
 * and stands in the merge tree as an empty leaf that lists it, so the job finishes with
 * its result marked incomplete; beyond them the job is marked failed with the slice and
 * the reason, so it never reports a result built without that slice.
 */
export async function recordSliceFailure(
  deps: { store: BlobStore; invoker?: Invoker; now?: () => number },
  manifest: CloudManifest,
  index: number,
  reason: string,
  /** the worker invocation that failed (its retries carry it too); none: the failure record, which always goes on */
  invocation?: string,
): Promise<'tolerated' | 'job-failed'> {
  const { spec } = manifest;
  const tolerated = manifest.toleratedFailures ?? 0;
  if (tolerated > 0) {
    const { start, end } = sliceBounds(spec, index);
    const failed: FailedSlice = { index, start, end, reason };
    await deps.store.putIfAbsent(failedSliceKey(spec.id, index), JSON.stringify(failed));
    const count = (await deps.store.list(failedSlicesPrefix(spec.id))).length;
    if (count <= tolerated) {
      const analysis = resolveAnalysis(spec.analysis.name);
      const at = (deps.now ?? Date.now)();
      const leaf: FailedTreePartial = {
        job: spec.id,
        index,
        start,
        end,
        rows: 0,
        skipped: 0,
        skippedExamples: [],
        state: analysis.encode(analysis.empty(analysisContext(spec))),
        failed: [failed],
        run: { bytesRead: 0, startedAt: at, finishedAt: at, worker: 'failed', ...(invocation ? { invocation } : {}) },
      };
      // It goes on as a scanned slice's leaf does (advance.ts): by whoever committed it.
      const key = nodeKey(spec.id, 0, index, manifest.fanin);
      const created = await deps.store.putIfAbsent(key, encodePartial(leaf));
      if (created || invocation === undefined || (await committedBy(deps.store, key)) === invocation) await afterLeaf(deps, manifest, index);
      return 'tolerated';
    }
    reason = `${reason} (${count} slices failed, more than the ${tolerated} tolerated)`;
  }
  await markFailed(deps.store, manifest, reason, index);
  return 'job-failed';
}

/**
 * A worker invocation that failed after Lambda's retries (its on-failure destination
 * record): see recordSliceFailure.
 */
export async function recordInvokeFailure(deps: MergerDeps, jobId: string, index: number, reason: string): Promise<'recorded' | 'unknown-job'> {
  let manifest: CloudManifest;
  try {
    manifest = await deps.manifests.read(jobId);
  } catch (e) {
    if (e instanceof UnknownJobError) return 'unknown-job';
    // A manifest this version cannot read fails every slice the same way: the job would
    // stay running for ever. Its status names the input, so the job is marked failed there.
    if (e instanceof DocumentError) {
      const status = await readStatus(deps.store, jobId);
      if (!status) return 'unknown-job';
      if (status.state === 'running') {
        const { at: _at, ...rest } = status;
        await writeStatus(deps.store, { ...rest, state: 'failed', slice: index, reason: `the job's manifest cannot be read: ${e.message} (${reason})` });
      }
      return 'recorded';
    }
    throw e;
  }
  // Its leaf exists: the worker committed it and then failed (merging the group, or
  // invoking the next slice). What it left undone is done here; if that fails too, the
  // job is failed (a merge lost for good), and the same upload's event again finishes it.
  const leaf = nodeKey(jobId, 0, index, manifest.fanin);
  if (!(await deps.store.head(leaf))) await recordSliceFailure(deps, manifest, index, reason);
  else {
    try {
      await afterLeaf(deps, manifest, index);
    } catch (e) {
      await markFailed(deps.store, manifest, `the merge of ${leaf} failed: ${reason} (then: ${reasonOf(e)})`);
    }
  }
  return 'recorded';
}

/** The invocation a leaf says committed it. */
async function committedBy(store: BlobStore, key: string): Promise<string | undefined> {
  const body = await store.get(key);
  return body ? leafInvocation(decodePartial(body, key)) : undefined;
}

export type FailureRecordOutcome =
  | { outcome: 'failure-logged'; rejected: string }
  | { outcome: 'failure-logged'; reason: string; functionArn: string | undefined }
  | { outcome: 'failure-recorded' | 'failure-logged'; jobId: string; index: number; reason: string }
  /** a merger or coordinator invocation that failed for good: its job, or its upload's pointer, says so */
  | { outcome: 'failure-recorded' | 'failure-logged'; function: 'merger' | 'coordinator'; jobs: string[]; reason: string };

/**
 * One message of the on-failure destination (an SQS body holding Lambda's failure
 * record). A failed slice is recorded against its job (recordSliceFailure); a merge that
 * failed for good marks its job failed; a coordinator that failed for good marks the job
 * of its upload failed, or, when it got no job that far, says why in the input pointer.
 */
export async function onFailureRecord(deps: MergerDeps, body: string): Promise<FailureRecordOutcome> {
  let failure;
  try {
    failure = parseEvent(failureRecordSchema, JSON.parse(body), 'invocation failure record');
  } catch (e) {
    return { outcome: 'failure-logged', rejected: (e as Error).message };
  }
  const reason = failureReason(failure);
  const task = sliceTaskSchema.safeParse(failure.requestPayload);
  if (task.success) {
    const { jobId, index } = task.data;
    const recorded = await recordInvokeFailure(deps, jobId, index, reason);
    return { outcome: recorded === 'recorded' ? 'failure-recorded' : 'failure-logged', jobId, index, reason };
  }
  let requests: StartRequest[];
  try {
    requests = startRequestsOf(failure.requestPayload);
  } catch {
    return { outcome: 'failure-logged', reason, functionArn: failure.requestContext.functionArn };
  }
  const nodes = requests.map((r) => parseNodeKey(r.key)).filter((n) => n !== undefined);
  if (nodes.length > 0) {
    // A merge that failed past its retries: nothing else will fire it, so the job cannot finish.
    const jobs: string[] = [];
    for (const node of nodes) {
      try {
        const manifest = await deps.manifests.read(node.jobId);
        await markFailed(deps.store, manifest, `the merge of ${nodeKey(node.jobId, node.level, node.index, manifest.fanin)} failed: ${reason}`);
        jobs.push(node.jobId);
      } catch (e) {
        if (!(e instanceof UnknownJobError)) throw e;
      }
    }
    return { outcome: jobs.length > 0 ? 'failure-recorded' : 'failure-logged', function: 'merger', jobs, reason };
  }
  const jobs: string[] = [];
  for (const req of requests) {
    const job = await recordCoordinatorFailure(deps, req, `the coordinator failed for s3://${req.bucket}/${req.key}: ${reason}`);
    if (job) jobs.push(job);
  }
  return { outcome: jobs.length > 0 ? 'failure-recorded' : 'failure-logged', function: 'coordinator', jobs, reason };
}

/**
 * A coordinator that failed for good: if the input's pointer names a job of this very
 * upload, that job is failed. Otherwise the pointer says why no job started, where that
 * cannot hide a newer upload (the merger may not read input/ to ask which is current): no
 * pointer yet, or one whose event sequencer is earlier than this upload's. Returns what it marked.
 */
async function recordCoordinatorFailure(deps: MergerDeps, req: StartRequest, reason: string): Promise<string | undefined> {
  const key = inputPointerKey(req.key);
  const tag = await deps.store.head(key);
  const pointer = tag ? await readPointer(deps.store, req.key) : undefined;
  const job = pointer && pointedJob(pointer);
  const ofThisUpload = pointer && (req.pin?.versionId ? pointer.input.versionId === req.pin.versionId : req.pin?.etag ? sameEtag(pointer.input.etag, req.pin.etag) : true);
  if (job && ofThisUpload) {
    try {
      await markFailed(deps.store, await deps.manifests.read(job), reason);
      return job;
    } catch (e) {
      if (!(e instanceof UnknownJobError)) throw e;
    }
  }
  const mine = req.pin?.sequencer;
  const held = pointer?.upload?.sequencer;
  if (pointer && !(mine && held && compareSequencers(held, mine) < 0)) return undefined;
  const input = { bucket: req.bucket, key: req.key, etag: req.pin?.etag ?? '', ...(req.pin?.versionId ? { versionId: req.pin.versionId } : {}) };
  const written = await deps.store.putIfMatch(key, encodePointer(failedPointer(input, reason, (deps.now ?? Date.now)(), mine ? { sequencer: mine } : undefined)), tag?.etag);
  return written ? key : undefined;
}
