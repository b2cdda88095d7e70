/**
 * Everything a report needs about one job, read from a BlobStore: the local state dir
 * (`.fanout`) and the cloud bucket keep the same `jobs/<id>/` layout and documents (see
 * lib/job/documents.ts), except that the cloud's level-0 partials are objects of the merge
 * tree, where the state dir keeps them in logs (`partials/*.ndjson`, see local/partial-log.ts).
 */
import { FanoutError } from '../core/errors.ts';
import { type Partial, type ResultDocument, SliceCover, slicesOf } from '../core/job.ts';
import type { JobSpec } from '../core/plan.ts';
import { isPartialLog, partialsInLog } from '../local/partial-log.ts';
import { decodePartial, DocumentError, type JobStatus, readManifest, readResult, readStatus } from '../job/documents.ts';
import { levelPrefix, manifestKey, parseNodeKey, partialsPrefix, resultKey } from '../job/keys.ts';
import type { BlobStore } from '../job/ports.ts';

export class JobNotFoundError extends FanoutError {
  override name = 'JobNotFoundError';
}

export interface JobData {
  jobId: string;
  /** where it was read from, for the page's footer */
  where: string;
  spec?: JobSpec;
  /** cloud jobs: the fan-in of the merge tree */
  fanin?: number;
  /** when the job was planned (absent in state dirs of earlier versions) */
  createdAt?: number;
  doc?: ResultDocument;
  status?: JobStatus;
  /** level-0 partials found, sorted by slice index, without their states (`state: null`) */
  partials: Partial[];
}

/**
 * A partial with its state left out: the report reads the story of a slice, never its
 * state, and a state can be megabytes (`mean-structure`) times ten thousand partials.
 */
const storyOf = (p: Partial): Partial => ({ ...p, state: null });

export async function loadJob(store: BlobStore, jobId: string, where: string, known: { doc?: ResultDocument } = {}): Promise<JobData> {
  const [manifest, doc, status] = await Promise.all([readManifest(store, jobId), known.doc ?? readResult(store, jobId, { arrays: true }).catch((e: unknown) => (e instanceof DocumentError ? readResult(store, jobId) : Promise.reject(e))), readStatus(store, jobId)]);
  if (!manifest && !doc) throw new JobNotFoundError(`${where}: no job ${jobId} here (looked for ${manifestKey(jobId)} and ${resultKey(jobId)})`);
  const data: JobData = { jobId, where, partials: [], ...(doc ? { doc } : {}), ...(status ? { status } : {}) };
  if (manifest) {
    data.spec = manifest.spec;
    if (manifest.fanin !== undefined) data.fanin = manifest.fanin;
    if (manifest.createdAt !== undefined) data.createdAt = manifest.createdAt;
  }
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
  const keys = (await store.list(levelPrefix(jobId, 0))).filter((k) => parseNodeKey(k)?.level === 0);
  const partials: Partial[] = [];
  // Bounded parallelism: a cloud job may have 10,000 partials, each a GET.
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const body = await store.get(key);
      if (!body) continue;
      try {
        const p = decodePartial(body, key);
        if (p.job === jobId) partials.push(storyOf(p));
      } catch (e) {
        // a torn or foreign object: not a slice of this job
        if (!(e instanceof DocumentError)) throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, keys.length) }, lane));
  return partials;
}
