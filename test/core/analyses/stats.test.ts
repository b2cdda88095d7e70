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

/** The per-value reference: add(v) to the sum, addProduct(v, v) to the sum of squares. */
function reference(values: number[], columns: number) {
  return Array.from({ length: columns }, (_, c) => {
    const sum = new ExactSum();
    const sumSq = new ExactSum();
    let min = Infinity;
    let max = -Infinity;
    let nan = false;
    let count = 0;
    for (let i = c; i < values.length; i += columns) {
      const v = values[i]!;
      sum.add(v);
      sumSq.addProduct(v, v);
      if (v < min) min = v;
      if (v > max) max = v;
      if (v !== v) nan = true;
      count++;
    }
    return { count, sum: sum.toJSON(), sumSq: sumSq.toJSON(), min: count > 0 ? min : null, max: count > 0 ? max : null, nan };
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

  it('says null, not 0, for a std whose terms pass the double range', () => {
    const ctx: AnalysisContext = { columns: 1, frameRows: 0, options: {} };
    const col = [8.84585431484126e153, 9.480751908109176e153]; // numpy: 3.17e152; 2 m S is past 2^1024
    const state = stats.addRows(stats.empty(ctx), Float64Array.from(col), 2, 1, 0, ctx);
    expect(stats.finish(state, 2, ctx).columns[0]!.std).toBeNull();
  });
});
