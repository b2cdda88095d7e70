/**
 * Scanning one slice into a partial, and merging partials into the result document.
 * Both runtimes (worker threads, Lambda) call exactly these.
 */
import type { Analysis, AnalysisContext } from './analysis.ts';
import { scanBinary } from './binary-reader.ts';
import { describeCompression } from './compressed/plan.ts';
import { DecompressedSource, type DecompressedSourceOptions } from './compressed/source.ts';
import { scanDcd } from './dcd.ts';
import { IncompleteFrameError, InputError } from './errors.ts';
import { scanNetcdf } from './netcdf.ts';
import { PartsSource } from './parts.ts';
import { type JobSpec, sliceBounds, type TrajectoryInfo } from './plan.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from './source.ts';
import type { TextLayout } from './text/layout.ts';
import { scanText } from './text/scan.ts';
import { scanTrr } from './trr.ts';
import { scanXtc } from './xtc.ts';

/** What the readers read: the source itself, or its decompressed bytes. */
export function inputOf(source: ByteSource, spec: JobSpec, opts?: DecompressedSourceOptions): ByteSource {
  return spec.compression ? new DecompressedSource(source, spec.compression, opts) : source;
}

/** The bytes progress counts for slice `index`: decompressed bytes, or for a compressed stream of unknown size (one slice) the compressed ones. */
export function progressBytes(spec: JobSpec, index: number): number {
  if (spec.compression && spec.compression.bytes === null) return spec.input.bytes;
  const { start, end } = sliceBounds(spec, index);
  return end - start;
}

/** What one slice (or a run of consecutive slices) produced. Deterministic apart from the timing fields. */
export interface Partial {
  job: string;
  index: number;
  /** how many consecutive slices of the plan, from `index`, this partial covers; absent: one */
  slices?: number;
  start: number;
  end: number;
  rows: number;
  skipped: number;
  skippedExamples: { offset: number; problem: string }[];
  /** text with --missing skip or count: missing values per column, and the records left out for holding one */
  missing?: MissingCounts;
  /** the analysis state, encoded */
  state: unknown;
  /** the story of the run: not part of the result */
  run: RunStory;
}

export interface MissingCounts {
  columns: number[];
  recordsLeftOut: number;
}

/** How many slices of the plan a partial covers. */
export const slicesOf = (p: Pick<Partial, 'slices'>): number => p.slices ?? 1;

/** How a slice ran: read by `fanout report`, left out of the partial's deterministic content. */
export interface RunStory {
  bytesRead: number;
  startedAt: number;
  finishedAt: number;
  /** a thread (`thread-3`), `main`, or a function instance */
  worker: string;
  /** records of the input in this slice (rows / rows per record: fractional when a slice cuts a frame) */
  records?: number;
  /** the first slice this worker ran since it started (thread spawn, Lambda init) */
  coldStart?: boolean;
  /** high-water of the process's resident memory sampled while the slice ran */
  peakRssBytes?: number;
}

export interface SliceRunOptions extends ScanOptions {
  worker?: string;
  coldStart?: boolean;
  /**
   * Scan this many consecutive slices from `index` as one range, into one partial. The
   * records of the range are exactly those of its slices (a record belongs to the slice
   * that holds its first byte), and combine is associative, so the partial equals the
   * combine of the slices' own partials.
   */
  slices?: number;
  /** the clock of the partial's run times (a test's virtual clock); Date.now by default */
  now?: () => number;
}

// The process's resident high-water mark (getrusage: no file to open, unlike the current
// RSS). Threads share a process, so for a threaded run this is the process's peak so far.
// Sampled at most every PEAK_RSS_EVERY_MS: ten thousand small slices need not make ten
// thousand system calls, and a high-water mark a few ms old is still one the process reached.
const PEAK_RSS_EVERY_MS = 20;
let peakRssBytes = 0;
let peakRssAt = -Infinity;
function peakRss(now: number): number {
  if (now - peakRssAt >= PEAK_RSS_EVERY_MS && typeof process !== 'undefined' && process.resourceUsage) {
    peakRssBytes = process.resourceUsage().maxRSS * 1024;
    peakRssAt = now;
  }
  return peakRssBytes;
}

export function analysisContext(spec: JobSpec): AnalysisContext {
  return { columns: spec.layout.columns, frameRows: spec.frameRows, options: spec.analysis.options };
}

export async function scanSlice(
  source: ByteSource,
  spec: JobSpec,
  index: number,
  analysis: Analysis,
  options: SliceRunOptions = {},
): Promise<Partial> {
  const clock = options.now ?? Date.now;
  const startedAt = clock();
  const slices = options.slices ?? 1;
  if (!Number.isInteger(slices) || slices < 1 || index + slices > spec.sliceCount) throw new RangeError(`slices ${index}..${index + slices - 1} are not in the plan of job ${spec.id} (${spec.sliceCount} slices)`);
  const { start } = sliceBounds(spec, index);
  const { end } = sliceBounds(spec, index + slices - 1);
  const ctx = analysisContext(spec);
  let state = analysis.empty(ctx);
  const sink: RowSink = {
    rows(values, rowCount, columns, firstRow) {
      state = analysis.addRows(state, values, rowCount, columns, firstRow, ctx);
    },
  };
  // A compressed stream's decompressed size is unknown: its progress is the compressed bytes the decoder took.
  const stream = spec.compression !== undefined && spec.compression.bytes === null;
  const scanOptions: ScanOptions = { ...options, onBadRecord: spec.onBadRecord, ...(stream ? { onProgress: undefined } : {}) };
  const input = inputOf(source, spec, stream ? { onCompressedBytes: options.onProgress } : {});
  const layout = spec.layout;
  let stats: ScanStats & { missing?: MissingCounts };
  try {
    stats =
      layout.kind === 'text'
        ? await scanText(input, layout, start, end, sink, scanOptions)
        : layout.kind === 'dcd'
          ? await scanDcd(input, layout, start, end, sink, scanOptions)
          : layout.kind === 'xtc'
            ? await scanXtc(input, layout, start, end, sink, scanOptions)
            : layout.kind === 'trr'
              ? await scanTrr(input, layout, start, end, sink, scanOptions)
              : layout.kind === 'netcdf'
                ? await scanNetcdf(input, layout, start, end, sink, scanOptions)
                : await scanBinary(input, layout, start, end, sink, scanOptions);
  } catch (e) {
    // Plain gzip hands out data before the member's CRC has checked it: a damaged stream
    // should be reported as such, not as the garbage it inflated to.
    if (e instanceof InputError && input instanceof DecompressedSource) await input.verify(options.signal);
    // A trajectory in parts: the error names the part and the offset in it.
    throw source instanceof PartsSource ? source.partError(e) : e;
  }
  const encoded = analysis.encode(state);
  analysis.release?.(state);
  const finishedAt = clock();
  return {
    job: spec.id,
    index,
    ...(slices > 1 ? { slices } : {}),
    start,
    // A compressed stream's one slice ends where its data did (its planned end stands for "unknown").
    end: stream ? start + stats.bytesRead : end,
    rows: stats.rows,
    skipped: stats.skipped,
    skippedExamples: stats.skippedExamples,
    ...(stats.missing ? { missing: stats.missing } : {}),
    state: encoded,
    run: {
      bytesRead: stats.bytesRead,
      startedAt,
      finishedAt,
      worker: options.worker ?? 'main',
      records: stats.rows / spec.rowsPerRecord,
      coldStart: options.coldStart ?? false,
      peakRssBytes: peakRss(Date.now()),
    },
  };
}

export interface Merged {
  rows: number;
  skipped: number;
  skippedExamples: { offset: number; problem: string }[];
  missing?: MissingCounts;
  state: unknown;
  /** each partial folded, in order: its byte range and where its rows start in the file's row order */
  pieces: { start: number; end: number; rowsBefore: number }[];
}

/**
 * Folds partials in slice order (they must be complete and sorted by index). A merge
 * tree folds a run of consecutive nodes of one level: `firstIndex` is the index of the
 * first one (a merged partial is just a Partial covering more rows). A partial that
 * covers a run of slices (`slices`) is followed by the one after its run.
 */
export function mergePartials(spec: JobSpec, analysis: Analysis, partials: readonly Partial[], firstIndex = 0): Merged {
  const fold = new PartialFold(spec, analysis, firstIndex);
  for (const p of partials) fold.add(p);
  return fold.merged();
}

/**
 * Folds partials one at a time, in slice order, so a caller that reads them from a
 * store holds one decoded partial at a time rather than all of them.
 */
export class PartialFold {
  private readonly ctx: AnalysisContext;
  private state: unknown;
  private rows = 0;
  private skipped = 0;
  private readonly skippedExamples: Merged['skippedExamples'] = [];
  private missing: MissingCounts | undefined;
  private readonly pieces: Merged['pieces'] = [];
  private nextIndex: number;

  constructor(
    private readonly spec: JobSpec,
    private readonly analysis: Analysis,
    firstIndex = 0,
  ) {
    this.ctx = analysisContext(spec);
    this.state = analysis.empty(this.ctx);
    this.nextIndex = firstIndex;
  }

  /** The index the next partial must have: the first slice after those folded so far. */
  get next(): number {
    return this.nextIndex;
  }

  add(p: Partial): void {
    if (p.index !== this.nextIndex || p.job !== this.spec.id) throw new Error(`partial ${p.index} of job ${p.job} is out of place (expected ${this.nextIndex} of ${this.spec.id})`);
    this.nextIndex += slicesOf(p);
    this.pieces.push({ start: p.start, end: p.end, rowsBefore: this.rows });
    const right = this.analysis.decode(p.state, this.ctx);
    this.state = this.analysis.combine(this.state, right, this.rows, this.ctx);
    if (right !== this.state) this.analysis.release?.(right);
    this.rows += p.rows;
    this.skipped += p.skipped;
    for (const e of p.skippedExamples) if (this.skippedExamples.length < 5) this.skippedExamples.push(e);
    if (p.missing) {
      const m = (this.missing ??= { columns: p.missing.columns.map(() => 0), recordsLeftOut: 0 });
      p.missing.columns.forEach((n, c) => (m.columns[c] = (m.columns[c] ?? 0) + n));
      m.recordsLeftOut += p.missing.recordsLeftOut;
    }
  }

  merged(): Merged {
    return { rows: this.rows, skipped: this.skipped, skippedExamples: this.skippedExamples, ...(this.missing ? { missing: this.missing } : {}), state: this.state, pieces: this.pieces };
  }
}

/** Where a row starts, for error messages; text inputs need a re-scan of one slice. */
export type RowLocator = (row: number) => Promise<number | undefined>;

export function binaryRowLocator(spec: JobSpec): RowLocator {
  const layout = spec.layout;
  if (layout.kind === 'dcd' || layout.kind === 'netcdf') return async (row) => layout.dataOffset + Math.floor(row / layout.atoms) * layout.frameBytes;
  // Frames of different sizes: no offset without a scan (and every slice emits whole frames).
  if (layout.kind === 'xtc' || layout.kind === 'trr') return async () => undefined;
  if (layout.kind !== 'binary') throw new TypeError('not a binary layout');
  return async (row) => layout.dataOffset + row * layout.columns * layout.dtype.bytes;
}

export function textRowLocator(source: ByteSource, spec: JobSpec, merged: Merged): RowLocator {
  return async (row) => {
    const layout = spec.layout;
    if (layout.kind !== 'text') return undefined;
    let index = merged.pieces.length - 1;
    while (index > 0 && merged.pieces[index]!.rowsBefore > row) index--;
    const { start, end, rowsBefore } = merged.pieces[index]!;
    const found = await scanText(inputOf(source, spec), layout, start, end, { rows() {} }, { locateRow: row - rowsBefore, onBadRecord: spec.onBadRecord });
    return found.locatedAt;
  };
}

/** Runs finish(), turning an incomplete frame into an InputError at its byte offset. */
export async function finishResult(spec: JobSpec, analysis: Analysis, merged: Merged, locate?: RowLocator): Promise<unknown> {
  try {
    const result = analysis.finish(merged.state, merged.rows, analysisContext(spec));
    // The unit cell is not part of the rows: it comes from the header read at planning.
    const box = spec.trajectory?.box;
    if (box && result && typeof result === 'object' && !Array.isArray(result)) return { ...result, box };
    return result;
  } catch (e) {
    if (e instanceof IncompleteFrameError) {
      const offset = spec.layout.kind !== 'text' ? await binaryRowLocator(spec)(e.firstRow) : await locate?.(e.firstRow);
      throw new InputError(
        spec.input.name,
        offset ?? spec.input.bytes,
        `the last frame is incomplete: ${e.rowsInFrame} rows, a frame is ${e.frameRows} rows (--frame-rows)`,
      );
    }
    throw e;
  }
}

export interface ResultDocument {
  analysis: string;
  job: string;
  input: {
    path: string;
    bytes: number;
    format: string;
    shape?: number[];
    /** compression: the codec, and whether slices split it (if not, why: there is one slice) */
    compression?: ReturnType<typeof describeCompression>;
    /** a trajectory in parts: the files in frame order */
    parts?: { path: string; bytes: number }[];
    /** text: the fields of the header line */
    header?: string[];
    /** text, when not every column is read: the columns read (header names, else 0-based indices) and those left out */
    columns?: (string | number)[];
    ignoredColumns?: (string | number)[];
  };
  slices: number;
  records: number;
  skipped: number;
  skippedExamples?: { offset: number; problem: string }[];
  /** text with --missing skip or count: missing values in all, per column, and the records left out for holding one (skip) */
  missing?: { values: number; columns: number[]; recordsLeftOut: number };
  resumedSlices: number;
  elapsedMs: number;
  /** trajectories: header facts (lengthUnit among them), and warnings such as a frame count in the header that the file size contradicts */
  trajectory?: Omit<TrajectoryInfo, 'box'>;
  result: unknown;
}

export function resultDocument(spec: JobSpec, merged: Merged, result: unknown, extra: { resumedSlices: number; elapsedMs: number }): ResultDocument {
  return {
    analysis: spec.analysis.name,
    job: spec.id,
    input: {
      path: spec.input.name,
      bytes: spec.input.bytes,
      format: spec.format,
      ...(spec.shape ? { shape: spec.shape } : {}),
      ...(spec.compression ? { compression: describeCompression(spec.compression) } : {}),
      ...(spec.input.parts ? { parts: spec.input.parts.map((p) => ({ path: p.name, bytes: p.bytes })) } : {}),
      ...(spec.layout.kind === 'text' ? textInputDoc(spec.layout) : {}),
    },
    slices: spec.sliceCount,
    records: Math.floor(merged.rows / spec.rowsPerRecord),
    skipped: merged.skipped,
    ...(merged.skipped > 0 ? { skippedExamples: merged.skippedExamples } : {}),
    ...(spec.layout.kind === 'text' && spec.layout.missing ? { missing: missingDoc(spec.layout.columns, merged.missing) } : {}),
    resumedSlices: extra.resumedSlices,
    elapsedMs: extra.elapsedMs,
    ...(spec.trajectory ? { trajectory: withoutBox(spec.trajectory) } : {}),
    result,
  };
}

function textInputDoc(layout: TextLayout): Pick<ResultDocument['input'], 'header' | 'columns' | 'ignoredColumns'> {
  const { header, select, fields } = layout;
  const name = (i: number) => header?.[i] ?? i;
  return {
    ...(header ? { header } : {}),
    ...(select && fields !== undefined
      ? { columns: select.map(name), ignoredColumns: Array.from({ length: fields }, (_, i) => i).filter((i) => !select.includes(i)).map(name) }
      : {}),
  };
}

function missingDoc(columns: number, m: MissingCounts | undefined): NonNullable<ResultDocument['missing']> {
  const perColumn = Array.from({ length: columns }, (_, c) => m?.columns[c] ?? 0);
  return { values: perColumn.reduce((a, b) => a + b, 0), columns: perColumn, recordsLeftOut: m?.recordsLeftOut ?? 0 };
}

function withoutBox(info: TrajectoryInfo): Omit<TrajectoryInfo, 'box'> {
  const { box: _box, ...rest } = info;
  return rest;
}

/**
 * Which of a job's partials count: the first one found that covers a slice, reading logs
 * in name order and each log front to back (the runtime and `fanout report` alike). Two
 * processes running one job at once may cut the same slices into other runs: a partial
 * that overlaps one already taken is left out, so that no slice counts twice. A partial
 * with the same extent as one taken is a repeat, which the caller compares. A partial
 * that reaches past the plan's `sliceCount` slices (a damaged line) is left out too.
 */
export class SliceCover {
  private readonly extents = new Map<number, number>();
  private readonly covered = new Set<number>();

  constructor(private readonly sliceCount = Infinity) {}

  take(index: number, slices: number): 'taken' | 'repeat' | 'overlaps' | 'outside' {
    if (index + slices > this.sliceCount) return 'outside';
    if (this.extents.get(index) === slices) return 'repeat';
    for (let i = index; i < index + slices; i++) if (this.covered.has(i)) return 'overlaps';
    this.extents.set(index, slices);
    for (let i = index; i < index + slices; i++) this.covered.add(i);
    return 'taken';
  }
}
