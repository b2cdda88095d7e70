/**
 * The embedded runtime: plan the job, scan the slices that have no partial yet on
 * worker threads, merge, and keep everything in a state dir so that an interrupted run
 * (even kill -9) resumes where it stopped.
 */
import { unlink } from 'node:fs/promises';
import { FileSource } from '../adapters/file-source.ts';
import { LocalDirStore } from '../adapters/local-store.ts';
import { runOnThreads } from '../adapters/thread-pool.ts';
import { finishResult, PartialFold, type ResultDocument, resultDocument, textRowLocator } from '../core/job.ts';
import { type JobSpec, type PlanOptions, planJob, sliceBounds } from '../core/plan.ts';
import { manifestKey, partialKey, partialsPrefix, partialIndexFromKey, resultKey } from '../pipeline/keys.ts';
import { decodePartial, runSlice } from '../pipeline/slice.ts';
import { analysisRef, loadAnalysis } from './load-analysis.ts';

export interface Progress {
  slicesDone: number;
  slicesTotal: number;
  resumedSlices: number;
  bytesDone: number;
  bytesTotal: number;
  startedAt: number;
}

export interface LocalRunOptions extends PlanOptions {
  analysis: string;
  analysisOptions?: Record<string, string>;
  stateDir: string;
  workers: number;
  onPlan?: (spec: JobSpec) => void;
  onProgress?: (p: Progress) => void;
}

export async function runLocal(path: string, opts: LocalRunOptions): Promise<ResultDocument> {
  const startedAt = Date.now();
  // s3://bucket/key reads the object by ranges, pinned to the version it was planned on.
  const source = path.startsWith('s3://') ? await (await import('../adapters/s3-source.ts')).openS3Url(path) : await FileSource.open(path);
  try {
    const ref = await analysisRef(opts.analysis, opts.analysisOptions);
    const analysis = await loadAnalysis(ref);
    const spec = await planJob(source, ref, opts, source.identity);
    opts.onPlan?.(spec);
    const store = new LocalDirStore(opts.stateDir);
    await store.putIfAbsent(manifestKey(spec.id), JSON.stringify(spec, null, 2));

    const done = await existingPartials(store, spec);
    const missing: number[] = [];
    for (let i = 0; i < spec.sliceCount; i++) if (!done.has(i)) missing.push(i);
    const progress: Progress = {
      slicesDone: done.size,
      slicesTotal: spec.sliceCount,
      resumedSlices: done.size,
      bytesDone: 0,
      bytesTotal: missing.reduce((a, i) => a + sliceBytes(spec, i), 0),
      startedAt,
    };
    opts.onProgress?.(progress);
    const events = {
      progress(bytes: number) {
        progress.bytesDone += bytes;
        opts.onProgress?.(progress);
      },
      done() {
        progress.slicesDone++;
        opts.onProgress?.(progress);
      },
    };
    // The main thread is always a worker, taking slices from one queue with the threads:
    // one thread fewer to start and one V8 isolate (about 35 MB) saved. Threads open the
    // input as a file, so an S3 object is scanned on the main thread alone.
    const queue = [...missing];
    const threads = source instanceof FileSource ? Math.min(opts.workers - 1, missing.length - 1) : 0;
    const onMain = async (): Promise<void> => {
      try {
        for (let index = queue.shift(), first = true; index !== undefined; index = queue.shift(), first = false) {
          // The process's own start-up (imports, planning) counts as the main worker's cold start.
          await runSlice(store, source, spec, index, analysis, { worker: 'main', coldStart: first, onProgress: events.progress });
          events.done();
        }
      } catch (e) {
        queue.length = 0;
        throw e;
      }
    };
    await Promise.all([threads > 0 ? runOnThreads(spec, queue, threads, store.root, events) : undefined, onMain()]);
    await source.assertUnchanged(spec.input.identity);

    const fold = new PartialFold(spec, analysis);
    for (let i = 0; i < spec.sliceCount; i++) {
      const body = await store.get(partialKey(spec.id, i));
      if (!body) throw new Error(`partial ${i} of job ${spec.id} is missing after the scan`);
      fold.add(decodePartial(body));
    }
    const merged = fold.merged();
    const result = await finishResult(spec, analysis, merged, textRowLocator(source, spec, merged));
    const doc = resultDocument(spec, merged, result, { resumedSlices: progress.resumedSlices, elapsedMs: Date.now() - startedAt });
    await store.put(resultKey(spec.id), JSON.stringify(doc, null, 2));
    return doc;
  } finally {
    await source.close();
  }
}

function sliceBytes(spec: JobSpec, index: number): number {
  const { start, end } = sliceBounds(spec, index);
  return end - start;
}

/** Partials of this job already on disk and readable; unreadable ones are removed and rescanned. */
async function existingPartials(store: LocalDirStore, spec: JobSpec): Promise<Set<number>> {
  const done = new Set<number>();
  for (const key of await store.list(partialsPrefix(spec.id))) {
    const index = partialIndexFromKey(key);
    if (index === undefined || index >= spec.sliceCount) continue;
    try {
      const p = decodePartial((await store.get(key))!);
      if (p.job === spec.id && p.index === index) {
        done.add(index);
        continue;
      }
    } catch {
      // fall through: not a usable partial
    }
    await unlink(store.path(key));
  }
  return done;
}
