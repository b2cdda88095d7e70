/**
 * An analysis that computes one number per frame (rg, rmsd): the series in frame order,
 * with its mean, min and max. The author writes only the per-frame function.
 *
 * A frame's value needs the whole frame, so the analysis asks for frame-aligned slices
 * (wholeFrames). Each partial carries its slice's series; combine() links the right
 * pieces after the left ones without copying, so merging in slice order yields the
 * file's frame order and the merged state refers to each value once.
 */
import type { Analysis, AnalysisContext } from '../analysis.ts';
import { jsonNumber } from '../analysis.ts';
import { IncompleteFrameError } from '../errors.ts';
import { ExactSum } from '../exact-sum.ts';

export interface FrameSeriesState extends PendingFrame {
  /** the series in pieces, one per slice once merged: pieces are linked, never copied */
  series: number[][];
  /** the frames' times (ps) in pieces like the series', for inputs that store a time per frame (XTC, TRR, NetCDF); empty otherwise */
  times: number[][];
}

/** Rows of a frame that a block of rows ended inside: the next block completes it. */
export interface PendingFrame {
  pendingRows: number;
  pending?: Float64Array;
}

/**
 * Calls `fn` for every whole frame in a block of rows, in order: frames inside the block
 * are read in place; a frame cut by the block's end is kept in `p` and completed by the
 * next block (the frame then comes from p.pending). `row` is the frame's first row counted
 * from the block's first row: negative for a frame that began in an earlier block.
 */
export function eachFrame(p: PendingFrame, values: Float64Array, rowCount: number, columns: number, n: number, fn: (frame: Float64Array, from: number, row: number) => void): void {
  let r = 0;
  if (p.pendingRows > 0) {
    const pending = p.pending!;
    const take = Math.min(n - p.pendingRows, rowCount);
    pending.set(values.subarray(0, take * columns), p.pendingRows * columns);
    p.pendingRows += take;
    r = take;
    if (p.pendingRows === n) {
      p.pendingRows = 0;
      fn(pending, 0, take - n);
    }
  }
  for (; r + n <= rowCount; r += n) fn(values, r * columns, r);
  if (r < rowCount) {
    p.pending ??= new Float64Array(n * columns);
    p.pending.set(values.subarray(r * columns, rowCount * columns), 0);
    p.pendingRows = rowCount - r;
  }
}

export type FrameSeriesResult<K extends string> = { frames: number; mean: number | null; min: number | null; max: number | null; timePs?: (number | null)[] } & { [key in K]: (number | null)[] };

/** The value of the frame whose `ctx.frameRows` rows start at values[from], `columns` values a row. */
export type PerFrame = (values: Float64Array, from: number, columns: number, ctx: AnalysisContext) => number;

export function frameSeries<K extends string>(
  name: string,
  key: K,
  perFrame: PerFrame,
  traits: Pick<Analysis, 'groups' | 'reference'> = {},
): Analysis<FrameSeriesState, FrameSeriesResult<K>> {
  return {
    name,
    needsFrames: true,
    wholeFrames: true,
    ...traits,
    empty: () => ({ series: [[]], times: [[]], pendingRows: 0 }),
    // Frame times come in frame order, before their frames' rows: one piece per slice, like the series.
    addTime(state, _firstRow, ps) {
      state.times[state.times.length - 1]!.push(ps);
      return state;
    },
    addRows(state, values, rowCount, columns, _firstRow, ctx) {
      const out = state.series[state.series.length - 1]!;
      eachFrame(state, values, rowCount, columns, ctx.frameRows, (frame, from) => out.push(perFrame(frame, from, columns, ctx)));
      return state;
    },
    combine(left, right) {
      if (left.pendingRows > 0 && (right.series.some((p) => p.length > 0) || right.pendingRows > 0)) {
        throw new Error(`${name}: a slice ended inside a frame: slices must be cut at frame boundaries (wholeFrames)`);
      }
      for (const piece of right.series) if (piece.length > 0) left.series.push(piece);
      for (const piece of right.times) if (piece.length > 0) left.times.push(piece);
      left.pendingRows = right.pendingRows;
      return left;
    },
    finish(state, rows, ctx) {
      const n = ctx.frameRows;
      if (rows % n !== 0 || state.pendingRows > 0) throw new IncompleteFrameError(rows - (rows % n), rows % n, n);
      const total = new ExactSum();
      let min = Infinity;
      let max = -Infinity;
      const out: (number | null)[] = [];
      for (const piece of state.series) {
        for (const x of piece) {
          total.add(x);
          if (x < min) min = x;
          if (x > max) max = x;
          out.push(jsonNumber(x));
        }
      }
      const frames = out.length;
      // Every frame's time, or none: a time per frame is what the input stores, or it stores none.
      const times = state.times.flat();
      return {
        frames,
        [key]: out,
        ...(frames > 0 && times.length === frames ? { timePs: times.map(jsonNumber) } : {}),
        mean: frames > 0 ? jsonNumber(total.value() / frames) : null,
        min: frames > 0 ? jsonNumber(min) : null,
        max: frames > 0 ? jsonNumber(max) : null,
      } as FrameSeriesResult<K>;
    },
    // JSON has no NaN: a frame with NaN coordinates is written as null and read back as NaN.
    encode: (s) => {
      const times = s.times.flat();
      return { [key]: s.series.flatMap((p) => p.map((x) => (Number.isFinite(x) ? x : null))), ...(times.length > 0 ? { timePs: times.map((t) => (Number.isFinite(t) ? t : null)) } : {}), pendingRows: s.pendingRows };
    },
    decode: (j) => {
      const o = j as { pendingRows: number; timePs?: (number | null)[] } & Record<K, (number | null)[]>;
      // The decoded JSON arrays are used as they are unless they hold nulls.
      const numbers = (values: (number | null)[]): number[] => (values.includes(null) ? values.map((x) => x ?? NaN) : (values as number[]));
      return { series: [numbers(o[key])], times: [numbers(o.timePs ?? [])], pendingRows: o.pendingRows };
    },
  };
}
