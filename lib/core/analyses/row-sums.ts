/**
 * `row-sums`: for frames of n rows, the sum of every value in row i of every frame,
 * accumulated over all frames, and its mean over frames.
 *
 * A slice does not know at which row of a frame it starts, so it keeps n buckets by
 * its own row index mod n. combine() rotates the right side's buckets by the left
 * side's row count: associative, so any slicing and any merge order agree.
 */
import type { Analysis } from '../analysis.ts';
import { jsonNumber, mergeFrameCells, wholeFrameCount } from '../analysis.ts';
import { ExactSum, type ExactSumJSON } from '../exact-sum.ts';

export interface RowSumsState {
  buckets: ExactSum[];
}

export interface RowSumsResult {
  frames: number;
  rowsPerFrame: number;
  rowSums: (number | null)[];
  rowMeans: (number | null)[];
}

export const rowSums: Analysis<RowSumsState, RowSumsResult> = {
  name: 'row-sums',
  needsFrames: true,
  empty: (ctx) => ({ buckets: Array.from({ length: ctx.frameRows }, () => new ExactSum()) }),
  addRows(state, values, rowCount, columns, firstRow, ctx) {
    const n = ctx.frameRows;
    let phase = firstRow % n;
    for (let r = 0, i = 0; r < rowCount; r++, i += columns) {
      // A row's values are contiguous: one exact block sum (see ExactSum.addRange).
      state.buckets[phase]!.addRange(values, i, i + columns);
      if (++phase === n) phase = 0;
    }
    return state;
  },
  combine(left, right, leftRows, ctx) {
    mergeFrameCells(left.buckets, right.buckets, leftRows, ctx.frameRows);
    return left;
  },
  finish(state, rows, ctx) {
    const n = ctx.frameRows;
    const frames = wholeFrameCount(rows, n);
    const sums = state.buckets.map((b) => b.value());
    return {
      frames,
      rowsPerFrame: n,
      rowSums: sums.map(jsonNumber),
      rowMeans: sums.map((s) => (frames > 0 ? jsonNumber(s / frames) : null)),
    };
  },
  encode: (s) => ({ buckets: s.buckets.map((b) => b.toJSON()) }),
  decode: (j) => ({ buckets: (j as { buckets: ExactSumJSON[] }).buckets.map((b) => ExactSum.fromJSON(b)) }),
};
