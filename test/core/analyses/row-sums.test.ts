import { describe, expect, it } from 'vitest';
import { rowSums } from '../../../lib/core/analyses/row-sums.ts';
import { borrowValues, useWasmKernel } from '../../../lib/core/exact-sum-wasm.ts';
import { python } from '../../helpers/python.ts';

const ctxOf = (columns: number, frameRows: number) => ({ columns, frameRows, options: {} });

/** Row-sums of `values` (rows of `columns`) cut into slices at `cuts` (row indices), each slice its own state, combined left to right. */
function sliced(values: Float64Array, columns: number, frameRows: number, cuts: number[]) {
  const ctx = ctxOf(columns, frameRows);
  const rows = values.length / columns;
  const edges = [0, ...cuts, rows];
  let total = rowSums.empty(ctx);
  let totalRows = 0;
  for (let k = 0; k + 1 < edges.length; k++) {
    const [a, b] = [edges[k]!, edges[k + 1]!];
    const state = rowSums.empty(ctx);
    // Blocks of at most 37 rows, as a reader hands them over.
    for (let r = a; r < b; r += 37) {
      const n = Math.min(37, b - r);
      rowSums.addRows(state, values.subarray(r * columns, (r + n) * columns), n, columns, r - a, ctx);
    }
    total = rowSums.combine(total, state, totalRows, ctx);
    totalRows += b - a;
  }
  const { rowSums: sums, rowMeans: means } = rowSums.finish(total, rows, ctx);
  return { encoded: rowSums.encode(total), result: { rowSums: sums.toNested(), rowMeans: means.toNested() } };
}

describe('row-sums through the WebAssembly kernel', () => {
  it.each([
    ['standard normal', 'rng.normal(0, 1, n)'],
    ['values 2^0 to 2^-60 of the largest, mixed', 'rng.uniform(1, 2, n) * 2.0 ** -rng.integers(0, 60, n) * rng.choice([-1, 1], n)'],
    ['the whole double range', 'rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-323, 308, n)'],
    ['heavy cancellation', 'np.concatenate([x := rng.normal(0, 1e10, n // 2), -x[::-1] * (1 + 1e-12)])'],
    ['subnormals', 'rng.integers(-2**52, 2**52, n) * 2.0 ** -1074'],
  ])('equals math.fsum per row of a frame and the JavaScript path byte for byte, on any slicing (%s)', async (_name, expr) => {
    const columns = 101;
    const frameRows = 7;
    const rows = frameRows * 60;
    const plain = Float64Array.from(python<number[]>(`rng = np.random.default_rng(5)\nn = ${rows * columns}\nprint(json.dumps((${expr}).tolist()))`));
    const expected = python<number[]>(
      `v, c, f = args['xs'], args['columns'], args['frameRows']\nprint(json.dumps([math.fsum(v[r * c + k] for r in range(i, len(v) // c, f) for k in range(c)) for i in range(f)]))`,
      { xs: Array.from(plain), columns, frameRows },
    );
    await borrowValues(plain.length, async (inKernel) => {
      inKernel.set(plain);
      for (const cuts of [[], [1], [3, 200], [50, 51, 52, 419]]) {
        const viaWasm = sliced(inKernel, columns, frameRows, cuts);
        const viaJs = sliced(plain, columns, frameRows, cuts);
        expect(viaWasm.result.rowSums).toEqual(expected);
        expect(viaJs.result.rowSums).toEqual(expected);
        expect(viaWasm.encoded).toEqual(viaJs.encoded);
      }
    });
  });

  it('keeps a NaN or an infinity in any row (it takes the JavaScript path)', async () => {
    const columns = 16;
    const frameRows = 3;
    await borrowValues(columns * 300, async (values) => {
      for (const special of [NaN, Infinity, -Infinity]) {
        for (let i = 0; i < values.length; i++) values[i] = ((i * 7919) % 2000) / 8 - 125;
        values[columns * 100 + 5] = special;
        const viaWasm = sliced(values, columns, frameRows, [17]);
        useWasmKernel(false);
        try {
          const viaJs = sliced(values, columns, frameRows, [17]);
          expect(viaWasm.encoded).toEqual(viaJs.encoded);
          expect(viaWasm.result).toEqual(viaJs.result);
        } finally {
          useWasmKernel(true);
        }
        expect(viaWasm.result.rowSums[100 % frameRows]).toBeNull();
      }
    });
  });
});
