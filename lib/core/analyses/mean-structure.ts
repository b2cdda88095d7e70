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
import { wholeFrameCount } from '../analysis.ts';
import { ExactCells, type ExactCellsEncoded } from '../exact-cells.ts';
import { ResultArray } from '../result-array.ts';

export interface MeanStructureState {
  /** row-of-frame major: cell (row * columns + column) */
  sums: ExactCells;
}

export interface MeanStructureResult {
  frames: number;
  atoms: number;
  /** (atoms, columns); in the document, rows of (x, y, z) (null: not a finite number), or a .npy file for a large one */
  mean: ResultArray;
}

const frameCells = (ctx: AnalysisContext): number => ctx.frameRows * ctx.columns;

export const meanStructure: Analysis<MeanStructureState, MeanStructureResult> = {
  name: 'mean-structure',
  needsFrames: true,
  frameSizedState: true,
  liveFold: true,
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
    const frames = wholeFrameCount(rows, n);
    // Made inside its .npy file's bytes: a large one is written as it is.
    const array = ResultArray.inNpy([n, ctx.columns]);
    const mean = array.data;
    if (frames === 0) mean.fill(NaN);
    else state.sums.valuesInto(mean, frames);
    return { frames, atoms: n, mean: array };
  },
  encode: (s) => ({ sums: s.sums.encode() }),
  release: (s) => s.sums.release(),
  decode: (j, ctx) => ({ sums: ExactCells.decode((j as { sums: ExactCellsEncoded }).sums, frameCells(ctx)) }),
};
