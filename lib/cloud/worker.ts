/**
 * The worker use case: scan one slice of a planned job, pinned to the planned version
 * of the input, commit its level-0 partial (leaf) create-only, then hand over to the next
 * slice of its chain and merge its group if complete (advance.ts). An invocation that
 * finds its leaf already written does nothing, unless the leaf says this invocation wrote
 * it (a retry after a crash): then it does what follows the commit.
 *
 * A FanoutError (bad bytes, the input changed) will fail again on every retry, so it
 * marks the job failed at once and is not re-thrown; anything else is re-thrown for
 * Lambda to retry, and a slice that keeps failing reaches the failure destination
 * (see recordInvokeFailure in merger.ts).
 */
import { FanoutError, SourceChangedError } from '../core/errors.ts';
import { sliceBounds } from '../core/plan.ts';
import type { BlobStore, Invoker, SliceTask } from '../job/ports.ts';
import { afterLeaf, leafInvocation } from './advance.ts';
import { SLICE_READ_SLACK_BYTES } from './aws/read-plan.ts';
import { resolveAnalysis } from './coordinator.ts';
import { decodePartial, type ManifestReader, markFailed, PartialConflictError, reasonOf } from '../job/documents.ts';
import { pastDeadline, recordSliceFailure } from './merger.ts';
import { markSuperseded } from './publish.ts';
import { type InputObjects, openInput } from './inputs.ts';
import { runSlice } from './slice.ts';
import { nodeKey } from '../job/keys.ts';

export interface WorkerDeps {
  store: BlobStore;
  inputs: InputObjects;
  manifests: ManifestReader;
  /** invokes the next slice of the worker chain (a job with fewer workers than slices) */
  invoker?: Invoker;
  now?: () => number;
}

/** `resumed`: the leaf existed, written by this invocation (a retry), and what follows its commit was done again. */
export type SliceOutcome = { outcome: 'written' | 'exists'; rows?: number; resumed?: boolean } | { outcome: 'failed'; reason: string };


export async function scanSliceTask(
  deps: WorkerDeps,
  task: SliceTask,
  /** `invocation`: this invocation's id, the same for its retries (Lambda's request id) */
  options: { signal?: AbortSignal; worker?: string; coldStart?: boolean; invocation?: string } = {},
): Promise<SliceOutcome> {
  const manifest = await deps.manifests.read(task.jobId);
  const spec = manifest.spec;
  if (!Number.isInteger(task.index) || task.index < 0 || task.index >= spec.sliceCount) {
    throw new RangeError(`slice ${task.index} is outside job ${task.jobId} (${spec.sliceCount} slices)`);
  }
  const key = nodeKey(spec.id, 0, task.index, manifest.fanin);
  const existing = await deps.store.get(key);
  if (existing) {
    // Written by this invocation (a retry after a crash): it may have stopped before what follows.
    const by = leafInvocation(decodePartial(existing, key));
    if (options.invocation !== undefined && by === options.invocation) {
      await afterLeaf(deps, manifest, task.index);
      return { outcome: 'exists', resumed: true };
    }
    return { outcome: 'exists' };
  }
  if (await pastDeadline(deps, manifest)) return { outcome: 'failed', reason: 'past the job deadline' };
  let rows: number | undefined;
  try {
    const { start, end } = sliceBounds(spec, task.index);
    const source = openInput(deps.inputs, manifest.input, end - start + SLICE_READ_SLACK_BYTES);
    const { partial, mine } = await runSlice(deps.store, key, source, spec, task.index, resolveAnalysis(spec.analysis.name), {
      signal: options.signal,
      worker: options.worker,
      coldStart: options.coldStart,
      invocation: options.invocation,
      ...(deps.now ? { now: deps.now } : {}),
    });
    rows = mine ? partial.rows : undefined;
  } catch (e) {
    if (!(e instanceof FanoutError)) throw e;
    const reason = reasonOf(e);
    if (e instanceof SourceChangedError) {
      // The object was replaced (an unversioned bucket) or deleted: a newer upload owns the key.
      const now = (deps.now ?? Date.now)();
      if (!(await markSuperseded(deps.store, spec.id, reason, now))) await markFailed(deps.store, manifest, reason, task.index);
    } else if (e instanceof PartialConflictError) await markFailed(deps.store, manifest, reason, task.index);
    else await recordSliceFailure(deps, manifest, task.index, reason, options.invocation);
    return { outcome: 'failed', reason };
  }
  if (rows === undefined) return { outcome: 'exists' };
  await afterLeaf(deps, manifest, task.index);
  return { outcome: 'written', rows };
}
