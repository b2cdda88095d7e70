/**
 * A complete custom analysis: the exact sum of squares of every column, and the root
 * mean square. Run it with
 *
 *   npx fanout run data.csv --analysis examples/sum-of-squares.ts
 *
 * The state must be combinable in any grouping (combine is associative) and must
 * survive a trip through JSON: ExactSum values and plain numbers do.
 */
import { defineAnalysis, ExactSum } from 'fanout';

interface State {
  count: number;
  squares: ExactSum[];
}

export default defineAnalysis<State, { count: number; sumOfSquares: number[]; rms: number[] }>({
  name: 'sum-of-squares',
  empty: (ctx) => ({ count: 0, squares: Array.from({ length: ctx.columns }, () => new ExactSum()) }),
  add(state, row) {
    // row holds one record's values; addProduct adds x*x without rounding it first.
    row.forEach((x, c) => state.squares[c]!.addProduct(x, x));
    state.count++;
  },
  combine(left, right) {
    right.squares.forEach((s, c) => left.squares[c]!.merge(s));
    left.count += right.count;
    return left;
  },
  finish(state) {
    const sums = state.squares.map((s) => s.value());
    return { count: state.count, sumOfSquares: sums, rms: sums.map((s) => Math.sqrt(s / state.count)) };
  },
});
