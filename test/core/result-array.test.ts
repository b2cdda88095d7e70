import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromNpyBytes, inlineSmallArrays, npyBytes, RESULT_INLINE_MAX, ResultArray, resultArrays } from '../../lib/core/result-array.ts';
import { tempDir } from '../helpers/cli.ts';
import { python } from '../helpers/python.ts';

const tmp = tempDir('fanout-result-array-');
afterAll(() => tmp.cleanup());

describe('ResultArray', () => {
  it.each([
    ['(n, 3)', [5, 3]],
    ['(n,)', [7]],
    ['(a, b, c)', [2, 3, 4]],
    ['empty (0, 3)', [0, 3]],
  ])('is a .npy file numpy loads as float64 of its shape, bit for bit, NaN and infinities kept (%s)', (_name, shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = Float64Array.from({ length: size }, (_, i) => [NaN, Infinity, -Infinity, -0, 5e-324, 1.7976931348623157e308][i] ?? (i * 0.1 - 3) * 2 ** ((i * 37) % 200 - 100));
    const path = join(tmp.path, `a${shape.join('x')}.npy`);
    writeFileSync(path, npyBytes(new ResultArray(data, shape)));
    const got = python<{ shape: number[]; dtype: string; hex: string; fortran: boolean }>(
      'a = np.load(args)\nprint(json.dumps({"shape": list(a.shape), "dtype": a.dtype.str, "hex": a.tobytes().hex(), "fortran": bool(np.isfortran(a)) and a.ndim > 1}))',
      path,
    );
    expect(got).toEqual({ shape, dtype: '<f8', hex: Buffer.from(data.buffer).toString('hex'), fortran: false });
    const back = fromNpyBytes(path, npyBytes(new ResultArray(data, shape)));
    expect(back.shape).toEqual(shape);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(data.buffer))).toBe(true);
  });

  it.each([[[5, 3]], [[7]], [[2, 3, 4]], [[0, 3]], [[1_000, 3]]])('made inside its .npy file (inNpy %j): the same bytes as npyBytes of a copy, given without another copy', (shape) => {
    const array = ResultArray.inNpy(shape);
    expect(Array.from(array.data).every((x) => x === 0)).toBe(true);
    array.data.forEach((_, i) => (array.data[i] = [NaN, -Infinity, -0][i] ?? i * 0.3 - 7));
    const bytes = npyBytes(array);
    expect(bytes).toBe(array.npyFile);
    expect(Buffer.from(bytes).equals(Buffer.from(npyBytes(new ResultArray(array.data.slice(), shape))))).toBe(true);
    expect(Buffer.from(fromNpyBytes('inNpy', bytes).data.buffer).equals(Buffer.from(array.data.slice().buffer))).toBe(true);
  });

  it('reads a .npy numpy wrote (a 64-byte aligned header, big-endian too)', () => {
    const path = join(tmp.path, 'np.npy');
    python('np.save(args, np.arange(12, dtype=">f8").reshape(4, 3) / 7)\nprint(1)', path);
    const a = fromNpyBytes(path, new Uint8Array(readFileSync(path)));
    expect(a.shape).toEqual([4, 3]);
    expect(Array.from(a.data)).toEqual(Array.from({ length: 12 }, (_, i) => i / 7));
  });

  it(`inlines arrays of at most ${RESULT_INLINE_MAX} values as nested JSON arrays (null for NaN), and names the larger ones for their files`, () => {
    const small = new ResultArray(Float64Array.from([1, NaN, 3, Infinity]), [2, 2]);
    const big = new ResultArray(new Float64Array(RESULT_INLINE_MAX + 1), [RESULT_INLINE_MAX + 1]);
    const out = inlineSmallArrays({ frames: 2, mean: small, deep: { rows: [big] } }, 'abc123') as Record<string, unknown>;
    expect(out.mean).toEqual([[1, null], [3, null]]);
    expect(resultArrays(out).map((a) => a.file)).toEqual(['abc123.deep.rows.0.npy']);
    expect(JSON.parse(JSON.stringify(out))).toEqual({ frames: 2, mean: [[1, null], [3, null]], deep: { rows: [{ $npy: 'abc123.deep.rows.0.npy', shape: [RESULT_INLINE_MAX + 1], dtype: '<f8' }] } });
    // at the threshold: inline
    expect(Array.isArray(inlineSmallArrays(new ResultArray(new Float64Array(RESULT_INLINE_MAX), [RESULT_INLINE_MAX]), 'j'))).toBe(true);
  });
});
