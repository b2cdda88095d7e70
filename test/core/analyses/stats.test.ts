/**
 * `stats` adds a column's values in blocks (ExactSum.addRange for the sum, the squares
 * and the squares' rounding errors): its state must be bit for bit the state of adding
 * every value one at a time, whatever the values (zeros, subnormals, huge values whose
 * square overflows, infinities, NaN) and however the rows come in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AnalysisContext } from '../../../lib/core/analysis.ts';
import { stats } from '../../../lib/core/analyses/stats.ts';
import { ExactSum } from '../../../lib/core/exact-sum.ts';
import { python } from '../../helpers/python.ts';

/**
 * The per-value reference: add(v) to the sum, addProduct(v, v) to the sum of squares, or,
 * for a value whose square would overflow or lose bits (|v| > 2^500, 0 < |v| < 2^-460),
 * the square of v scaled by 2^-600 or 2^600 to a sum of its own.
 */
function reference(values: number[], columns: number) {
  return Array.from({ length: columns }, (_, c) => {
    const sum = new ExactSum();
    const sumSq = new ExactSum();
    let huge: ExactSum | undefined;
    let tiny: ExactSum | undefined;
    let min = Infinity;
    let max = -Infinity;
    let nan = false;
    let count = 0;
    for (let i = c; i < values.length; i += columns) {
      const v = values[i]!;
      sum.add(v);
      const p = v * v;
      if (p >= 2 ** -920 && p <= 2 ** 1000) sumSq.addProduct(v, v);
      else if (v !== 0 && v === v) {
        if (p > 2 ** 1000) (huge ??= new ExactSum()).addProduct(v * 2 ** -600, v * 2 ** -600);
        else (tiny ??= new ExactSum()).addProduct(v * 2 ** 600, v * 2 ** 600);
      }
      if (v < min) min = v;
      if (v > max) max = v;
      if (v !== v) nan = true;
      count++;
    }
    return { count, sum: sum.toJSON(), sumSq: sumSq.toJSON(), ...(huge ? { sumSqHuge: huge.toJSON() } : {}), ...(tiny ? { sumSqTiny: tiny.toJSON() } : {}), min: count > 0 ? min : null, max: count > 0 ? max : null, nan };
  });
}

const value = fc.oneof(
  { weight: 8, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 4, arbitrary: fc.double({ min: -1e3, max: 1e3, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, Number.MIN_VALUE, -Number.MIN_VALUE, 1e-170, 2 ** 511.9, -(2 ** 512), 1e308, Infinity, -Infinity, NaN) },
);

describe('stats', () => {
  it('keeps the state of adding every value one at a time, bit for bit, for any values and any cut into row blocks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(value, { maxLength: 600 }), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 5 }), (columns, raw, cuts) => {
        const values = raw.slice(0, raw.length - (raw.length % columns));
        const ctx: AnalysisContext = { columns, frameRows: 0, options: {} };
        let state = stats.empty(ctx);
        const rows = values.length / columns;
        for (let r = 0, k = 0; r < rows; k++) {
          const n = Math.min(rows - r, cuts[k % cuts.length]!);
          // a block as a reader hands it over: the rows at the start of a longer buffer
          const block = new Float64Array(n * columns + 7);
          block.set(values.slice(r * columns, (r + n) * columns));
          state = stats.addRows(state, block, n, columns, r, ctx);
          r += n;
        }
        expect((stats.encode(state) as { columns: unknown[] }).columns).toEqual(reference(values, columns));
      }),
      { numRuns: 300 },
    );
  });

  it('gives numpy\'s std for values whose squares lie just under the top of the double range', () => {
    // (n times the squared mean must stay below 2^1024 too: see the note in stats.ts)
    // Literals, not 2 ** 511.5: V8's ** with a fractional exponent rounds differently in
    // Node 20 and Node 24 (by an ulp), and these values sit at the edge of overflow.
    const columns = [[2 ** 512 - 2 ** 459], [2 ** 511 * 1.8660659830736148], [-9.480751908109176e153, 9.480751908109176e153, 1]];
    const want = python<number[]>('print(json.dumps([float(np.std(np.array(c, dtype=np.float64))) for c in args]))', columns);
    const got = columns.map((col) => {
      const ctx: AnalysisContext = { columns: 1, frameRows: 0, options: {} };
      const state = stats.addRows(stats.empty(ctx), Float64Array.from(col), col.length, 1, 0, ctx);
      return stats.finish(state, col.length, ctx).columns[0]!.std;
    });
    expect(got.map((g, i) => Math.abs(g! - want[i]!) <= 1e-12 * Math.max(1, Math.abs(want[i]!)))).toEqual(columns.map(() => true));
  });

  it('gives a std for values whose squares pass the double range, as numpy does', () => {
    const ctx: AnalysisContext = { columns: 1, frameRows: 0, options: {} };
    const col = [8.84585431484126e153, 9.480751908109176e153]; // 2 m S is past 2^1024
    const state = stats.addRows(stats.empty(ctx), Float64Array.from(col), 2, 1, 0, ctx);
    const want = python<number>('print(json.dumps(float(np.std(np.array(args)))))', col);
    expect(stats.finish(state, 2, ctx).columns[0]!.std).toBeCloseTo(want, -140);
    expect(Math.abs(stats.finish(state, 2, ctx).columns[0]!.std! - want)).toBeLessThanOrEqual(1e-15 * want);
  });

  // The oracle: the exact variance (n Q - S^2) / n^2 as a Fraction, and the double whose
  // rounding interval holds its square root (checked with exact midpoints).
  const EXACT_STD = `
from fractions import Fraction
def std(xs):
    n = len(xs)
    S = sum(Fraction(x) for x in xs)
    Q = sum(Fraction(x) ** 2 for x in xs)
    v = (n * Q - S * S) / (n * n)
    if v == 0:
        return 0.0
    k = (v.numerator.bit_length() - v.denominator.bit_length()) // 2
    d = math.sqrt(float(v / Fraction(4) ** k)) * 2.0 ** k
    while True:
        up, down = math.nextafter(d, math.inf), math.nextafter(d, 0.0)
        hi, lo = (Fraction(d) + Fraction(up)) / 2, (Fraction(d) + Fraction(down)) / 2
        if hi * hi < v or (hi * hi == v and (d.hex()[-1] in '13579bdf')):
            d = up
        elif lo * lo > v or (lo * lo == v and (d.hex()[-1] in '13579bdf')):
            d = down
        else:
            return d
print(json.dumps([std(c) for c in args]))`;

  const around = (centre: number, spread: number) => fc.double({ min: -1, max: 1, noNaN: true }).map((u) => centre + u * spread);
  const column = fc.oneof(
    fc.array(around(1e9, 1e-3), { minLength: 1, maxLength: 40 }),
    fc.array(around(1e200, 1e190), { minLength: 1, maxLength: 20 }),
    fc.array(around(-1e300, 1e299), { minLength: 2, maxLength: 20 }),
    fc.array(around(3e-300, 1e-301), { minLength: 2, maxLength: 20 }),
    fc.array(fc.double({ min: -1e-310, max: 1e-310, noNaN: true }), { minLength: 2, maxLength: 20 }),
    fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e307, max: 1e307 }), { minLength: 1, maxLength: 20 }),
    fc.array(fc.constantFrom(1e154, -1e154, 2 ** 500, 2 ** 501, 2 ** -460, 3e-139, 0, 1, Number.MIN_VALUE), { minLength: 1, maxLength: 12 }),
  );

  it('gives the correctly rounded std of any finite values: large offsets, values near the double range, subnormals (fractions.Fraction)', () => {
    const columns = fc.sample(column, { numRuns: 400, seed: 20261205 });
    const want = python<number[]>(EXACT_STD, columns);
    const got = columns.map((col) => {
      const ctx: AnalysisContext = { columns: 1, frameRows: 0, options: {} };
      // in two slices, to go through encode, decode and combine too
      const cut = col.length >> 1;
      const left = stats.addRows(stats.empty(ctx), Float64Array.from(col.slice(0, cut)), cut, 1, 0, ctx);
      const right = stats.decode(JSON.parse(JSON.stringify(stats.encode(stats.addRows(stats.empty(ctx), Float64Array.from(col.slice(cut)), col.length - cut, 1, 0, ctx)))), ctx);
      return stats.finish(stats.combine(left, right, cut, ctx), col.length, ctx).columns[0]!.std;
    });
    const wrong = columns.map((col, i) => ({ col, got: got[i], want: want[i] })).filter((r) => r.got !== r.want);
    expect(wrong).toEqual([]);
  });
});
