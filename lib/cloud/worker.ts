/**
 * The worker use case: scan one slice of a planned job, pinned to the planned version
 * of the input, and commit its level-0 partial create-only. An invocation that finds
 * its partial already written (a duplicate or a retry) does nothing.
 *
 * A FanoutError (bad bytes, the input changed) will fail again on every retry, so it
 * marks the job failed at once and is not re-thrown; anything else is re-thrown for
 * Lambda to retry, and a slice that keeps failing reaches the failure destination
 * (see recordInvokeFailure in merger.ts).
 */
import { FanoutError, SourceChangedError } from '../core/errors.ts';
import { sliceBounds } from '../core/plan.ts';
import type { BlobStore, SliceTask } from '../job/ports.ts';
import { resolveAnalysis } from './coordinator.ts';
import { type ManifestReader, markFailed, PartialConflictError, reasonOf } from '../job/documents.ts';
import { pastDeadline, recordSliceFailure } from './merger.ts';
import { markSuperseded } from './publish.ts';
import type { InputObjects } from './inputs.ts';
import { runSlice } from './slice.ts';
import { nodeKey } from '../job/keys.ts';

export interface WorkerDeps {
  store: BlobStore;
  inputs: InputObjects;
  manifests: ManifestReader;
  now?: () => number;
}

export type SliceOutcome = { outcome: 'written' | 'exists'; rows?: number } | { outcome: 'failed'; reason: string };

/** Slack past the slice end a text record may run over before a second read is needed. */
const READ_PAST_END_BYTES = 1 << 20;

export async function scanSliceTask(deps: WorkerDeps, task: SliceTask, options: { signal?: AbortSignal; worker?: string; coldStart?: boolean } = {}): Promise<SliceOutcome> {
  const manifest = await deps.manifests.read(task.jobId);
  const spec = manifest.spec;
  if (!Number.isInteger(task.index) || task.index < 0 || task.index >= spec.sliceCount) {
    throw new RangeError(`slice ${task.index} is outside job ${task.jobId} (${spec.sliceCount} slices)`);
  }
  const key = nodeKey(spec.id, 0, task.index, manifest.fanin);
  if (await deps.store.head(key)) return { outcome: 'exists' };
  if (await pastDeadline(deps, manifest)) return { outcome: 'failed', reason: 'past the job deadline' };
  try {
    const { start, end } = sliceBounds(spec, task.index);
    const source = deps.inputs.open(manifest.input, end - start + READ_PAST_END_BYTES);
    const { partial } = await runSlice(deps.store, key, source, spec, task.index, resolveAnalysis(spec.analysis.name), { signal: options.signal, worker: options.worker, coldStart: options.coldStart, ...(deps.now ? { now: deps.now } : {}) });
    return { outcome: 'written', rows: partial.rows };
  } catch (e) {
    if (!(e instanceof FanoutError)) throw e;
    const reason = reasonOf(e);
    if (e instanceof SourceChangedError) {
      // The object was replaced (an unversioned bucket) or deleted: a newer upload owns the key.
      const now = (deps.now ?? Date.now)();
      if (!(await markSuperseded(deps.store, spec.id, reason, now))) await markFailed(deps.store, manifest, reason, task.index);
    } else if (e instanceof PartialConflictError) await markFailed(deps.store, manifest, reason, task.index);
    else await recordSliceFailure(deps, manifest, task.index, reason);
    return { outcome: 'failed', reason };
  }
}
