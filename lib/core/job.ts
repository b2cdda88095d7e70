/**
 * Scanning one slice into a partial, and merging partials into the result document.
 * Both runtimes (worker threads, Lambda) call exactly these.
 */
import type { Analysis, AnalysisContext } from './analysis.ts';
import { scanBinary } from './binary-reader.ts';
import { describeCompression } from './compressed/plan.ts';
import { DecompressedSource, type DecompressedSourceOptions } from './compressed/source.ts';
import { dcdFrameOffset, scanDcd } from './dcd.ts';
import { FrameProblemError, IncompleteFrameError, InputError, UsageError } from './errors.ts';
import { angstromRows, lengthScales } from './lengths.ts';
import { scanNetcdf } from './netcdf.ts';
import { inlineSmallArrays } from './result-array.ts';
import { PartsSource } from './parts.ts';
import { scanSegments, unitIndex, unitOffset, unitsIn } from './segments.ts';
import { type JobSpec, sliceBounds, type TrajectoryInfo } from './plan.ts';
import { frameSelectionOf } from './selection/frame-filter.ts';
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
  // With a selection the analysis sees a frame of the selected rows (lib/core/selection/frame-filter.ts).
  const selection = frameSelectionOf(spec);
  if (selection) return { columns: spec.layout.columns, frameRows: selection.count, options: spec.analysis.options, groups: selection.groups() };
  return { columns: spec.layout.columns, frameRows: spec.frameRows, options: spec.analysis.options };
}

/** The rows the analysis saw of `rows` rows of the input (fewer with a selection). */
const analysedRows = (spec: JobSpec, rows: number): number => frameSelectionOf(spec)?.delivered(rows) ?? rows;

export async function scanSlice(
  source: ByteSource,
  spec: JobSpec,
  index: number,
  analysis: Analysis,
  options: SliceRunOptions = {},
): Promise<Partial> {
  const { partial, state } = await scanSliceLive(source, spec, index, analysis, options);
  analysis.release?.(state);
  return partial;
}

/**
 * scanSlice, also handing back the live state the partial encodes: the caller owns it
 * (and releases it, or folds it with PartialFold.addLive), so a partial made in this
 * thread can be folded without decoding it again.
 */
export async function scanSliceLive(
  source: ByteSource,
  spec: JobSpec,
  index: number,
  analysis: Analysis,
  options: SliceRunOptions = {},
): Promise<{ partial: Partial; state: unknown }> {
  const clock = options.now ?? Date.now;
  const startedAt = clock();
  const slices = options.slices ?? 1;
  if (!Number.isInteger(slices) || slices < 1 || index + slices > spec.sliceCount) throw new RangeError(`slices ${index}..${index + slices - 1} are not in the plan of job ${spec.id} (${spec.sliceCount} slices)`);
  const { start } = sliceBounds(spec, index);
  const { end } = sliceBounds(spec, index + slices - 1);
  const ctx = analysisContext(spec);
  if (analysis.reference) ctx.reference = await referenceStructure(source, spec);
  let state = analysis.empty(ctx);
  const fold: RowSink = {
    rows(values, rowCount, columns, firstRow) {
      state = analysis.addRows(state, values, rowCount, columns, firstRow, ctx);
    },
  };
  // Unit cells only for analyses that want them: the readers decode none otherwise.
  if (analysis.needsBox && analysis.addBox) fold.box = (firstRow, dims) => (state = analysis.addBox!(state, firstRow, dims, ctx));
  // Frame times the same way, for analyses that take them (rg and rmsd report them).
  if (analysis.addTime) fold.time = (firstRow, ps) => (state = analysis.addTime!(state, firstRow, ps, ctx));
  // Trajectory lengths reach every analysis in Å (box lengths too), and a selection's rows only: see deliveredRows.
  const { sink, lengthScale } = deliveredRows(fold, spec);
  // A compressed stream's decompressed size is unknown: its progress is the compressed bytes the decoder took.
  const stream = spec.compression !== undefined && spec.compression.bytes === null;
  const scanOptions: ScanOptions = { ...options, job: spec.id, onBadRecord: spec.onBadRecord, lengthScale, ...(stream ? { onProgress: undefined } : {}) };
  const input = inputOf(source, spec, stream ? { onCompressedBytes: options.onProgress } : {});
  let stats: ScanStats & { missing?: MissingCounts };
  try {
    stats = await scanRange(input, spec.layout, start, end, sink, scanOptions);
  } catch (e) {
    // Plain gzip hands out data before the member's CRC has checked it: a damaged stream
    // should be reported as such, not as the garbage it inflated to.
    if (e instanceof InputError && input instanceof DecompressedSource) await input.verify(options.signal);
    const located = e instanceof FrameProblemError ? frameProblemAt(source.name, spec, start, e) : e;
    // A trajectory in parts: the error names the part and the offset in it.
    throw source instanceof PartsSource ? source.partError(located) : located;
  }
  const encoded = analysis.encode(state);
  const finishedAt = clock();
  const partial: Partial = {
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
  return { partial, state };
}

/**
 * An analysis's problem with frame `e.frame` of the slice that starts at `start`, at that
 * frame's byte offset, for frames of one size (the frame-chain readers, XTC and TRR, place
 * it themselves: only they know where their frames start).
 */
function frameProblemAt(file: string, spec: JobSpec, start: number, e: FrameProblemError): Error {
  const layout = spec.layout;
  const frameBytes = layout.kind === 'dcd' || layout.kind === 'netcdf' ? layout.frameBytes : layout.kind === 'binary' ? spec.frameRows * layout.columns * layout.dtype.bytes : 0;
  if (layout.kind === 'text' || !(frameBytes > 0) || layout.kind === 'xtc' || layout.kind === 'trr') return e;
  const frame = unitIndex(layout, start, frameBytes) + e.frame;
  return new InputError(file, layout.kind === 'dcd' ? dcdFrameOffset(layout, frame) : unitOffset(layout, frame, frameBytes), e.problem);
}

/**
 * The rows as the analysis gets them, from the rows the reader emits: every change made
 * to rows before the analysis sees them (a unit conversion, a row filter) belongs here,
 * so that a reference frame (captureFrame) is delivered exactly like every other frame.
 */
function deliveredRows(sink: RowSink, spec: JobSpec): { sink: RowSink; lengthScale: number } {
  // Trajectory lengths reach every analysis in Å, whatever the file stores (lengths.ts):
  // multiplied by the reader as it decodes (`lengthScale`, for the scan's options) or here.
  const scales = lengthScales(spec.trajectory, spec.layout.kind);
  const inAngstrom = angstromRows(sink, scales.rows);
  // A selection hands the analysis only its rows of every frame (lib/core/selection/frame-filter.ts).
  return { sink: frameSelectionOf(spec)?.sink(inAngstrom) ?? inAngstrom, lengthScale: scales.reader };
}

/** Reads the rows of [start, end) of the input with the reader of its layout. */
function scanRange(input: ByteSource, layout: JobSpec['layout'], start: number, end: number, sink: RowSink, options: ScanOptions): Promise<ScanStats & { missing?: MissingCounts }> {
  return layout.kind === 'text'
    ? scanText(input, layout, start, end, sink, options)
    : layout.kind === 'dcd'
      ? scanSegments(layout, start, end, sink, options, (part, from, to, partSink, o) => scanDcd(input, part, from, to, partSink, o))
      : layout.kind === 'xtc'
        ? scanXtc(input, layout, start, end, sink, options)
        : layout.kind === 'trr'
          ? scanTrr(input, layout, start, end, sink, options)
          : layout.kind === 'netcdf'
            ? scanSegments(layout, start, end, sink, options, (part, from, to, partSink, o) => scanNetcdf(input, part, from, to, partSink, o))
            : scanBinary(input, layout, start, end, sink, options);
}

// The reference of the last job this thread (or process) scanned: every slice of a job
// needs the same one, and a thread scans one job at a time.
let referenceCache: { job: string; reference: Float64Array } | undefined;

/**
 * The reference structure of an analysis that declares `reference` (see Analysis): the
 * coordinates given with the job (analysis option `reference`: frameRows x columns
 * float64, little-endian, base64, in the unit `reference-unit` if it differs from the
 * trajectory's; `--reference FILE` and the rmsf chain pass structures so), or
 * frame `ref-frame` (default 0) of the input itself, which every slice reads from the
 * source it already has: no runtime has to hand it out. Frames of one size are read at
 * their offset; XTC and TRR frames are counted from the start (a reference frame far into
 * such a file costs each thread, or each Lambda, a scan up to it).
 */
export async function referenceStructure(source: ByteSource, spec: JobSpec, signal?: AbortSignal): Promise<Float64Array> {
  if (referenceCache?.job === spec.id) return referenceCache.reference;
  // A frame as the analysis gets it: with a selection, its selected rows.
  const cells = analysisContext(spec).frameRows * spec.layout.columns;
  const given = spec.analysis.options.reference;
  let reference: Float64Array;
  if (given !== undefined) {
    reference = decodeCoordinates(given);
    // A structure file's unit (PDB: Å, GRO: nm) made the trajectory's.
    const from = spec.analysis.options['reference-unit'];
    const to = (spec.trajectory as { lengthUnit?: string } | undefined)?.lengthUnit;
    const scale = from === to || from === undefined || to === undefined ? 1 : (LENGTH_UNITS[from] ?? NaN) / (LENGTH_UNITS[to] ?? NaN);
    if (!(scale > 0)) throw new UsageError(`${spec.analysis.name}: a reference in ${from} cannot be compared with coordinates in ${to}`);
    if (scale !== 1) for (let i = 0; i < reference.length; i++) reference[i]! *= scale;
    // A structure of every atom (a PDB) with a selection: its selected rows.
    const selection = frameSelectionOf(spec);
    if (selection && reference.length !== cells && reference.length === spec.frameRows * spec.layout.columns) {
      const all = reference;
      selection.sink({ rows: (values, rowCount, columns) => (reference = values.slice(0, rowCount * columns)) }).rows(all, spec.frameRows, spec.layout.columns, 0);
    }
    if (reference.length !== cells) throw new UsageError(`${spec.analysis.name}: the reference structure holds ${reference.length / spec.layout.columns} rows, a frame of ${spec.input.name} ${spec.frameRows}${cells !== spec.frameRows * spec.layout.columns ? ` (${cells / spec.layout.columns} selected)` : ''}`);
  } else {
    const text = spec.analysis.options['ref-frame'] ?? '0';
    if (!/^\d+$/.test(text)) throw new UsageError(`${spec.analysis.name}: ref-frame takes a frame number (0 or more), not ${JSON.stringify(text)}`);
    reference = await captureFrame(source, spec, Number(text), signal);
  }
  referenceCache = { job: spec.id, reference };
  return reference;
}

/** Lengths in Å. */
const LENGTH_UNITS: Record<string, number> = { Å: 1, nm: 10 };

class FrameCaptured extends Error {}

/** Frame `frame` of the input, read by itself. */
async function captureFrame(source: ByteSource, spec: JobSpec, frame: number, signal?: AbortSignal): Promise<Float64Array> {
  // n rows a frame in the file, m as delivered (a selection's rows)
  const n = spec.frameRows;
  const m = analysisContext(spec).frameRows;
  const columns = spec.layout.columns;
  const out = new Float64Array(m * columns);
  const layout = spec.layout;
  // Frames of one size: frame k is slice k of a plan of one frame a slice. Otherwise count frames from the start.
  const fixed = layout.kind === 'dcd' || layout.kind === 'netcdf' || layout.kind === 'binary';
  const frames = fixed ? unitsIn(layout, layout.kind === 'binary' ? n * columns * layout.dtype.bytes : layout.frameBytes) : Infinity;
  const tooFar = (count: number) => new UsageError(`${spec.analysis.name}: ref-frame ${frame} is past the last frame of ${spec.input.name} (${count} frames, from 0)`);
  if (frame >= frames) throw tooFar(frames);
  const { start, end } = fixed ? sliceBounds({ ...spec, wholeFrames: true, sliceCount: frames }, frame) : { start: 0, end: spec.input.bytes };
  const first = fixed ? 0 : frame * m;
  let got = 0;
  let seen = 0;
  const sink: RowSink = {
    rows(values, rowCount, cols, firstRow) {
      seen = firstRow + rowCount;
      const from = Math.max(first, firstRow);
      const to = Math.min(first + m, firstRow + rowCount);
      if (to > from) {
        out.set(values.subarray((from - firstRow) * cols, (to - firstRow) * cols), (from - first) * cols);
        got += to - from;
      }
      if (got === m) throw new FrameCaptured();
    },
  };
  try {
    const delivered = deliveredRows(sink, spec);
    await scanRange(inputOf(source, spec), layout, start, end, delivered.sink, { onBadRecord: spec.onBadRecord, signal, lengthScale: delivered.lengthScale });
  } catch (e) {
    if (e instanceof FrameCaptured) return out;
    throw source instanceof PartsSource ? source.partError(e) : e;
  }
  throw tooFar(Math.floor(seen / m));
}

/**
 * The analysis options of the second job of a chain (see Analysis.chain): the first
 * job's result as the reference structure, in the trajectory's unit.
 */
export function chainedOptions(analysis: Analysis, options: Record<string, string>, first: ResultDocument): Record<string, string> {
  if (!analysis.chain) throw new TypeError(`${analysis.name} is not a chained analysis`);
  const unit = (first.trajectory as { lengthUnit?: string } | undefined)?.lengthUnit;
  return { ...options, reference: encodeCoordinates(analysis.chain.reference(first.result)), ...(unit ? { 'reference-unit': unit } : {}) };
}

/** Coordinates as an analysis option: float64 little-endian bytes in base64. */
export function encodeCoordinates(values: Float64Array): string {
  const bytes = new Uint8Array(values.length * 8);
  const view = new DataView(bytes.buffer);
  values.forEach((x, i) => view.setFloat64(i * 8, x, true));
  return Buffer.from(bytes).toString('base64');
}

export function decodeCoordinates(text: string): Float64Array {
  const bytes = Buffer.from(text, 'base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Float64Array.from({ length: Math.floor(bytes.length / 8) }, (_, i) => view.getFloat64(i * 8, true));
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
    this.addLive(p, this.analysis.decode(p.state, this.ctx));
  }

  /**
   * add(p) with p's state already decoded: the live state the scan encoded into p
   * (scanSliceLive), which the fold now owns. Only for analyses whose decode(encode(s))
   * holds the same numbers as s (`liveFold`): a resumed run decodes the same partial from
   * its log, and the result must be the same either way.
   */
  addLive(p: Partial, right: unknown): void {
    if (p.index !== this.nextIndex || p.job !== this.spec.id) throw new Error(`partial ${p.index} of job ${p.job} is out of place (expected ${this.nextIndex} of ${this.spec.id})`);
    this.nextIndex += slicesOf(p);
    this.pieces.push({ start: p.start, end: p.end, rowsBefore: this.rows });
    this.state = this.analysis.combine(this.state, right, analysedRows(this.spec, this.rows), this.ctx);
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
  if (layout.kind === 'dcd') return async (row) => dcdFrameOffset(layout, Math.floor(row / layout.atoms));
  if (layout.kind === 'netcdf') return async (row) => unitOffset(layout, Math.floor(row / layout.atoms), layout.frameBytes);
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

/**
 * Runs finish(), turning an incomplete frame into an InputError at its byte offset. The
 * result's small arrays are inlined, its large ones named for their .npy files.
 */
export async function finishResult(spec: JobSpec, analysis: Analysis, merged: Merged, locate?: RowLocator): Promise<unknown> {
  try {
    const selection = frameSelectionOf(spec);
    // A selection could hide an incomplete last frame (its selected rows may all be there).
    const extra = selection ? merged.rows % spec.frameRows : 0;
    if (extra !== 0) throw new IncompleteFrameError(merged.rows - extra, extra, spec.frameRows);
    // Small arrays inline as JSON, large ones as .npy files beside the document (result-array.ts).
    const result = inlineSmallArrays(analysis.finish(merged.state, analysedRows(spec, merged.rows), analysisContext(spec)), spec.id);
    // The unit cell is not part of the rows: it comes from the header read at planning.
    const box = spec.trajectory?.box;
    const isObject = result && typeof result === 'object' && !Array.isArray(result);
    // The result says which atoms it is about.
    if (selection && isObject) return { ...result, selection: selection.describe(), ...(box ? { box } : {}) };
    if (box && isObject) return { ...result, box };
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
