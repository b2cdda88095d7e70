/** `sum`: count, exact sum and mean of every value in the input. */
import type { Analysis } from '../analysis.ts';
import { jsonNumber } from '../analysis.ts';
import { ExactSum, type ExactSumJSON } from '../exact-sum.ts';

export interface SumState {
  count: number;
  sum: ExactSum;
}

export interface SumResult {
  count: number;
  sum: number | null;
  mean: number | null;
}

export const sum: Analysis<SumState, SumResult> = {
  name: 'sum',
  empty: () => ({ count: 0, sum: new ExactSum() }),
  addRows(state, values, rowCount, columns) {
    const n = rowCount * columns;
    state.sum.addRange(values, 0, n);
    state.count += n;
    return state;
  },
  combine(left, right) {
    left.sum.merge(right.sum);
    left.count += right.count;
    return left;
  },
  finish(state) {
    const total = state.sum.value();
    return { count: state.count, sum: jsonNumber(total), mean: state.count > 0 ? jsonNumber(total / state.count) : null };
  },
  encode: (s) => ({ count: s.count, sum: s.sum.toJSON() }),
  decode: (j) => {
    const o = j as { count: number; sum: ExactSumJSON };
    return { count: o.count, sum: ExactSum.fromJSON(o.sum) };
  },
};
