/**
 * `mean-structure`: the average position of every atom (every row of a frame) over all
 * frames, from exact per-(row, column) sums, so the answer does not depend on slicing.
 *
 * The sums live in one ExactCells (about 16 bytes a cell, travelling as float64 bytes),
 * so a million atoms cost tens of MB, not the gigabytes of one ExactSum a cell. Like
 * row-sums, a slice keeps its cells by its own row index mod frameRows and combine()
 * rotates the right side by the left side's row count, so slices need not start on a
 * frame boundary.
 */
import type { Analysis, AnalysisContext } from '../analysis.ts';
import { jsonNumber, wholeFrameCount } from '../analysis.ts';
import { ExactCells, type ExactCellsEncoded } from '../exact-cells.ts';

export interface MeanStructureState {
  /** row-of-frame major: cell (row * columns + column) */
  sums: ExactCells;
}

export interface MeanStructureResult {
  frames: number;
  atoms: number;
  mean: (number | null)[][];
}

const frameCells = (ctx: AnalysisContext): number => ctx.frameRows * ctx.columns;

export const meanStructure: Analysis<MeanStructureState, MeanStructureResult> = {
  name: 'mean-structure',
  needsFrames: true,
  frameSizedState: true,
  // Cells are added as rows come: a slice shorter than a frame holds only its own rows' cells.
  empty: () => ({ sums: new ExactCells() }),
  addRows(state, values, rowCount, columns, firstRow, ctx) {
    state.sums.addCyclic(values, 0, rowCount * columns, (firstRow % ctx.frameRows) * columns, frameCells(ctx));
    return state;
  },
  combine(left, right, leftRows, ctx) {
    left.sums.mergeRotated(right.sums, (leftRows % ctx.frameRows) * ctx.columns, frameCells(ctx));
    return left;
  },
  finish(state, rows, ctx) {
    const n = ctx.frameRows;
    const columns = ctx.columns;
    const frames = wholeFrameCount(rows, n);
    const sums = state.sums;
    const at = (c: number): number | null => (frames > 0 ? jsonNumber(sums.value(c) / frames) : null);
    // Rows of three (positions) as literals: an array grown by push() reserves room for 17
    // values, and a million of those were 180 MB of garbage to collect.
    const mean: (number | null)[][] = new Array(n);
    for (let r = 0, c = 0; r < n; r++, c += columns) {
      if (columns === 3) mean[r] = [at(c), at(c + 1), at(c + 2)];
      else {
        const row: (number | null)[] = new Array(columns);
        for (let k = 0; k < columns; k++) row[k] = at(c + k);
        mean[r] = row;
      }
    }
    return { frames, atoms: n, mean };
  },
  encode: (s) => ({ sums: s.sums.encode() }),
  release: (s) => s.sums.release(),
  decode: (j, ctx) => ({ sums: ExactCells.decode((j as { sums: ExactCellsEncoded }).sums, frameCells(ctx)) }),
};
