/**
 * Everything a report needs about one job, read from a BlobStore: the local state dir
 * (`.fanout`) and the cloud bucket keep the same `jobs/<id>/` layout, except that the
 * cloud's manifest wraps the spec and its level-0 partials are objects of the merge tree,
 * where the state dir keeps them in logs (`partials/*.ndjson`, see adapters/partial-log.ts).
 */
import { FanoutError } from '../core/errors.ts';
import { type Partial, type ResultDocument, SliceCover, slicesOf } from '../core/job.ts';
import type { JobSpec } from '../core/plan.ts';
import { isPartialLog, partialsInLog } from '../local/partial-log.ts';
import { jobPrefix, manifestKey, partialsPrefix, resultKey, statusKey } from '../job/keys.ts';
import type { BlobStore } from '../job/ports.ts';

export class JobNotFoundError extends FanoutError {
  override name = 'JobNotFoundError';
}

export interface JobStatusDoc {
  state: 'running' | 'done' | 'failed';
  slices?: number;
  slice?: number;
  reason?: string;
  resultKey?: string;
  at?: string;
}

export interface JobData {
  jobId: string;
  /** where it was read from, for the page's footer */
  where: string;
  spec?: JobSpec;
  /** cloud jobs: the fan-in of the merge tree, and when the coordinator planned it */
  fanin?: number;
  createdAt?: number;
  doc?: ResultDocument;
  status?: JobStatusDoc;
  /** level-0 partials found, sorted by slice index, without their states (`state: null`) */
  partials: Partial[];
}

/**
 * A partial with its state left out: the report reads the story of a slice, never its
 * state, and a state can be megabytes (`mean-structure`) times ten thousand partials.
 */
const storyOf = (p: Partial): Partial => ({ ...p, state: null });

const decoder = new TextDecoder();
const json = <T>(body: Uint8Array): T => JSON.parse(decoder.decode(body)) as T;

/** The cloud's level-0 node key: jobs/<id>/tree/0/<group>/<index>.partial.json */
const TREE_LEVEL0 = /\/tree\/0\/\d+\/(\d+)\.partial\.json$/;

export async function loadJob(store: BlobStore, jobId: string, where: string, known: { doc?: ResultDocument } = {}): Promise<JobData> {
  const [manifestBody, resultBody, statusBody] = await Promise.all([store.get(manifestKey(jobId)), known.doc ? undefined : store.get(resultKey(jobId)), store.get(statusKey(jobId))]);
  const doc = known.doc ?? (resultBody ? json<ResultDocument>(resultBody) : undefined);
  if (!manifestBody && !doc) throw new JobNotFoundError(`${where}: no job ${jobId} here (looked for ${manifestKey(jobId)} and ${resultKey(jobId)})`);
  const data: JobData = { jobId, where, partials: [], ...(doc ? { doc } : {}) };
  if (manifestBody) {
    const m = json<JobSpec | { spec: JobSpec; fanin: number; createdAt: number }>(manifestBody);
    if ('spec' in m) Object.assign(data, { spec: m.spec, fanin: m.fanin, createdAt: m.createdAt });
    else data.spec = m;
  }
  if (statusBody) data.status = json<JobStatusDoc>(statusBody);
  data.partials = await loadPartials(store, jobId, data.spec?.sliceCount);
  return data;
}

/** Level-0 partials of either layout; a partial that cannot be read is left out (the report says how many it found). */
export async function loadPartials(store: BlobStore, jobId: string, sliceCount?: number): Promise<Partial[]> {
  const logs = (await store.list(partialsPrefix(jobId))).filter(isPartialLog).sort();
  const bySlice = new Map<number, Partial>();
  // The partials the runtime folds: each slice counted once, also after two runs at once.
  const cover = new SliceCover(sliceCount);
  const add = (p: Partial): void => {
    if (cover.take(p.index, slicesOf(p)) === 'taken') bySlice.set(p.index, storyOf(p));
  };
  for (const key of logs) {
    const body = await store.get(key);
    if (body) partialsInLog(body, jobId).forEach(add);
  }
  if (logs.length === 0) (await treeLeaves(store, jobId)).forEach(add);
  return [...bySlice.values()].sort((a, b) => a.index - b.index);
}

/** The cloud's level-0 nodes, one object each. */
async function treeLeaves(store: BlobStore, jobId: string): Promise<Partial[]> {
  const keys = (await store.list(`${jobPrefix(jobId)}tree/0/`)).filter((k) => TREE_LEVEL0.test(k));
  const partials: Partial[] = [];
  // Bounded parallelism: a cloud job may have 10,000 partials, each a GET.
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < keys.length) {
      const body = await store.get(keys[next++]!);
      if (!body) continue;
      try {
        const p = json<Partial>(body);
        if (p?.job === jobId) partials.push(storyOf(p));
      } catch {
        // a torn or foreign object: not a slice of this job
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, keys.length) }, lane));
  return partials;
}
