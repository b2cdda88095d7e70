/**
 * The merger use case, fired by the creation of any merge-tree node (a key ending in
 * PARTIAL_SUFFIX under jobs/). It looks only at the new node's group: one list of the
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
import { failureReason, failureRecordSchema, parseEvent, sliceTaskSchema } from './events.ts';
import { finishResult, mergePartials, resultDocument } from '../core/job.ts';
import type { BlobStore } from '../job/ports.ts';
import { resolveAnalysis } from './coordinator.ts';
import {
  type CloudManifest,
  decodePartial,
  decodeResult,
  DocumentError,
  encodePartial,
  type ManifestReader,
  markFailed,
  pointedJob,
  readPointer,
  readStatus,
  reasonOf,
  type TreePartial,
  UnknownJobError,
  writeResult,
  writeStatus,
} from '../job/documents.ts';
import { groupPrefix, nodeKey, parseNodeKey, resultKey } from '../job/keys.ts';
import { groupMembers, levelSizes } from './tree.ts';

export interface MergerDeps {
  store: BlobStore;
  manifests: ManifestReader;
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
  const { first, count } = groupMembers(size, fanin, ref.group);
  const wanted = new Set(Array.from({ length: count }, (_, i) => nodeKey(spec.id, ref.level, first + i, fanin)));
  const present = (await deps.store.list(groupPrefix(spec.id, ref.level, ref.group))).filter((k) => wanted.has(k));
  if (present.length < count) return { outcome: 'waiting', present: present.length, needed: count };

  const last = ref.level === sizes.length - 1;
  if (!last) {
    const parent = nodeKey(spec.id, ref.level + 1, ref.group, fanin);
    // The parent's creation has raised its own event: nothing left to do here.
    if (await deps.store.head(parent)) return { outcome: 'already-merged' };
    const members = await readMembers(deps.store, [...wanted]);
    const merged = mergePartials(spec, resolveAnalysis(spec.analysis.name), members, first);
    const node: TreePartial = {
      job: spec.id,
      index: ref.group,
      level: ref.level + 1,
      start: members[0]!.start,
      end: members[members.length - 1]!.end,
      rows: merged.rows,
      skipped: merged.skipped,
      skippedExamples: merged.skippedExamples,
      ...(merged.missing ? { missing: merged.missing } : {}),
      state: resolveAnalysis(spec.analysis.name).encode(merged.state),
      run: { bytesRead: members.reduce((a, m) => a + m.run.bytesRead, 0), startedAt: Math.min(...members.map((m) => m.run.startedAt)), finishedAt: (deps.now ?? Date.now)(), worker: 'merger' },
    };
    await deps.store.putIfAbsent(parent, encodePartial(node));
    return { outcome: 'merged', level: ref.level + 1, index: ref.group };
  }
  return finishJob(deps, manifest, [...wanted]);
}

async function finishJob(deps: MergerDeps, manifest: CloudManifest, memberKeys: string[]): Promise<MergeOutcome> {
  const { spec } = manifest;
  const now = deps.now ?? Date.now;
  const status = await readStatus(deps.store, spec.id);
  if (status?.state === 'failed') return { outcome: 'job-failed' };
  if (status?.state === 'done' && (await publishedJob(deps.store, manifest)) === spec.id) return { outcome: 'already-done' };
  // Only the newest job of an input publishes under results/: a job whose input was
  // replaced (or re-submitted with other options) while it ran is superseded, so that
  // results/ never ends with an older version's answer, whatever the merge order.
  const newest = await newestJob(deps.store, manifest);
  if (newest !== spec.id) {
    await markFailed(
      deps.store,
      manifest,
      `s3://${manifest.input.bucket}/${manifest.input.key} changed while job ${spec.id} ran: a newer job (${newest ?? 'one that could not be planned'}) owns ${manifest.resultKey}, so this job publishes no result`,
    );
    return { outcome: 'superseded' };
  }
  const analysis = resolveAnalysis(spec.analysis.name);
  const members = await readMembers(deps.store, memberKeys);
  const merged = mergePartials(spec, analysis, members, 0);
  let result: unknown;
  try {
    result = await finishResult(spec, analysis, merged);
  } catch (e) {
    if (!(e instanceof FanoutError)) throw e;
    await markFailed(deps.store, manifest, reasonOf(e));
    return { outcome: 'job-failed' };
  }
  const doc = resultDocument(spec, merged, result, { resumedSlices: 0, elapsedMs: Math.max(0, now() - manifest.createdAt) });
  // Whichever merger commits first wins; a racing one finds the key taken. The copy
  // under results/ repeats the job's own document, so racing mergers and retries all
  // write the same bytes there. It is overwritten, not create-only: a new upload of
  // the key replaces the result of the previous one.
  await writeResult(deps.store, doc, 'create-only');
  const committed = (await deps.store.get(resultKey(spec.id)))!;
  await deps.store.put(manifest.resultKey, committed);
  // A newer job may have published between the check above and this write: its result wins.
  const after = await newestJob(deps.store, manifest);
  if (after !== spec.id) {
    const theirs = after ? await deps.store.get(resultKey(after)) : undefined;
    if (theirs) await deps.store.put(manifest.resultKey, theirs);
  }
  await writeStatus(deps.store, { state: 'done', job: spec.id, input: { bucket: manifest.input.bucket, key: manifest.input.key }, slices: spec.sliceCount, resultKey: manifest.resultKey }, now());
  return { outcome: 'done' };
}

/**
 * The job the input's pointer names (the coordinator writes it for every new job); this
 * job's own id when there is no pointer; undefined when the newest upload of the key
 * could not be planned.
 */
async function newestJob(store: BlobStore, manifest: CloudManifest): Promise<string | undefined> {
  const pointer = await readPointer(store, manifest.input.key);
  if (!pointer) return manifest.spec.id;
  return pointedJob(pointer) ?? (pointer.input.etag === manifest.input.etag ? manifest.spec.id : undefined);
}

/** The job whose result results/<key> holds now. */
async function publishedJob(store: BlobStore, manifest: CloudManifest): Promise<string | undefined> {
  const body = await store.get(manifest.resultKey);
  if (!body) return undefined;
  try {
    return decodeResult(body, manifest.resultKey).job;
  } catch (e) {
    // Not a result document (someone else's object): no job's result is published there.
    if (e instanceof DocumentError) return undefined;
    throw e;
  }
}

async function readMembers(store: BlobStore, keys: string[]): Promise<TreePartial[]> {
  return Promise.all(
    keys.map(async (k) => {
      const body = await store.get(k);
      if (!body) throw new Error(`${k} was listed but cannot be read`);
      return decodePartial(body, k);
    }),
  );
}

/**
 * A worker invocation that failed after Lambda's retries (its on-failure destination
 * record): the job is marked failed with the slice and the reason, so it never
 * reports a result built without that slice.
 */
export async function recordInvokeFailure(deps: MergerDeps, jobId: string, index: number, reason: string): Promise<'recorded' | 'unknown-job'> {
  let manifest: CloudManifest;
  try {
    manifest = await deps.manifests.read(jobId);
  } catch (e) {
    if (e instanceof UnknownJobError) return 'unknown-job';
    throw e;
  }
  await markFailed(deps.store, manifest, reason, index);
  return 'recorded';
}

export type FailureRecordOutcome =
  | { outcome: 'failure-logged'; rejected: string }
  | { outcome: 'failure-logged'; reason: string; functionArn: string | undefined }
  | { outcome: 'failure-recorded' | 'failure-logged'; jobId: string; index: number; reason: string };

/**
 * One message of the on-failure destination (an SQS body holding Lambda's failure
 * record). A failed slice marks its job failed; any other failed invocation (a
 * coordinator, a merger) can only be logged.
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
  if (!task.success) return { outcome: 'failure-logged', reason, functionArn: failure.requestContext.functionArn };
  const { jobId, index } = task.data;
  const recorded = await recordInvokeFailure(deps, jobId, index, reason);
  return { outcome: recorded === 'recorded' ? 'failure-recorded' : 'failure-logged', jobId, index, reason };
}
