/**
 * The embedded runtime: plan the job, scan the slices that have no partial yet on
 * worker threads, merge, and keep everything in a state dir (the manifest and result as
 * documents, the partials in append-only logs) so that an interrupted run (even kill -9)
 * resumes where it stopped.
 */
import { createWriteStream, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { makeDirs } from './dirs.ts';
import { FileParts, FileSource, openFiles } from './file-source.ts';
import { LocalDirStore } from './local-store.ts';
import { LocalPartialLog } from './partial-log.ts';
import { SliceQueue } from './slice-queue.ts';
import { runOnThreads, StartedThreads } from './thread-pool.ts';
import type { Analysis } from '../core/analysis.ts';
import { InputError, UsageError } from '../core/errors.ts';
import { chainedOptions, finishResult, type Partial, PartialFold, progressBytes, type ResultDocument, resultDocument, scanSliceLive, textRowLocator } from '../core/job.ts';
import { type JobSpec, type PlanOptions, planJob } from '../core/plan.ts';
import { newManifest, writeManifest, writeResult } from '../job/documents.ts';
import type { ByteSource, PartialLog, PartialRef } from '../job/ports.ts';
import { analysisRef, loadAnalysis } from '../job/analysis-loader.ts';

const MAIN_TURN_EVERY_MS = 20;
/** Inputs of at least twice this many bytes start threads before planning, one per this many bytes. */
const EARLY_THREADS_BYTES = 32 * 1024 * 1024;

/** The bytes of local files (0 for one that is not there: opening it says why). */
function bytesOf(paths: readonly string[]): number {
  return paths.reduce((n, p) => n + (statSync(p, { throwIfNoEntry: false })?.size ?? 0), 0);
}

export interface Progress {
  slicesDone: number;
  slicesTotal: number;
  resumedSlices: number;
  bytesDone: number;
  bytesTotal: number;
  startedAt: number;
  /** the bytes are compressed ones: a compressed stream, whose decompressed size is unknown */
  compressedBytes?: boolean;
  /** a chained analysis (rmsf): which of its jobs this is, e.g. "stage 1 of 2 (rmsf-average)" */
  stage?: string;
}

export interface LocalRunOptions extends PlanOptions {
  analysis: string;
  analysisOptions?: Record<string, string>;
  stateDir: string;
  workers: number;
  onPlan?: (spec: JobSpec) => void;
  onProgress?: (p: Progress) => void;
  /**
   * Opens an input that is not a local file (the CLI passes one for s3://bucket/key, which
   * reads the object by ranges, pinned to the version it was planned on). Default: a file.
   */
  openSource?: (path: string) => Promise<RunSource>;
  /** start the worker threads before planning (default: for inputs of 64 MiB or more, at most one a core and one per 32 MiB) */
  startThreadsEarly?: boolean;
  /** what `-` reads (default: process.stdin) */
  stdin?: NodeJS.ReadableStream;
}

/** An input the local runtime can scan: a byte source that knows its identity and notices a change. */
export type RunSource = ByteSource & { identity: string; assertUnchanged(identity: string): Promise<void>; close(): Promise<void> };

/** Runs one job over `input`: a file, `-` (standard input), the parts of one trajectory in order, or what `openSource` opens. */
export async function runLocal(input: string | readonly string[], opts: LocalRunOptions): Promise<ResultDocument> {
  const startedAt = Date.now();
  const paths = typeof input === 'string' ? [input] : input;
  if (paths.length === 0) throw new UsageError('no input given');
  if (paths.includes('-')) {
    if (paths.length > 1) throw new UsageError('- (standard input) is one input: it cannot be a part of a trajectory in parts');
    if (!opts.openSource) return runStdin(opts);
  }
  if (opts.openSource && paths.length > 1) throw new UsageError('an input in parts is read from local files only');
  // A chained analysis (rmsf): its first job, then itself with the first result as its reference.
  const options = opts.analysisOptions ?? {};
  const top = options.reference === undefined ? await loadAnalysis(await analysisRef(opts.analysis, options)) : undefined;
  if (top?.chain) {
    const staged = (n: number, name: string): LocalRunOptions['onProgress'] => opts.onProgress && ((p) => opts.onProgress!({ ...p, stage: `stage ${n} of 2 (${name})` }));
    const first = await runLocal(input, { ...opts, analysis: top.chain.first, onProgress: staged(1, top.chain.first) });
    return runLocal(input, { ...opts, analysisOptions: chainedOptions(top, options, first), onProgress: staged(2, opts.analysis) });
  }
  const ref = await analysisRef(opts.analysis, opts.analysisOptions);
  // Threads scan local files only; they load their code while this thread plans. Not for
  // a small input, which may well be one slice (a thread started for nothing costs more
  // CPU than it saves), and at most one a core and one per EARLY_THREADS_BYTES of input
  // (--workers 64 does not start 63 isolates before the plan says how many slices there
  // are): the job starts the rest, if it needs them.
  const bytes = opts.openSource ? 0 : bytesOf(paths);
  const early = opts.openSource ? 0 : opts.startThreadsEarly === true ? opts.workers - 1 : opts.startThreadsEarly === false ? 0 : Math.min(opts.workers, availableParallelism(), Math.floor(bytes / EARLY_THREADS_BYTES)) - 1;
  const started = new StartedThreads(early, ref);
  try {
    return await runJob(paths, ref, started, opts, startedAt);
  } finally {
    await started.close();
  }
}

async function runJob(paths: readonly string[], ref: Awaited<ReturnType<typeof analysisRef>>, started: StartedThreads, opts: LocalRunOptions, startedAt: number): Promise<ResultDocument> {
  const source: RunSource = opts.openSource ? await opts.openSource(paths[0]!) : await openFiles(paths);
  try {
    const analysis = await loadAnalysis(ref);
    const spec = await planJob(source, ref, opts, source.identity);
    opts.onPlan?.(spec);
    const store = new LocalDirStore(opts.stateDir);
    // Create-only: a state dir of an earlier version may hold the job's manifest in its
    // older shape (the bare spec); the job id is the plan's hash, so it plans the same job.
    await writeManifest(store, newManifest(spec, startedAt));
    const log = new LocalPartialLog(opts.stateDir, spec.id);
    try {
      const refs = log.committed(spec.sliceCount);
      // Partials are folded in slice order as soon as they are committed, by the main
      // thread between its own slices, so that little is left to fold after the scan. One
      // decoded partial at a time: a partial can be megabytes (mean-structure).
      const fold = new InOrderFold(new PartialFold(spec, analysis), log, refs, analysis);
      const progress = await scanMissing(source, spec, analysis, log, refs, fold, started, { ...opts, startedAt });
      await source.assertUnchanged(spec.input.identity);
      fold.foldReady();
      if (fold.inner.next < spec.sliceCount) throw new Error(`partial ${fold.inner.next} of job ${spec.id} is missing after the scan`);
      const merged = fold.inner.merged();
      const result = await finishResult(spec, analysis, merged, textRowLocator(source, spec, merged));
      const doc = resultDocument(spec, merged, result, { resumedSlices: progress.resumedSlices, elapsedMs: Date.now() - startedAt });
      await writeResult(store, doc);
      return doc;
    } finally {
      log.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * `-`: standard input is spooled to a file in the state dir (<state dir>/stdin/), which
 * is then run as any file, on every worker, and removed. A pipe cannot be read by byte
 * ranges, so nothing is scanned before the input has ended, and a run over stdin never
 * resumes: every spool is a new file, so a new job. The result names the input `-`,
 * errors `stdin`.
 */
async function runStdin(opts: LocalRunOptions): Promise<ResultDocument> {
  if (!opts.stdin && process.stdin.isTTY) throw new UsageError('- reads standard input, which is a terminal here: pipe the data in (... | fanout run -) or give a file');
  const dir = join(opts.stateDir, 'stdin');
  makeDirs(dir);
  const spool = join(dir, `${process.pid}-${Date.now()}.in`);
  try {
    await pipeline(opts.stdin ?? process.stdin, createWriteStream(spool));
    const doc = await runLocal(spool, opts);
    return { ...doc, input: { ...doc.input, path: '-' } };
  } catch (e) {
    if (e instanceof InputError && e.file === spool) throw new InputError('stdin', e.offset, e.problem);
    throw e;
  } finally {
    await rm(spool, { force: true });
  }
}

/**
 * Scans the slices that no partial in `refs` covers yet, adding each partial as it is
 * committed. The main thread is always a worker, taking runs of slices from one queue
 * with the threads: one thread fewer to start and one V8 isolate (about 35 MB) saved.
 * Threads open the input as a file, so an S3 object is scanned on the main thread alone.
 */
async function scanMissing(
  source: ByteSource,
  spec: JobSpec,
  analysis: Analysis,
  log: PartialLog,
  refs: Map<number, PartialRef>,
  fold: InOrderFold,
  started: StartedThreads,
  opts: LocalRunOptions & { startedAt: number },
): Promise<Progress> {
  const covered = new Uint8Array(spec.sliceCount);
  for (const ref of refs.values()) covered.fill(1, ref.index, ref.index + ref.slices);
  const missing: number[] = [];
  for (let i = 0; i < spec.sliceCount; i++) if (!covered[i]) missing.push(i);
  const resumed = spec.sliceCount - missing.length;
  const progress: Progress = {
    slicesDone: resumed,
    slicesTotal: spec.sliceCount,
    resumedSlices: resumed,
    bytesDone: 0,
    bytesTotal: missing.reduce((a, i) => a + progressBytes(spec, i), 0),
    startedAt: opts.startedAt,
    ...(spec.compression?.bytes === null ? { compressedBytes: true } : {}),
  };
  opts.onProgress?.(progress);
  const events = {
    progress(bytes: number) {
      progress.bytesDone += bytes;
      opts.onProgress?.(progress);
    },
    done(ref: PartialRef, handed?: Partial) {
      refs.set(ref.index, ref);
      if (handed) fold.hand(handed);
      progress.slicesDone += ref.slices;
      opts.onProgress?.(progress);
    },
  };
  const queue = new SliceQueue(missing);
  const threads = source instanceof FileSource || source instanceof FileParts ? Math.min(opts.workers - 1, missing.length - 1) : 0;
  const sizing = { sliceBytes: spec.input.bytes / spec.sliceCount, consumers: threads + 1 };
  const onMain = async (): Promise<void> => {
    try {
      let turnAt = Date.now();
      let first = true;
      for (const { index, slices } of queue.runs(sizing)) {
        // The process's own start-up (imports, planning) counts as the main worker's cold start.
        const { partial, state } = await scanSliceLive(source, spec, index, analysis, { worker: 'main', coldStart: first, onProgress: events.progress, slices });
        first = false;
        // Logged for a resume all the same; folded from memory when it is next in line.
        events.done(log.append(partial));
        fold.foldReady(partial, state);
        // A small run is read and committed without a single macrotask: let the event
        // loop take the threads' reports now and then.
        if (Date.now() - turnAt >= MAIN_TURN_EVERY_MS) {
          await nextTurn();
          turnAt = Date.now();
        }
      }
    } catch (e) {
      queue.clear();
      throw e;
    }
  };
  // Both settle before the run goes on: no thread is left scanning after a failure.
  const settled = await Promise.allSettled([threads > 0 ? runOnThreads(spec, queue, threads, sizing, opts.stateDir, events, started) : undefined, onMain()]);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return progress;
}

/** At most this many bytes of handed partials wait for their turn; the log has the rest. */
const HANDED_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Folds committed partials in slice order, as far as the next missing one. A partial
 * the main thread has just made (`own`, committed to the log already) is folded from its
 * live state when it is next in line, not read back from the log and decoded (24 MB for
 * a million atoms); out of line, its state is released and the log has it. Only for
 * analyses whose decode(encode(state)) holds what the state holds (`liveFold`), as a
 * resumed run folds what its log holds. A thread's large partial comes with its report
 * (`hand`: the same bytes as in its log, moved from the thread), and is decoded from
 * there rather than read back from the log.
 */
class InOrderFold {
  private readonly live: boolean;
  private readonly handed = new Map<number, { partial: Partial; bytes: number }>();
  private handedBytes = 0;

  constructor(
    readonly inner: PartialFold,
    private readonly log: PartialLog,
    private readonly refs: Map<number, PartialRef>,
    private readonly analysis: Analysis,
  ) {
    this.live = analysis.liveFold === true;
  }

  /** A committed partial of a thread, as the thread handed it over: folded from memory in its turn. */
  hand(partial: Partial): void {
    if (partial.index < this.inner.next || this.handed.has(partial.index)) return;
    const bytes = binaryBytes(partial.state);
    // Far ahead of the fold: left to the log, so that waiting partials stay bounded.
    if (this.handedBytes + bytes > HANDED_MAX_BYTES) return;
    this.handed.set(partial.index, { partial, bytes });
    this.handedBytes += bytes;
  }

  foldReady(own?: Partial, state?: unknown): void {
    let kept = own !== undefined && this.live;
    if (own !== undefined && !kept) this.analysis.release?.(state);
    for (let at = this.refs.get(this.inner.next); at !== undefined; at = this.refs.get(this.inner.next)) {
      if (kept && at.index === own!.index) {
        this.inner.addLive(own!, state);
        kept = false;
      } else {
        const handed = this.handed.get(at.index);
        if (handed) {
          this.handed.delete(at.index);
          this.handedBytes -= handed.bytes;
        }
        this.inner.add(handed?.partial ?? this.log.read(at));
      }
    }
    if (kept) this.analysis.release?.(state);
  }
}

/** The bytes of a state's binary fields. */
function binaryBytes(v: unknown): number {
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + binaryBytes(x), 0);
  if (v && typeof v === 'object') return Object.values(v).reduce((n: number, x) => n + binaryBytes(x), 0);
  return 0;
}
