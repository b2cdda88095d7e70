/**
 * `stats`: per column count, sum, mean, min, max and population standard deviation
 * (ddof 0, numpy's default).
 *
 * The sum S and the sum of squares Q are exact (squares through an error-free product),
 * so the variance is the exact rational (nQ - S^2) / n^2, and std is its square root
 * rounded once (correctly rounded: the nearest double). Squares of values beyond 2^500
 * or below 2^-460 in magnitude would overflow, or lose bits below the smallest double:
 * they are summed scaled by 2^-600 and 2^600 in sums of their own, made only when such a
 * value comes, so std is exact for every finite input. The result does not depend on
 * slicing.
 */
import type { Analysis } from '../analysis.ts';
import { jsonNumber } from '../analysis.ts';
import { sqrtRatio } from '../exact-rational.ts';
import { ExactSum, type ExactSumJSON, splitProductError } from '../exact-sum.ts';
import { keptKernelValues } from '../exact-sum-wasm.ts';

interface Column {
  count: number;
  sum: ExactSum;
  sumSq: ExactSum;
  /** squares of values beyond 2^500, each scaled by 2^-1200 (made when the first comes) */
  sumSqHuge?: ExactSum;
  /** squares of non-zero values below 2^-460, each scaled by 2^1200 */
  sumSqTiny?: ExactSum;
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
// In the exact-sum kernel's memory, so that addRange runs in WebAssembly.
const gathered = keptKernelValues(GATHER_ROWS);
const squares = keptKernelValues(GATHER_ROWS);
const squareErrors = keptKernelValues(GATHER_ROWS);

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
    if (p >= SQUARE_MIN && p <= SQUARE_MAX) {
      squares[r] = p;
      squareErrors[r] = splitProductError(v, v, p);
    } else {
      squares[r] = 0;
      squareErrors[r] = 0;
      // 0 adds nothing; NaN is flagged below. Infinities go to the huge sum, whose infinity no one reads: the mean is not finite.
      if (v !== 0 && v === v) addOutOfRangeSquare(col, v);
    }
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

// Squares kept in the main sum: exact (no overflow, and no bit below 2^-1074 in v * v).
const SQUARE_MAX = 2 ** 1000;
const SQUARE_MIN = 2 ** -920;
const HUGE_SCALE = 2 ** -600;
const TINY_SCALE = 2 ** 600;

function addOutOfRangeSquare(col: Column, v: number): void {
  if (v * v > SQUARE_MAX) (col.sumSqHuge ??= new ExactSum()).addProduct(v * HUGE_SCALE, v * HUGE_SCALE);
  else (col.sumSqTiny ??= new ExactSum()).addProduct(v * TINY_SCALE, v * TINY_SCALE);
}

function mergeOptional(left: ExactSum | undefined, right: ExactSum | undefined): ExactSum | undefined {
  if (!right) return left;
  if (!left) return right.clone();
  left.merge(right);
  return left;
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
      l.sumSqHuge = mergeOptional(l.sumSqHuge, r.sumSqHuge);
      l.sumSqTiny = mergeOptional(l.sumSqTiny, r.sumSqTiny);
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
      ...(c.sumSqHuge ? { sumSqHuge: c.sumSqHuge.toJSON() } : {}),
      ...(c.sumSqTiny ? { sumSqTiny: c.sumSqTiny.toJSON() } : {}),
      min: c.count > 0 ? c.min : null,
      max: c.count > 0 ? c.max : null,
      nan: c.nan,
    })),
  }),
  decode: (j) => ({
    columns: (
      j as { columns: { count: number; sum: ExactSumJSON; sumSq: ExactSumJSON; sumSqHuge?: ExactSumJSON; sumSqTiny?: ExactSumJSON; min: number | null; max: number | null; nan: boolean }[] }
    ).columns.map(
      (c) => ({
        count: c.count,
        sum: ExactSum.fromJSON(c.sum),
        sumSq: ExactSum.fromJSON(c.sumSq),
        ...(c.sumSqHuge ? { sumSqHuge: ExactSum.fromJSON(c.sumSqHuge) } : {}),
        ...(c.sumSqTiny ? { sumSqTiny: ExactSum.fromJSON(c.sumSqTiny) } : {}),
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
  const std = Number.isFinite(total) ? exactStd(c) : NaN;
  return { count: c.count, sum: jsonNumber(total), mean: jsonNumber(mean), min: jsonNumber(c.min), max: jsonNumber(c.max), std: jsonNumber(std) };
}

/**
 * sqrt((nQ - S^2) / n^2), rounded once. Scaled by 2^2274, every sum is an integer:
 * S 2^1074 and Q's parts 2^1074 each (Q = Q_main + 2^1200 Q_huge + 2^-1200 Q_tiny).
 */
function exactStd(c: Column): number {
  // Only a partial of an earlier version can hold an infinite sum of squares here (it kept
  // squares past 2^1024 in the main sum): no number then, rather than a wrong one.
  if (![c.sumSq, c.sumSqHuge, c.sumSqTiny].every((q) => q === undefined || q.isFinite())) return NaN;
  const n = BigInt(c.count);
  const s = c.sum.toScaledBigInt();
  let q = c.sumSq.toScaledBigInt() << 1200n;
  if (c.sumSqHuge) q += c.sumSqHuge.toScaledBigInt() << 2400n;
  if (c.sumSqTiny) q += c.sumSqTiny.toScaledBigInt();
  // n Q - S^2 >= 0 (Cauchy-Schwarz), times 2^2274; the variance is that over n^2 2^2274.
  const spread = n * q - ((s * s) << 126n);
  return sqrtRatio(spread, (n * n) << 2274n);
}
