/**
 * `rmsf`: the root mean square fluctuation of every measured atom after fitting every
 * frame to a reference, by the recipe of MDAnalysis's documentation (the RMSF example
 * of MDAnalysis.analysis.rms, "Calculating the RMSF"): the average structure of the
 * trajectory fitted to a reference frame (align.AverageStructure), every frame fitted to
 * that average (align.AlignTraj), then the RMSF of the fitted coordinates (rms.RMSF).
 *
 * That is two passes over the trajectory, so two fan-outs, chained (`chain` below):
 *
 * 1. `rmsf-average`: every frame superposed on frame ref-frame (default 0) on the fit
 *    rows, and the exact sums of every row's fitted x, y and z: the average structure.
 * 2. `rmsf`: the same input, with that average as its reference (the analysis option
 *    `reference`): every frame superposed on it, and per measured row the exact sums of
 *    d (per axis) and |d|^2, d = fitted position - average, from which
 *    RMSF = sqrt(sum |d|^2 / F - |sum d / F|^2).
 *
 * Both states are exact sums (ExactCells), so the result does not depend on slicing.
 * Fitting: centres of geometry removed, unweighted QCP (lib/core/superpose.ts).
 */
import type { Analysis, AnalysisContext } from '../analysis.ts';
import { wholeFrameCount } from '../analysis.ts';
import { ExactCells, type ExactCellsEncoded } from '../exact-cells.ts';
import { flatNumbers, ResultArray } from '../result-array.ts';
import { eachFrame, type PendingFrame } from './frame-series.ts';
import { fitterOf } from './rmsd.ts';

interface FittedSums extends PendingFrame {
  /** rmsf-average: sum of fitted coordinates, row-major over the frame; rmsf: sum of d over the measured rows */
  sums: ExactCells;
  /** rmsf: sum of |d|^2 = dx^2 + dy^2 + dz^2, one cell per measured row */
  squares?: ExactCells;
}

export interface AverageResult {
  frames: number;
  atoms: number;
  /** the average fitted structure, (atoms, 3): in the document rows of (x, y, z), or a .npy file for a large one */
  mean: ResultArray;
}

export interface RmsfResult {
  frames: number;
  atoms: number;
  /** one value an atom: in the document an array (null: not a finite number), or a .npy file for a large one */
  rmsf: ResultArray;
}

// Per thread: the fitted frame, reused.
let fittedScratch = new Float64Array(0);
function fitted(cells: number): Float64Array {
  if (fittedScratch.length < cells) fittedScratch = new Float64Array(cells);
  return fittedScratch;
}

const frameCells = (ctx: AnalysisContext): number => ctx.frameRows * ctx.columns;
const measureCells = (ctx: AnalysisContext): number => (ctx.groups?.measure?.length ?? ctx.frameRows) * 3;

function pendingDone(s: PendingFrame, name: string): void {
  if (s.pendingRows > 0) throw new Error(`${name}: a slice ended inside a frame: slices must be cut at frame boundaries (wholeFrames)`);
}

const encodeSums = (s: FittedSums) => ({ sums: s.sums.encode(), ...(s.squares ? { squares: s.squares.encode() } : {}), pendingRows: s.pendingRows });

export const rmsfAverage: Analysis<FittedSums, AverageResult> = {
  name: 'rmsf-average',
  needsFrames: true,
  wholeFrames: true,
  frameSizedState: true,
  liveFold: true,
  groups: ['fit'],
  reference: true,
  empty: () => ({ sums: new ExactCells(), pendingRows: 0 }),
  addRows(state, values, rowCount, columns, _firstRow, ctx) {
    const cells = frameCells(ctx);
    const fitter = fitterOf(ctx, 'rmsf');
    const out = fitted(cells);
    eachFrame(state, values, rowCount, columns, ctx.frameRows, (frame, from) => {
      fitter.transform(frame, from, out);
      state.sums.addCyclic(out, 0, cells, 0, cells);
    });
    return state;
  },
  combine(left, right, _leftRows, ctx) {
    if (right.sums.length > 0 || right.pendingRows > 0) pendingDone(left, 'rmsf-average');
    left.sums.mergeRotated(right.sums, 0, frameCells(ctx));
    left.pendingRows = right.pendingRows;
    return left;
  },
  finish(state, rows, ctx) {
    const n = ctx.frameRows;
    const frames = wholeFrameCount(rows, n);
    const mean = new Float64Array(n * ctx.columns);
    if (frames > 0) state.sums.valuesInto(mean, frames);
    else mean.fill(NaN);
    return { frames, atoms: n, mean: new ResultArray(mean, [n, ctx.columns]) };
  },
  encode: encodeSums,
  release: (s) => s.sums.release(),
  decode: (j, ctx) => {
    const o = j as { sums: ExactCellsEncoded; pendingRows: number };
    return { sums: ExactCells.decode(o.sums, frameCells(ctx)), pendingRows: o.pendingRows };
  },
};

export const rmsf: Analysis<FittedSums, RmsfResult> = {
  name: 'rmsf',
  needsFrames: true,
  wholeFrames: true,
  frameSizedState: true,
  liveFold: true,
  groups: ['fit'],
  reference: true,
  chain: {
    first: 'rmsf-average',
    // The first result as the runtime holds it: a ResultArray, or rows of numbers once inlined in a document.
    reference: (result) => Float64Array.from(flatNumbers((result as { mean: unknown }).mean)),
  },
  empty: () => ({ sums: new ExactCells(), squares: new ExactCells(), pendingRows: 0 }),
  addRows(state, values, rowCount, columns, _firstRow, ctx) {
    const fitter = fitterOf(ctx, 'rmsf');
    const rows = ctx.groups?.measure;
    const cells = measureCells(ctx);
    const ref = ctx.reference!;
    const frameSize = frameCells(ctx);
    const atoms = cells / 3;
    const scratch = fitted(frameSize + cells + atoms);
    const out = scratch.subarray(0, frameSize);
    const d = scratch.subarray(frameSize, frameSize + cells);
    const d2 = scratch.subarray(frameSize + cells, frameSize + cells + atoms);
    eachFrame(state, values, rowCount, columns, ctx.frameRows, (frame, from) => {
      fitter.transform(frame, from, out);
      for (let k = 0; k < atoms; k++) {
        const i = (rows ? rows[k]! : k) * 3;
        const x = out[i]! - ref[i]!;
        const y = out[i + 1]! - ref[i + 1]!;
        const z = out[i + 2]! - ref[i + 2]!;
        d[k * 3] = x;
        d[k * 3 + 1] = y;
        d[k * 3 + 2] = z;
        d2[k] = x * x + y * y + z * z;
      }
      state.sums.addCyclic(d, 0, cells, 0, cells);
      state.squares!.addCyclic(d2, 0, atoms, 0, atoms);
    });
    return state;
  },
  combine(left, right, _leftRows, ctx) {
    if (right.sums.length > 0 || right.pendingRows > 0) pendingDone(left, 'rmsf');
    left.sums.mergeRotated(right.sums, 0, measureCells(ctx));
    left.squares!.mergeRotated(right.squares!, 0, measureCells(ctx) / 3);
    left.pendingRows = right.pendingRows;
    return left;
  },
  finish(state, rows, ctx) {
    const frames = wholeFrameCount(rows, ctx.frameRows);
    const atoms = measureCells(ctx) / 3;
    const out = new Float64Array(atoms);
    for (let k = 0; k < atoms; k++) {
      let v = state.squares!.value(k) / frames;
      for (let a = 0; a < 3; a++) {
        const mean = state.sums.value(k * 3 + a) / frames;
        v -= mean * mean;
      }
      out[k] = frames > 0 ? Math.sqrt(Math.max(0, v)) : NaN;
    }
    return { frames, atoms, rmsf: new ResultArray(out, [atoms]) };
  },
  encode: encodeSums,
  release: (s) => {
    s.sums.release();
    s.squares?.release();
  },
  decode: (j, ctx) => {
    const o = j as { sums: ExactCellsEncoded; squares: ExactCellsEncoded; pendingRows: number };
    return { sums: ExactCells.decode(o.sums, measureCells(ctx)), squares: ExactCells.decode(o.squares, measureCells(ctx) / 3), pendingRows: o.pendingRows };
  },
};
