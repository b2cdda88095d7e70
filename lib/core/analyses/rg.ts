/**
 * `rg`: the unweighted radius of gyration of every frame, sqrt(mean over rows of
 * |r - centroid|^2), in frame order, with its mean, min and max.
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

export interface RgState {
  /** the series in pieces, one per slice once merged: pieces are linked, never copied */
  series: number[][];
  /** rows of a frame not yet complete: only the last slice of a file with a partial last frame ends with some */
  pendingRows: number;
  pending?: Float64Array;
}

export interface RgResult {
  frames: number;
  rg: (number | null)[];
  mean: number | null;
  min: number | null;
  max: number | null;
}

const scratch: { centre: Float64Array } = { centre: new Float64Array(8) };

/** Two passes in float64: the centroid, then the mean squared distance from it. */
function frameRg(values: Float64Array, from: number, rows: number, columns: number): number {
  if (scratch.centre.length < columns) scratch.centre = new Float64Array(columns);
  const centre = scratch.centre;
  centre.fill(0, 0, columns);
  const end = from + rows * columns;
  for (let i = from; i < end; i += columns) for (let c = 0; c < columns; c++) centre[c]! += values[i + c]!;
  for (let c = 0; c < columns; c++) centre[c]! /= rows;
  let squares = 0;
  for (let i = from; i < end; i += columns) {
    for (let c = 0; c < columns; c++) {
      const d = values[i + c]! - centre[c]!;
      squares += d * d;
    }
  }
  return Math.sqrt(squares / rows);
}

export const rg: Analysis<RgState, RgResult> = {
  name: 'rg',
  needsFrames: true,
  wholeFrames: true,
  empty: () => ({ series: [[]], pendingRows: 0 }),
  addRows(state, values, rowCount, columns, _firstRow, ctx: AnalysisContext) {
    const n = ctx.frameRows;
    const out = state.series[state.series.length - 1]!;
    let r = 0;
    if (state.pendingRows > 0) {
      const pending = state.pending!;
      const take = Math.min(n - state.pendingRows, rowCount);
      pending.set(values.subarray(0, take * columns), state.pendingRows * columns);
      state.pendingRows += take;
      r = take;
      if (state.pendingRows === n) {
        out.push(frameRg(pending, 0, n, columns));
        state.pendingRows = 0;
      }
    }
    for (; r + n <= rowCount; r += n) out.push(frameRg(values, r * columns, n, columns));
    if (r < rowCount) {
      state.pending ??= new Float64Array(n * columns);
      state.pending.set(values.subarray(r * columns, rowCount * columns), 0);
      state.pendingRows = rowCount - r;
    }
    return state;
  },
  combine(left, right) {
    if (left.pendingRows > 0 && (right.series.some((p) => p.length > 0) || right.pendingRows > 0)) {
      throw new Error('rg: a slice ended inside a frame: slices must be cut at frame boundaries (wholeFrames)');
    }
    for (const piece of right.series) if (piece.length > 0) left.series.push(piece);
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
    return {
      frames,
      rg: out,
      mean: frames > 0 ? jsonNumber(total.value() / frames) : null,
      min: frames > 0 ? jsonNumber(min) : null,
      max: frames > 0 ? jsonNumber(max) : null,
    };
  },
  // JSON has no NaN: a frame with NaN coordinates is written as null and read back as NaN.
  encode: (s) => ({ rg: s.series.flatMap((p) => p.map((x) => (Number.isFinite(x) ? x : null))), pendingRows: s.pendingRows }),
  decode: (j) => {
    const o = j as { rg: (number | null)[]; pendingRows: number };
    // The decoded JSON array is used as it is unless it holds nulls.
    const piece = o.rg.includes(null) ? o.rg.map((x) => x ?? NaN) : (o.rg as number[]);
    return { series: [piece], pendingRows: o.pendingRows };
  },
};
