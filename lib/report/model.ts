/**
 * What a report shows, computed from a job's documents and nothing else: no rendering
 * here, so the numbers can be tested on their own.
 */
import { type Partial, type ResultDocument, slicesOf } from '../core/job.ts';
import { ResultArray } from '../core/result-array.ts';
import { indicesOf, parseRanges } from '../core/selection/ranges.ts';
import type { JobData } from './job-data.ts';

/**
 * A partial that took longer than this many times what its size takes at the median
 * rate (plus CLOCK_MS) is marked as a straggler.
 */
export const STRAGGLER_FACTOR = 1.5;
/** Start and end times are whole milliseconds: a partial can seem to take up to 2 ms more than it did. */
const CLOCK_MS = 2;

/** One partial: a slice, or a run of consecutive slices the embedded runtime scanned as one range. */
export interface SliceRow {
  index: number;
  /** consecutive slices from `index` */
  slices: number;
  worker: string;
  start: number;
  end: number;
  bytes: number;
  bytesRead: number;
  rows: number;
  records: number;
  /** ms since the first partial of this run started */
  startMs: number;
  endMs: number;
  durationMs: number;
  /** bytes of the partial's slices per second of its own scan */
  bytesPerSecond: number;
  coldStart: boolean;
  peakRssBytes?: number;
  straggler: boolean;
}

export interface ReportModel {
  job: string;
  analysis: string;
  input: { path: string; bytes: number; format: string; shape?: number[] };
  slices: number;
  records?: number;
  skipped?: number;
  elapsedMs?: number;
  resumedSlices: number;
  state: 'done' | 'running' | 'failed';
  failure?: string;
  /** partials this run committed, for the timeline and throughput charts */
  rows: SliceRow[];
  /** partials present, including resumed ones, and the slices they cover */
  partialsFound: number;
  slicesFound: number;
  workers: string[];
  medianMs?: number;
  coldStarts: number;
  peakRssBytes?: number;
  /** input bytes per second of elapsed wall time (or of the scan window, without a result) */
  jobBytesPerSecond?: number;
  histogram?: { label: string; values: number[] };
  /** the result as an MD user plots it: rg/rmsd against frame or time, rmsf against atom, g(r) against r */
  series?: Series;
  figures: { label: string; value: string }[];
  notes: string[];
  where: string;
}

export function median(xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Resumed slices were written by an earlier, interrupted run, so they all finished
 * before this run began: they are covered by the partials that finished first.
 */
export function splitResumed(partials: readonly Partial[], resumed: number): { earlier: Partial[]; thisRun: Partial[] } {
  const byFinish = [...partials].sort((a, b) => a.run.finishedAt - b.run.finishedAt || a.index - b.index);
  const earlier = new Set<number>();
  for (let i = 0, slices = 0; i < byFinish.length && slices < resumed; i++) {
    earlier.add(byFinish[i]!.index);
    slices += slicesOf(byFinish[i]!);
  }
  return { earlier: partials.filter((p) => earlier.has(p.index)), thisRun: partials.filter((p) => !earlier.has(p.index)) };
}

export function sliceRows(partials: readonly Partial[], rowsPerRecord = 1): SliceRow[] {
  if (partials.length === 0) return [];
  const t0 = Math.min(...partials.map((p) => p.run.startedAt));
  const rows = partials.map((p): SliceRow => {
    const durationMs = Math.max(0, p.run.finishedAt - p.run.startedAt);
    const bytes = p.end - p.start;
    return {
      index: p.index,
      slices: slicesOf(p),
      worker: p.run.worker,
      start: p.start,
      end: p.end,
      bytes,
      bytesRead: p.run.bytesRead,
      rows: p.rows,
      records: p.run.records ?? p.rows / rowsPerRecord,
      startMs: p.run.startedAt - t0,
      endMs: p.run.finishedAt - t0,
      durationMs,
      // A slice faster than the clock's resolution gets 1 ms, not an infinite rate.
      bytesPerSecond: (bytes / Math.max(1, durationMs)) * 1000,
      coldStart: p.run.coldStart ?? false,
      ...(p.run.peakRssBytes !== undefined ? { peakRssBytes: p.run.peakRssBytes } : {}),
      straggler: false,
    };
  });
  // By size: a run of many slices is not slow for taking longer than one slice.
  const msPerByte = median(rows.filter((r) => r.bytes > 0).map((r) => r.durationMs / r.bytes));
  if (msPerByte !== undefined && msPerByte > 0) for (const r of rows) r.straggler = r.durationMs > STRAGGLER_FACTOR * msPerByte * r.bytes + CLOCK_MS;
  return rows;
}

/** A line over the result: x and y of equal length, axis titles with their units. */
export interface Series {
  /** 'step' for per-atom values (one flat step per atom), 'line' otherwise */
  kind: 'line' | 'step';
  x: { title: string; values: number[] };
  y: { title: string; values: number[] };
  /** drawn as a rule with its value (rg, rmsd) */
  mean?: number;
  /** said on the chart, e.g. that the points were downsampled */
  note?: string;
}

/** Above this many atoms an rmsf plot is downsampled (an SVG of a million points is too heavy to open). */
export const MAX_SERIES_POINTS = 100_000;

const numbers = (xs: unknown): number[] | undefined => (Array.isArray(xs) ? xs.map((x) => (typeof x === 'number' ? x : NaN)) : undefined);

/**
 * Frame times in ps, when the input states them: the result's own (`timePs`: XTC, TRR and
 * NetCDF store a time per frame), else the trajectory's first frame time and time step (DCD).
 */
function frameTimes(doc: ResultDocument, r: Record<string, unknown>, frames: number): number[] | undefined {
  const own = numbers(r.timePs);
  if (own) return own.length === frames && own.every(Number.isFinite) ? own : undefined;
  const t = doc.trajectory as { timeStepPs?: unknown; firstFrameTimePs?: unknown } | undefined;
  if (!t || typeof t.timeStepPs !== 'number' || typeof t.firstFrameTimePs !== 'number' || !(t.timeStepPs > 0)) return undefined;
  const dt = t.timeStepPs;
  const t0 = t.firstFrameTimePs;
  return Array.from({ length: frames }, (_, i) => t0 + i * dt);
}

/** The per-analysis line plot of a result; undefined for analyses without one. */
export function resultSeries(doc: ResultDocument): Series | undefined {
  const r = withNestedArrays(doc.result) as Record<string, unknown> | null;
  if (!r || typeof r !== 'object' || Array.isArray(r)) return undefined;
  // Lengths are in the unit the result states (a trajectory's, Å); a bare array's have none.
  const unit = doc.trajectory?.lengthUnit;
  const withUnit = (title: string): string => (unit ? `${title} (${unit})` : title);
  if ((doc.analysis === 'rg' || doc.analysis === 'rmsd') && Array.isArray(r[doc.analysis])) {
    const y = numbers(r[doc.analysis])!;
    const times = frameTimes(doc, r, y.length);
    const mean = typeof r.mean === 'number' ? r.mean : undefined;
    return {
      kind: 'line',
      x: times ? { title: 'time (ps)', values: times } : { title: 'frame', values: y.map((_, i) => i) },
      y: { title: withUnit(doc.analysis === 'rg' ? 'radius of gyration' : 'RMSD'), values: y },
      ...(mean !== undefined ? { mean } : {}),
    };
  }
  if (doc.analysis === 'rmsf' && Array.isArray(r.rmsf)) {
    const y = numbers(r.rmsf)!;
    // The measured atoms by their real index: a selection's atoms, else 0..n-1.
    const ranges = (r.selection as { atoms?: { ranges?: unknown } } | undefined)?.atoms?.ranges;
    const all = typeof ranges === 'string' ? indicesOf(parseRanges(ranges)) : undefined;
    const atom = all && all.length === y.length ? (i: number) => all[i]! : (i: number) => i;
    if (y.length <= MAX_SERIES_POINTS) return { kind: 'step', x: { title: 'atom index', values: y.map((_, i) => atom(i)) }, y: { title: withUnit('RMSF'), values: y } };
    // Downsampled: each point is the largest RMSF of a run of consecutive atoms, so no peak is lost.
    const per = Math.ceil(y.length / MAX_SERIES_POINTS);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < y.length; i += per) {
      let m = -Infinity;
      for (let j = i; j < Math.min(y.length, i + per); j++) if (y[j]! > m) m = y[j]!;
      xs.push(atom(i));
      ys.push(m === -Infinity ? NaN : m);
    }
    return {
      kind: 'step',
      x: { title: 'atom index', values: xs },
      y: { title: withUnit('RMSF'), values: ys },
      note: `${y.length} atoms downsampled to ${xs.length} points: each is the largest RMSF of ${per} consecutive atoms`,
    };
  }
  if (doc.analysis === 'rdf' && Array.isArray(r.rdf) && Array.isArray(r.bins)) {
    return { kind: 'line', x: { title: withUnit('r'), values: numbers(r.bins)! }, y: { title: 'g(r)', values: numbers(r.rdf)! } };
  }
  return undefined;
}

/** The vector the histogram shows, per analysis; undefined for a scalar result. */
export function resultVector(doc: ResultDocument): { label: string; values: number[] } | undefined {
  // A large result's arrays, read from their .npy files, as the nested arrays a small one holds.
  const r = withNestedArrays(doc.result) as Record<string, unknown> | unknown[] | null;
  const finite = (xs: unknown[]): number[] => xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  // A trajectory's lengths are in the unit its result states (Å, see lib/core/lengths.ts): an axis says it.
  const unit = doc.trajectory?.lengthUnit;
  const inUnit = (label: string): string => (unit ? `${label} (${unit})` : label);
  if (Array.isArray(r)) return { label: 'result value', values: finite(r) };
  if (!r || typeof r !== 'object') return undefined;
  if (doc.analysis === 'row-sums' && Array.isArray(r.rowMeans)) return { label: "row mean (mean over frames of a row's sum)", values: finite(r.rowMeans) };
  if (doc.analysis === 'stats' && Array.isArray(r.columns)) return { label: 'column mean', values: finite((r.columns as { mean?: unknown }[]).map((c) => c.mean)) };
  if (doc.analysis === 'rg' && Array.isArray(r.rg)) return { label: inUnit('radius of gyration per frame'), values: finite(r.rg) };
  if (doc.analysis === 'rmsd' && Array.isArray(r.rmsd)) return { label: inUnit('RMSD per frame'), values: finite(r.rmsd) };
  if (doc.analysis === 'rdf' && Array.isArray(r.rdf)) return { label: 'g(r) per bin', values: finite(r.rdf) };
  if (doc.analysis === 'mean-structure' && Array.isArray(r.mean)) {
    // The distance of each atom's mean position from the structure's centre.
    const xyz = (r.mean as unknown[][]).map(finite).filter((p) => p.length === 3);
    const c = [0, 1, 2].map((k) => xyz.reduce((a, p) => a + p[k]!, 0) / Math.max(1, xyz.length));
    return { label: inUnit('distance of mean atom position from the centre'), values: xyz.map((p) => Math.hypot(p[0]! - c[0]!, p[1]! - c[1]!, p[2]! - c[2]!)) };
  }
  const arrays = Object.entries(r).filter(([, v]) => Array.isArray(v) && v.length > 1 && v.every((x) => typeof x === 'number' || x === null));
  if (arrays.length === 1) return { label: arrays[0]![0], values: finite(arrays[0]![1] as unknown[]) };
  return undefined;
}

function withNestedArrays(result: unknown): unknown {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return result;
  return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v instanceof ResultArray ? v.toNested() : v]));
}

function figuresOf(doc: ResultDocument): { label: string; value: string }[] {
  const r = doc.result;
  if (!r || typeof r !== 'object' || Array.isArray(r)) return [];
  return Object.entries(r as Record<string, unknown>)
    .filter(([, v]) => typeof v === 'number' || v === null)
    .slice(0, 12)
    .map(([k, v]) => ({ label: k, value: v === null ? 'n/a' : String(v) }));
}

export function buildModel(data: JobData): ReportModel {
  const { doc, spec } = data;
  const resumed = doc?.resumedSlices ?? 0;
  const { earlier, thisRun } = splitResumed(data.partials, resumed);
  const rows = sliceRows(thisRun, spec?.rowsPerRecord ?? 1);
  const workers = [...new Set(rows.map((r) => r.worker))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const slices = doc?.slices ?? spec?.sliceCount ?? data.partials.length;
  const inputBytes = doc?.input.bytes ?? spec?.input.bytes ?? 0;
  const scanWindowMs = rows.length > 0 ? Math.max(...rows.map((r) => r.endMs)) : undefined;
  const scannedBytes = rows.reduce((a, r) => a + r.bytes, 0);
  const slicesFound = data.partials.reduce((a, p) => a + slicesOf(p), 0);
  const notes: string[] = [];
  if (earlier.length > 0) notes.push(`${earlier.reduce((a, p) => a + slicesOf(p), 0)} slices were scanned by an earlier, interrupted run and resumed: the timeline shows this run only.`);
  if (slicesFound < slices) notes.push(`${slicesFound} of ${slices} slices found at ${data.where}.`);
  if (!doc) notes.push('No result document yet: the job has not finished.');
  const failed = data.status?.state === 'failed';
  const series = doc ? resultSeries(doc) : undefined;
  const peaks = rows.map((r) => r.peakRssBytes).filter((x): x is number => x !== undefined);
  return {
    job: data.jobId,
    analysis: doc?.analysis ?? spec?.analysis.name ?? 'unknown',
    input: doc?.input ?? { path: spec?.input.name ?? 'unknown', bytes: inputBytes, format: spec?.format ?? 'unknown', ...(spec?.shape ? { shape: spec.shape } : {}) },
    slices,
    ...(doc ? { records: doc.records, skipped: doc.skipped, elapsedMs: doc.elapsedMs } : {}),
    resumedSlices: resumed,
    state: failed ? 'failed' : doc ? 'done' : 'running',
    ...(failed ? { failure: `${data.status?.reason ?? 'unknown reason'}${data.status?.slice !== undefined ? ` (slice ${data.status.slice})` : ''}` } : {}),
    rows,
    partialsFound: data.partials.length,
    slicesFound,
    workers,
    ...(rows.length > 0 ? { medianMs: median(rows.map((r) => r.durationMs)) } : {}),
    coldStarts: rows.filter((r) => r.coldStart).length,
    ...(peaks.length > 0 ? { peakRssBytes: Math.max(...peaks) } : {}),
    ...(doc && doc.elapsedMs > 0
      ? { jobBytesPerSecond: ((inputBytes - earlier.reduce((a, p) => a + (p.end - p.start), 0)) / doc.elapsedMs) * 1000 }
      : scanWindowMs
        ? { jobBytesPerSecond: (scannedBytes / Math.max(1, scanWindowMs)) * 1000 }
        : {}),
    ...(doc ? { histogram: resultVector(doc) } : {}),
    ...(series ? { series } : {}),
    figures: doc ? figuresOf(doc) : [],
    notes,
    where: data.where,
  };
}
