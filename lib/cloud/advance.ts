/**
 * What follows the commit of a slice's leaf (its partial, or the empty leaf of a
 * tolerated failure), and the merge of one group of the tree.
 *
 * A leaf raises no event (its key ends in LEAF_SUFFIX, not the merger's suffix): the
 * invocation that committed it does what follows, and so do its retries (Lambda keeps an
 * invocation's request id across its retries, and the leaf records it), and the failure
 * record when they all failed (recordInvokeFailure in merger.ts):
 * - its worker chain goes on: the next slice of the chain is invoked (a job runs at most
 *   maxWorkers slices at once);
 * - the leaf's group is listed once and, when complete, merged into its level-1 node
 *   (create-only), whose creation fires the merger for the levels above.
 * So the merger runs about N / fan-in times for N slices, not N + N / fan-in times, and a
 * duplicate invocation that finds the leaf written by another invocation does nothing.
 * Two workers that finish the last two leaves of a group at the same moment both list
 * after their own write landed, so at least one sees the group complete (S3 lists are
 * strongly consistent); both may merge it, create-only, into the same bytes.
 */
import { mergePartials } from '../core/job.ts';
import { resolveAnalysis } from './analyses.ts';
import { type CloudManifest, decodePartial, encodePartial, type FailedSlice, type TreePartial } from '../job/documents.ts';
import { groupPrefix, levelPrefix, nodeKey, parseNodeKey } from '../job/keys.ts';
import type { BlobStore, Invoker } from '../job/ports.ts';
import { groupMembers, levelSizes } from './tree.ts';

export interface AdvanceDeps {
  store: BlobStore;
  /** invokes the next slice of a worker chain */
  invoker?: Invoker;
  now?: () => number;
}

/** A merge-tree node that stands for slices that failed, tolerated: their ranges and reasons. */
export type FailedTreePartial = TreePartial & { failed?: FailedSlice[] };

export type GroupStep = { outcome: 'waiting'; present: number; needed: number } | { outcome: 'merged'; level: number; index: number } | { outcome: 'already-merged' };

/**
 * The leaf of slice `index` is committed: merges its group if complete, then invokes the
 * next slice of its chain, last, so that a job's workers overlap only by that call.
 */
export async function afterLeaf(deps: AdvanceDeps, manifest: CloudManifest, index: number): Promise<GroupStep> {
  const { spec } = manifest;
  const chain = manifest.maxWorkers ?? spec.sliceCount;
  const next = index + chain < spec.sliceCount ? index + chain : undefined;
  if (next !== undefined && !deps.invoker) throw new Error(`job ${spec.id} runs ${chain} workers for ${spec.sliceCount} slices, and this function has no invoker for the next one`);
  const step = await mergeGroupIfComplete(deps, manifest, 0, Math.floor(index / manifest.fanin));
  if (next !== undefined) await deps.invoker!.invoke({ jobId: spec.id, index: next });
  return step;
}

/** The keys of group `group` of `level`, and the index of its first node. */
export function groupKeys(manifest: CloudManifest, level: number, group: number): { keys: string[]; first: number } {
  const { spec, fanin } = manifest;
  const { first, count } = groupMembers(levelSizes(spec.sliceCount, fanin)[level] ?? 0, fanin, group);
  return { keys: Array.from({ length: count }, (_, i) => nodeKey(spec.id, level, first + i, fanin)), first };
}

/** Lists a group below the last level once; when complete, merges it into its parent (mergeGroup). */
export async function mergeGroupIfComplete(deps: AdvanceDeps, manifest: CloudManifest, level: number, group: number): Promise<GroupStep> {
  const { keys, first } = groupKeys(manifest, level, group);
  const wanted = new Set(keys);
  const present = (await deps.store.list(groupPrefix(manifest.spec.id, level, group))).filter((k) => wanted.has(k));
  if (present.length < keys.length) return { outcome: 'waiting', present: present.length, needed: keys.length };
  return mergeGroup(deps, manifest, level, group, keys, first);
}

/**
 * Merges a complete group below the last level, in index order, into its node on the
 * next level (create-only). A group whose parent exists is not merged again.
 */
export async function mergeGroup(deps: AdvanceDeps, manifest: CloudManifest, level: number, group: number, memberKeys: string[], first: number): Promise<GroupStep> {
  const { spec, fanin } = manifest;
  const parent = nodeKey(spec.id, level + 1, group, fanin);
  // The parent's creation has raised its own event: nothing left to do here.
  if (await deps.store.head(parent)) return { outcome: 'already-merged' };
  const analysis = resolveAnalysis(spec.analysis.name);
  const members = await readMembers(deps.store, memberKeys);
  const merged = mergePartials(spec, analysis, members, first);
  const failed = members.flatMap((m) => m.failed ?? []);
  const node: TreePartial = {
    job: spec.id,
    index: group,
    level: level + 1,
    start: members[0]!.start,
    end: members[members.length - 1]!.end,
    rows: merged.rows,
    skipped: merged.skipped,
    skippedExamples: merged.skippedExamples,
    ...(merged.missing ? { missing: merged.missing } : {}),
    state: analysis.encode(merged.state),
    ...(failed.length > 0 ? { failed } : {}),
    run: { bytesRead: members.reduce((a, m) => a + m.run.bytesRead, 0), startedAt: Math.min(...members.map((m) => m.run.startedAt)), finishedAt: (deps.now ?? Date.now)(), worker: 'merger' },
  };
  await deps.store.putIfAbsent(parent, encodePartial(node));
  return { outcome: 'merged', level: level + 1, index: group };
}

export async function readMembers(store: BlobStore, keys: string[]): Promise<FailedTreePartial[]> {
  return Promise.all(
    keys.map(async (k) => {
      const body = await store.get(k);
      if (!body) throw new Error(`${k} was listed but cannot be read`);
      return decodePartial(body, k) as FailedTreePartial;
    }),
  );
}

/** The invocation that committed a leaf (recorded in its run story), if it said. */
export function leafInvocation(leaf: TreePartial): string | undefined {
  const id = (leaf.run as { invocation?: unknown }).invocation;
  return typeof id === 'string' ? id : undefined;
}

/** The indexes of a tree level's nodes that exist: one list call per 1000 nodes. */
export async function nodesPresent(store: BlobStore, jobId: string, level: number): Promise<Set<number>> {
  const present = new Set<number>();
  for (const k of await store.list(levelPrefix(jobId, level))) {
    const ref = parseNodeKey(k);
    if (ref?.level === level) present.add(ref.index);
  }
  return present;
}

/**
 * The merges lost for good: complete groups whose node on the next level is missing, and
 * the top group when complete. Returns each group's first member: a group of leaves
 * (level 0) is merged by the caller, as its last worker would have (a leaf raises no
 * event); a group above is fired again by rewriting a member with its own bytes (its
 * creation event reaches the merger).
 */
export async function lostMerges(store: BlobStore, manifest: CloudManifest, leaves: Set<number>): Promise<{ level: number; index: number }[]> {
  const { spec, fanin } = manifest;
  const sizes = levelSizes(spec.sliceCount, fanin);
  const lost: { level: number; index: number }[] = [];
  let below = leaves;
  for (let level = 1; level < sizes.length; level++) {
    const present = await nodesPresent(store, spec.id, level);
    for (let group = 0; group < sizes[level]!; group++) {
      if (present.has(group)) continue;
      const { first, count } = groupMembers(sizes[level - 1]!, fanin, group);
      if (Array.from({ length: count }, (_, i) => first + i).every((i) => below.has(i))) lost.push({ level: level - 1, index: first });
    }
    below = present;
  }
  // The top group, complete: the final merge (it publishes, or finds the job done).
  const top = sizes.length - 1;
  if (below.size === sizes[top]) lost.push({ level: top, index: 0 });
  return lost;
}

/**
 * Fires a lost merge again: a complete group of leaves is merged here (a leaf raises no
 * event; the new node's creation fires the merger above); a group above is fired by
 * rewriting its first member with its own bytes (its creation event reaches the merger).
 */
export async function refireMerge(deps: AdvanceDeps, manifest: CloudManifest, node: { level: number; index: number }): Promise<void> {
  if (node.level === 0) {
    const group = Math.floor(node.index / manifest.fanin);
    const { keys, first } = groupKeys(manifest, 0, group);
    await mergeGroup(deps, manifest, 0, group, keys, first);
    return;
  }
  const key = nodeKey(manifest.spec.id, node.level, node.index, manifest.fanin);
  const body = await deps.store.get(key);
  if (body) await deps.store.put(key, body);
}
