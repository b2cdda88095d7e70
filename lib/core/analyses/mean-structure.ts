/**
 * `mean-structure`: the average position of every atom (every row of a frame) over all
 * frames, from exact per-(row, column) sums, so the answer does not depend on slicing.
 *
 * Like row-sums, a slice keeps its buckets by its own row index mod frameRows and
 * combine() rotates the right side by the left side's row count, so slices need not
 * start on a frame boundary.
 */
import type { Analysis } from '../analysis.ts';
import { jsonNumber, mergeFrameCells, wholeFrameCount } from '../analysis.ts';
import { ExactSum, type ExactSumJSON } from '../exact-sum.ts';

export interface MeanStructureState {
  /** row-of-frame major: bucket (row * columns + column) */
  sums: ExactSum[];
}

export interface MeanStructureResult {
  frames: number;
  atoms: number;
  mean: (number | null)[][];
}

export const meanStructure: Analysis<MeanStructureState, MeanStructureResult> = {
  name: 'mean-structure',
  needsFrames: true,
  empty: (ctx) => ({ sums: Array.from({ length: ctx.frameRows * ctx.columns }, () => new ExactSum()) }),
  addRows(state, values, rowCount, columns, firstRow, ctx) {
    const n = ctx.frameRows;
    const sums = state.sums;
    let bucket = (firstRow % n) * columns;
    const wrap = n * columns;
    for (let i = 0, end = rowCount * columns; i < end; i++) {
      sums[bucket]!.add(values[i]!);
      if (++bucket === wrap) bucket = 0;
    }
    return state;
  },
  combine(left, right, leftRows, ctx) {
    mergeFrameCells(left.sums, right.sums, leftRows, ctx.frameRows, ctx.columns);
    return left;
  },
  finish(state, rows, ctx) {
    const n = ctx.frameRows;
    const frames = wholeFrameCount(rows, n);
    const mean: (number | null)[][] = [];
    for (let r = 0; r < n; r++) {
      const row: (number | null)[] = [];
      for (let c = 0; c < ctx.columns; c++) row.push(frames > 0 ? jsonNumber(state.sums[r * ctx.columns + c]!.value() / frames) : null);
      mean.push(row);
    }
    return { frames, atoms: n, mean };
  },
  encode: (s) => ({ sums: s.sums.map((b) => b.toJSON()) }),
  decode: (j) => ({ sums: (j as { sums: ExactSumJSON[] }).sums.map((b) => ExactSum.fromJSON(b)) }),
};
