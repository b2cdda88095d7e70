/**
 * `row-sums`: for frames of n rows, the sum of every value in row i of every frame,
 * accumulated over all frames, and its mean over frames.
 *
 * A slice does not know at which row of a frame it starts, so it keeps n cells (one
 * ExactCells, about 16 bytes a row) by its own row index mod n. combine() rotates the
 * right side's cells by the left side's row count: associative, so any slicing and any
 * merge order agree.
 */
import type { Analysis } from '../analysis.ts';
import { jsonNumber, wholeFrameCount } from '../analysis.ts';
import { ExactCells, type ExactCellsEncoded } from '../exact-cells.ts';

export interface RowSumsState {
  buckets: ExactCells;
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
  frameSizedState: true,
  empty: () => ({ buckets: new ExactCells() }),
  addRows(state, values, rowCount, columns, firstRow, ctx) {
    state.buckets.addRowSums(values, 0, rowCount, columns, firstRow % ctx.frameRows, ctx.frameRows);
    return state;
  },
  combine(left, right, leftRows, ctx) {
    left.buckets.mergeRotated(right.buckets, leftRows % ctx.frameRows, ctx.frameRows);
    return left;
  },
  finish(state, rows, ctx) {
    const n = ctx.frameRows;
    const frames = wholeFrameCount(rows, n);
    const sums = Array.from({ length: n }, (_, r) => (r < state.buckets.length ? state.buckets.value(r) : 0));
    return {
      frames,
      rowsPerFrame: n,
      rowSums: sums.map(jsonNumber),
      rowMeans: sums.map((s) => (frames > 0 ? jsonNumber(s / frames) : null)),
    };
  },
  encode: (s) => ({ buckets: s.buckets.encode() }),
  release: (s) => s.buckets.release(),
  decode: (j, ctx) => ({ buckets: ExactCells.decode((j as { buckets: ExactCellsEncoded }).buckets, ctx.frameRows) }),
};
