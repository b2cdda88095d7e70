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
import { wholeFrameCount } from '../analysis.ts';
import { ExactCells, type ExactCellsEncoded } from '../exact-cells.ts';
import { ResultArray } from '../result-array.ts';
import { wasmKernel, type WasmKernel } from '../exact-sum-wasm.ts';

export interface RowSumsState {
  buckets: ExactCells;
}

export interface RowSumsResult {
  frames: number;
  rowsPerFrame: number;
  /** in the document: arrays (null: not a finite number), or .npy files for long ones */
  rowSums: ResultArray;
  rowMeans: ResultArray;
}

export const rowSums: Analysis<RowSumsState, RowSumsResult> = {
  name: 'row-sums',
  needsFrames: true,
  frameSizedState: true,
  liveFold: true,
  empty: () => ({ buckets: new ExactCells() }),
  addRows(state, values, rowCount, columns, firstRow, ctx) {
    const wasm = wasmKernel;
    if (wasm !== undefined && values.buffer === wasm.buffer && columns >= KERNEL_MIN_COLUMNS && columns <= KERNEL_VALUES) {
      addRowSumsWasm(state.buckets, wasm, values, rowCount, columns, firstRow % ctx.frameRows, ctx.frameRows);
    } else state.buckets.addRowSums(values, 0, rowCount, columns, firstRow % ctx.frameRows, ctx.frameRows);
    return state;
  },
  combine(left, right, leftRows, ctx) {
    left.buckets.mergeRotated(right.buckets, leftRows % ctx.frameRows, ctx.frameRows);
    return left;
  },
  finish(state, rows, ctx) {
    const n = ctx.frameRows;
    const frames = wholeFrameCount(rows, n);
    const sums = state.buckets.valuesInto(new Float64Array(n));
    const means = frames > 0 ? sums.map((s) => s / frames) : new Float64Array(n).fill(NaN);
    return { frames, rowsPerFrame: n, rowSums: new ResultArray(sums, [n]), rowMeans: new ResultArray(means, [n]) };
  },
  encode: (s) => ({ buckets: s.buckets.encode() }),
  release: (s) => s.buckets.release(),
  decode: (j, ctx) => ({ buckets: ExactCells.decode((j as { buckets: ExactCellsEncoded }).buckets, ctx.frameRows) }),
};

// Rows of at least this many values go through the WebAssembly kernel (when they are in
// its memory): a row then costs two exact additions to its cell, however long it is.
// Shorter rows (coordinates) keep ExactCells' TwoSum a value.
const KERNEL_MIN_COLUMNS = 8;
const KERNEL_VALUES = 1 << 11;

/**
 * ExactCells.addRowSums through the kernel: for each run of whole rows of at most 2^11
 * values, the kernel splits every value exactly into two pieces against sigmas from the
 * run's largest value and sums each row's pieces (exact sums, see exact-sum-wasm.ts); the
 * two sums and any residue go to the row's cell. A run with a NaN, an infinity or values
 * the split cannot take goes to addRowSums instead. The cells end with the same exact sums.
 */
function addRowSumsWasm(cells: ExactCells, wasm: WasmKernel, values: Float64Array, rows: number, columns: number, cell: number, wrap: number): void {
  cells.cover(Math.min(wrap, cell + rows), wrap);
  const out = wasm.out;
  const rest = wasm.rest;
  const perRun = Math.floor(KERNEL_VALUES / columns);
  let c = cell;
  for (let r = 0; r < rows; r += perRun) {
    const k = Math.min(perRun, rows - r);
    const from = r * columns;
    let n = wasm.rows(values.byteOffset + 8 * from, k * columns, rest.byteOffset, out.byteOffset, columns);
    // -3: a value was larger than the sigmas guessed from the last run allow; again with this run's own.
    if (n === -3) n = wasm.rows(values.byteOffset + 8 * from, k * columns, rest.byteOffset, out.byteOffset, columns);
    let nan = false;
    if (n >= 0) for (let j = 0; j < k; j++) if (out[2 * j] !== out[2 * j]) nan = true;
    if (n < 0 || nan) {
      c = cells.addRowSums(values, from, k, columns, c, wrap);
      continue;
    }
    for (let j = 0, cj = c; j < k; j++) {
      const a = out[2 * j]!;
      const b = out[2 * j + 1]!;
      if (a !== 0) cells.add(cj, a);
      if (b !== 0) cells.add(cj, b);
      if (++cj === wrap) cj = 0;
    }
    for (let t = 0; t < n; t++) cells.add((c + rest[2 * t + 1]!) % wrap, rest[2 * t]!);
    c = (c + k) % wrap;
  }
}
