/**
 * `stats`: per column count, sum, mean, min, max and population standard deviation
 * (ddof 0, numpy's default).
 *
 * The sum and the sum of squares are exact (squares through an error-free product), so
 * the spread is computed at the end as sum((x - m)^2) = Q - 2mS + n*m^2, evaluated
 * exactly for the rounded mean m. The result does not depend on slicing, and it is at
 * least as accurate as numpy's two-pass std, except where Q or n*m^2 passes the double
 * range (values beyond about 1e154 / sqrt(n)): std is then null where numpy's two passes
 * may still give a number.
 */
import type { Analysis } from '../analysis.ts';
import { jsonNumber } from '../analysis.ts';
import { ExactSum, type ExactSumJSON, PRODUCT_MAX, splitProductError, twoProductError } from '../exact-sum.ts';

interface Column {
  count: number;
  sum: ExactSum;
  sumSq: ExactSum;
  min: number;
  max: number;
  nan: boolean;
}

export interface StatsState {
  columns: Column[];
}

export interface ColumnStats {
  count: number;
  sum: number | null;
  mean: number | null;
  min: number | null;
  max: number | null;
  std: number | null;
}

const newColumn = (): Column => ({ count: 0, sum: new ExactSum(), sumSq: new ExactSum(), min: Infinity, max: -Infinity, nan: false });

// A column's values, their squares and the squares' rounding errors, gathered from a
// row-major block so that each goes to ExactSum.addRange (a few additions a value)
// instead of add() (a split into limbs a value): the same exact sums, about twice as fast.
const GATHER_ROWS = 4096;
const gathered = new Float64Array(GATHER_ROWS);
const squares = new Float64Array(GATHER_ROWS);
const squareErrors = new Float64Array(GATHER_ROWS);

/** Rows [from, to) of column c: into the sum, the sum of squares (exactly), min, max. */
function addColumnBlock(col: Column, values: Float64Array, columns: number, c: number, from: number, to: number): void {
  let min = col.min;
  let max = col.max;
  let nan = false;
  const n = to - from;
  for (let r = 0, i = from * columns + c; r < n; r++, i += columns) {
    const v = values[i]!;
    gathered[r] = v;
    const p = v * v;
    squares[r] = p;
    // As ExactSum.addProduct: no error term for a square that is zero or not finite. A
    // finite square is the square of at most 2^512: only its size needs checking.
    squareErrors[r] = p === 0 || p === Infinity || p !== p ? 0 : p <= PRODUCT_MAX ? splitProductError(v, v, p) : twoProductError(v, v, p);
    if (v < min) min = v;
    if (v > max) max = v;
    if (v !== v) nan = true;
  }
  col.sum.addRange(gathered, 0, n);
  col.sumSq.addRange(squares, 0, n);
  col.sumSq.addRange(squareErrors, 0, n);
  col.min = min;
  col.max = max;
  col.nan ||= nan;
}

export const stats: Analysis<StatsState, { columns: ColumnStats[] }> = {
  name: 'stats',
  empty: (ctx) => ({ columns: Array.from({ length: ctx.columns }, newColumn) }),
  addRows(state, values, rowCount, columns) {
    for (let c = 0; c < columns; c++) {
      const col = state.columns[c]!;
      for (let from = 0; from < rowCount; from += GATHER_ROWS) addColumnBlock(col, values, columns, c, from, Math.min(rowCount, from + GATHER_ROWS));
      col.count += rowCount;
    }
    return state;
  },
  combine(left, right) {
    left.columns.forEach((l, c) => {
      const r = right.columns[c]!;
      l.count += r.count;
      l.sum.merge(r.sum);
      l.sumSq.merge(r.sumSq);
      l.min = Math.min(l.min, r.min);
      l.max = Math.max(l.max, r.max);
      l.nan ||= r.nan;
    });
    return left;
  },
  finish(state) {
    return { columns: state.columns.map(finishColumn) };
  },
  encode: (s) => ({
    columns: s.columns.map((c) => ({
      count: c.count,
      sum: c.sum.toJSON(),
      sumSq: c.sumSq.toJSON(),
      min: c.count > 0 ? c.min : null,
      max: c.count > 0 ? c.max : null,
      nan: c.nan,
    })),
  }),
  decode: (j) => ({
    columns: (j as { columns: { count: number; sum: ExactSumJSON; sumSq: ExactSumJSON; min: number | null; max: number | null; nan: boolean }[] }).columns.map(
      (c) => ({
        count: c.count,
        sum: ExactSum.fromJSON(c.sum),
        sumSq: ExactSum.fromJSON(c.sumSq),
        min: c.min ?? Infinity,
        max: c.max ?? -Infinity,
        nan: c.nan,
      }),
    ),
  }),
};

function finishColumn(c: Column): ColumnStats {
  if (c.count === 0) return { count: 0, sum: 0, mean: null, min: null, max: null, std: null };
  const total = c.sum.value();
  const mean = total / c.count;
  if (c.nan) return { count: c.count, sum: null, mean: null, min: null, max: null, std: null };
  let std = NaN;
  if (Number.isFinite(mean)) {
    // sum((x - m)^2) = Q - 2 m S + n m^2, each term added exactly.
    const m2 = c.sumSq.clone();
    addScaledExact(m2, c.sum, -2 * mean);
    const mm = mean * mean;
    const mmErr = twoProductError(mean, mean, mm);
    m2.addProduct(mm, c.count);
    m2.addProduct(mmErr, c.count);
    // A term past the double range (2mS or n m^2 for values near 1e154) leaves no number
    // to take the root of: std is null then, not the 0 that max(0, -Infinity) gave.
    const spread = m2.value();
    std = Number.isFinite(spread) ? Math.sqrt(Math.max(0, spread) / c.count) : NaN;
  }
  return { count: c.count, sum: jsonNumber(total), mean: jsonNumber(mean), min: jsonNumber(c.min), max: jsonNumber(c.max), std: jsonNumber(std) };
}

/** target += factor * source, exactly: one error-free product per term of the source. */
function addScaledExact(target: ExactSum, source: ExactSum, factor: number): void {
  for (const t of source.terms()) target.addProduct(t, factor);
}
