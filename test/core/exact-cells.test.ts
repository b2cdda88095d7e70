/**
 * ExactCells against Python's math.fsum, cell by cell: adversarial doubles and float32
 * values, cut into random slices (a slice need not start on a frame), encoded and decoded,
 * merged in random orders.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExactCells, type ExactCellsEncoded } from '../../lib/core/exact-cells.ts';
import { borrowValues, useWasmKernel, wasmKernel } from '../../lib/core/exact-sum-wasm.ts';
import { python, pyHex } from '../helpers/python.ts';


/**
 * math.fsum of each list; where it cannot say (an overflow on the way, which it reports
 * even when the exact sum is a double; inf - inf, which it refuses), the exact sum
 * rounded by Python's Fraction, an infinity of its sign beyond the doubles, and NaN.
 */
function fsumOracle(lists: number[][]): number[] {
  return python<string[]>(
    `from fractions import Fraction as F
def one(xs):
    xs = [float.fromhex(x) if x not in ('nan', 'inf', '-inf') else float(x) for x in xs]
    if any(x != x for x in xs) or (float('inf') in xs and float('-inf') in xs):
        return 'NaN'
    try:
        return repr(math.fsum(xs))
    except OverflowError:
        # math.fsum overflows in between (1e308 + 1e308 - 1e308): the exact sum, rounded
        s = sum(F(x) for x in xs)
        try:
            return repr(float(s))
        except OverflowError:
            return 'Infinity' if s > 0 else '-Infinity'
print(json.dumps([one(b) for b in args]))`,
    lists.map((b) => b.map(pyHex)),
  ).map((s) => (s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s)));
}

const f32 = (x: number): number => Math.fround(x);
const awkward = fc.oneof(
  { weight: 4, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 4, arbitrary: fc.double({ min: -1e3, max: 1e3, noNaN: true }) },
  { weight: 4, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }).map(f32) },
  { weight: 3, arbitrary: fc.float({ min: -100, max: 100, noNaN: true }).map(f32) },
  { weight: 2, arbitrary: fc.double({ min: -1e-300, max: 1e-300, noNaN: true }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324, 2 ** -1022, 2 ** 53, 2 ** 53 + 2, 1, -1, 0.1, -0.1, 1e16, -1e16, 1e-16, 0, -0),
  },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
);

/** Values whose sums sit on or next to a tie: the least bit of a cell decides its rounding. */
const ties = fc.constantFrom(2 ** 53, -(2 ** 53), 3 * 2 ** 52, 1, -1, 2 ** -100, -(2 ** -100), 2 ** -1074, 2 ** 970, 2 ** 1023, -(2 ** 1023));

/** What an ExactCells state becomes through a document (bytes copied, exceptions through JSON). */
function travel(s: ExactCells, wrap: number): ExactCells {
  const e = s.encode();
  const copy = (b: Uint8Array | undefined): Uint8Array | undefined => (b ? new Uint8Array(b) : undefined);
  const back: ExactCellsEncoded = { cells: e.cells, hi: copy(e.hi)!, lo: copy(e.lo)!, ...(e.loAt ? { loAt: copy(e.loAt)! } : {}), exceptions: JSON.parse(JSON.stringify(e.exceptions)) };
  return ExactCells.decode(back, wrap);
}

interface Case {
  wrap: number;
  values: number[];
  cuts: number[];
  /** which adjacent pair of pieces to merge next, each taken mod the pieces left - 1 */
  order: number[];
  rowSums: boolean;
  columns: number;
}

const caseOf = (values: fc.Arbitrary<number>): fc.Arbitrary<Case> => fc.record({
  wrap: fc.integer({ min: 1, max: 7 }),
  values: fc.array(values, { maxLength: 120 }),
  cuts: fc.array(fc.nat(), { maxLength: 7 }),
  order: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
  rowSums: fc.boolean(),
  columns: fc.integer({ min: 1, max: 4 }),
});
const caseArb = caseOf(awkward);

/** The cells of a case by slices: each slice from its own cell 0, merged pairwise in the case's order. */
function sliced(k: Case): ExactCells {
  const unit = k.rowSums ? k.columns : 1;
  const units = Math.floor(k.values.length / unit);
  const points = [...new Set(k.cuts.map((c) => c % (units + 1)))].sort((a, b) => a - b);
  let pieces: { cells: ExactCells; units: number }[] = [];
  let from = 0;
  for (const p of [...points, units]) {
    const cells = new ExactCells();
    const values = Float64Array.from(k.values.slice(from * unit, p * unit));
    if (k.rowSums) cells.addRowSums(values, 0, p - from, k.columns, 0, k.wrap);
    else cells.addCyclic(values, 0, values.length, 0, k.wrap);
    pieces.push({ cells: travel(cells, k.wrap), units: p - from });
    from = p;
  }
  for (let i = 0; pieces.length > 1; i++) {
    const at = k.order[i % k.order.length]! % (pieces.length - 1);
    const [left, right] = [pieces[at]!, pieces[at + 1]!];
    left.cells.mergeRotated(right.cells, left.units % k.wrap, k.wrap);
    const merged = { cells: travel(left.cells, k.wrap), units: left.units + right.units };
    pieces = [...pieces.slice(0, at), merged, ...pieces.slice(at + 2)];
  }
  return pieces[0]!.cells;
}

/** Each cell's values: value (or row) i goes to cell i mod wrap. */
function cellValues(k: Case): number[][] {
  const unit = k.rowSums ? k.columns : 1;
  const units = Math.floor(k.values.length / unit);
  const out: number[][] = Array.from({ length: k.wrap }, () => []);
  for (let i = 0; i < units; i++) out[i % k.wrap]!.push(...k.values.slice(i * unit, (i + 1) * unit));
  return out;
}

describe('ExactCells', () => {
  it('gives math.fsum of every cell, for adversarial doubles and float32 values, any slicing, any merge order, through encode/decode', () => {
    const cases = [...fc.sample(caseArb, { numRuns: 300, seed: 15 }), ...fc.sample(caseOf(ties), { numRuns: 300, seed: 17 })];
    const lists = cases.flatMap(cellValues);
    const want = fsumOracle(lists);
    let at = 0;
    for (const k of cases) {
      const cells = sliced(k);
      for (let c = 0; c < k.wrap; c++) {
        const got = c < cells.length ? cells.value(c) : 0;
        expect({ case: k, cell: c, got }).toEqual({ case: k, cell: c, got: want[at] });
        at++;
      }
    }
  });

  it('encodes equal sums to equal bytes, however the rows were sliced and merged', () => {
    fc.assert(
      fc.property(caseArb, fc.array(fc.nat(), { maxLength: 7 }), fc.array(fc.nat(), { minLength: 8, maxLength: 8 }), (k, cuts, order) => {
        expect(sliced(k).encode()).toEqual(sliced({ ...k, cuts, order }).encode());
      }),
      { numRuns: 300, seed: 16 },
    );
  });

  it('keeps sums of float32 coordinates in one double a cell: no lo, no exception', () => {
    // 40 frames of 300 coordinates in (-100, 100), as float32 trajectories hold them.
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const values = Float64Array.from({ length: 40 * 300 }, () => f32(200 * next() - 100));
    const cells = new ExactCells();
    cells.addCyclic(values, 0, values.length, 0, 300);
    const e = cells.encode();
    expect(e.hi.length).toBe(8 * 300);
    expect(e.lo.length).toBe(0);
    expect(e.exceptions).toEqual([]);
  });

  it('adds and merges through the WebAssembly kernel exactly as the JavaScript loops do, and as math.fsum, for adversarial values in frames of 20,011 cells cut anywhere', async () => {
    expect(wasmKernel).toBeDefined();
    const wrap = 20_011;
    const frames = 9;
    const n = wrap * frames;
    // Whole stretches of one kind, so that the kernel's runs meet each: float32 coordinates
    // (its fast path), awkward doubles, values near a tie, NaN and infinities, overflows.
    const kinds = [
      fc.sample(fc.float({ min: -100, max: 100, noNaN: true }).map(f32), { numRuns: 40_000, seed: 1 }),
      fc.sample(awkward, { numRuns: 40_000, seed: 2 }),
      fc.sample(ties, { numRuns: 40_000, seed: 3 }),
      fc.sample(fc.float({ noNaN: true, noDefaultInfinity: true }).map(f32), { numRuns: 40_000, seed: 4 }),
    ];
    const plain = new Float64Array(n);
    for (let i = 0; i < n; i++) plain[i] = kinds[Math.floor(i / 997) % kinds.length]![i % 40_000]!;
    // (cells of their own, which the oracle can sum: an infinity among overflowing values it cannot)
    for (let f = 0; f < frames; f++) for (const c of [17, 18, 19]) plain[f * wrap + c] = f + 0.5;
    plain[5 * wrap + 17] = 1.7976931348623157e308;
    plain[6 * wrap + 17] = 1.7976931348623157e308;
    plain[7 * wrap + 18] = NaN;
    plain[3 * wrap + 19] = -Infinity;
    const cuts = [0, 1, 12_345, wrap, 3 * wrap + 5, 3 * wrap + 5001, 7 * wrap - 3, n];
    await borrowValues(n, async (values) => {
      values.set(plain);
      const run = (): { encoded: ExactCellsEncoded; cells: ExactCells } => {
        let total = new ExactCells();
        for (let k = 0; k + 1 < cuts.length; k++) {
          const piece = new ExactCells();
          let c = 0;
          for (let i = cuts[k]!; i < cuts[k + 1]!; i += 6_007) c = piece.addCyclic(values, i, Math.min(cuts[k + 1]!, i + 6_007), c, wrap);
          total.mergeRotated(travel(piece, wrap), cuts[k]! % wrap, wrap);
          total = travel(total, wrap);
        }
        return { encoded: total.encode(), cells: total };
      };
      const viaWasm = run();
      expect(viaWasm.cells.hi.buffer).toBe(wasmKernel!.buffer);
      useWasmKernel(false);
      let viaJs;
      try {
        viaJs = run();
      } finally {
        useWasmKernel(true);
      }
      expect(viaWasm.encoded).toEqual(viaJs.encoded);
      const lists = Array.from({ length: wrap }, (_, c) => Array.from({ length: frames }, (_, f) => plain[f * wrap + c]!));
      // A cell with a NaN or an infinity: NaN, or the infinity (both signs: NaN); the others through math.fsum.
      const special = (xs: number[]): number | undefined => {
        if (xs.every(Number.isFinite)) return undefined;
        const infs = new Set(xs.filter((x) => !Number.isFinite(x)).map((x) => (x !== x ? 0 : x)));
        return infs.size === 1 && !infs.has(0) ? [...infs][0]! : NaN;
      };
      const finite = fsumOracle(lists.filter((xs) => special(xs) === undefined));
      let at = 0;
      const want = lists.map((xs) => special(xs) ?? finite[at++]!);
      const got = Array.from({ length: wrap }, (_, c) => viaWasm.cells.value(c));
      const bad = got.flatMap((g, c) => (g === want[c] || (g !== g && want[c] !== want[c]) ? [] : [{ c, g, w: want[c], xs: lists[c] }]));
      expect(bad).toEqual([]);
    });
  });

  it('refuses a state that does not fit its frame or its own bytes', () => {
    const cells = new ExactCells();
    cells.addCyclic(Float64Array.from([1, 2, 3]), 0, 3, 0, 3);
    const e = cells.encode();
    expect(() => ExactCells.decode(e, 2)).toThrow(/cells must be an integer from 0 to 2/);
    expect(() => ExactCells.decode({ ...e, hi: e.hi.subarray(8) }, 3)).toThrow(/hi must be 8 bytes a cell/);
    expect(() => ExactCells.decode({ ...e, exceptions: [[5, { lo: 0, limbs: [1] }]] }, 3)).toThrow(/exception/);
  });
});
