import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExactSum, fsum, twoProductError } from '../../lib/core/exact-sum.ts';
import { borrowValues, useWasmKernel, wasmKernel } from '../../lib/core/exact-sum-wasm.ts';
import { python, pyHex } from '../helpers/python.ts';

/** The exactly rounded sum, from Python's Fraction (math.fsum overflows on 1e308 + 1e308 - 1e308). */
function oracle(batches: number[][]): number[] {
  // An exact sum beyond the double range rounds to an infinity (Python raises instead).
  return python<string[]>(
    `from fractions import Fraction as F
def rounded(s):
    try:
        return repr(float(s))
    except OverflowError:
        return 'Infinity' if s > 0 else '-Infinity'
print(json.dumps([rounded(sum(F(float.fromhex(x)) for x in b)) for b in args]))`,
    batches.map((b) => b.map((x) => pyHex(x))),
  ).map(Number);
}


const awkward = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.constantFrom(1e308, -1e308, 5e-324, -5e-324, 2 ** 53, 1, -1, 0.1, 1e-300, 2 ** -1022),
);

describe('ExactSum', () => {
  it('equals the exactly rounded sum for random awkward doubles (math.fsum semantics)', () => {
    const cases = fc.sample(fc.array(awkward, { maxLength: 60 }), 150);
    const expected = oracle(cases);
    cases.forEach((xs, i) => {
      const s = new ExactSum();
      for (const x of xs) s.add(x);
      expect(s.value()).toBe(expected[i]);
    });
  });

  it('agrees with math.fsum on a million values with heavy cancellation', () => {
    const values = python<number[]>('rng = np.random.default_rng(7)\nx = rng.normal(0, 1e10, 200000)\nprint(json.dumps((np.concatenate([x, -x[::-1] * (1 + 1e-12)]) ).tolist()))');
    const s = new ExactSum();
    for (const v of values) s.add(v);
    expect(s.value()).toBe(python<number>('print(json.dumps(math.fsum(args)))', values));
  });

  it('does not depend on order or on how the values are split into partial sums', () => {
    fc.assert(
      fc.property(fc.array(awkward, { maxLength: 80 }), fc.array(fc.nat(), { maxLength: 8 }), (xs, cuts) => {
        const whole = new ExactSum();
        xs.forEach((x) => whole.add(x));
        const points = [...new Set(cuts.map((c) => c % (xs.length + 1)))].sort((a, b) => a - b);
        const parts: ExactSum[] = [];
        let from = 0;
        for (const p of [...points, xs.length]) {
          const s = new ExactSum();
          for (let i = p - 1; i >= from; i--) s.add(xs[i]!);
          parts.push(ExactSum.fromJSON(JSON.parse(JSON.stringify(s))));
          from = p;
        }
        const merged = parts.reduceRight((acc, s) => {
          s.merge(acc);
          return s;
        }, new ExactSum());
        expect(merged.value()).toBe(whole.value());
        expect(JSON.stringify(merged)).toBe(JSON.stringify(whole));
      }),
      { numRuns: 300 },
    );
  });

  it('adds exact products (two-product error term)', () => {
    const s = new ExactSum();
    s.addProduct(0.1, 0.1);
    s.add(-(0.1 * 0.1));
    const err = python<string>('from fractions import Fraction as F\nprint(json.dumps(repr(float(F(0.1)*F(0.1) - F(0.1*0.1)))))');
    expect(s.value()).toBe(Number(err));
  });

  it('adds exact products whose rounded value is near the top of the double range, or whose factors are huge', () => {
    // Near 2^512 Dekker's split rounds a factor up to 2^512, and its partial product overflows.
    const near = [2 ** 512 - 2 ** 459, 2 ** 512 - 2 ** 480, 2 ** 511 * 1.9999999, 1.3407807929942596e154];
    const pairs: [number, number][] = [
      ...near.map((v): [number, number] => [v, v]),
      ...near.map((v): [number, number] => [v, -v]),
      [2 ** 1000, 1.5],
      [-(2 ** 1020) * 1.75, 0.9999999999999999],
      [2 ** 1023 * 1.9999999999999998, 0.9999999999999999],
      [0.9999999999999999, 2 ** 997 * 1.3],
      [1e300, 1e-300],
    ];
    // every product here is finite: no overflow to map to an infinity
    const want = python<string[]>(
      `from fractions import Fraction as F
print(json.dumps([repr(float(F(float.fromhex(a)) * F(float.fromhex(b)))) for a, b in args]))`,
      pairs.map(([a, b]) => [pyHex(a), pyHex(b)]),
    ).map(Number);
    const got = pairs.map(([a, b]) => {
      const s = new ExactSum();
      s.addProduct(a, b);
      return s.value();
    });
    expect(got).toEqual(want);
    // and what the two-product leaves over is exactly the product's rounding error
    const errors = python<string[]>(
      `from fractions import Fraction as F
print(json.dumps([repr(float(F(float.fromhex(a)) * F(float.fromhex(b)) - F(float.fromhex(a) * float.fromhex(b)))) for a, b in args]))`,
      pairs.map(([a, b]) => [pyHex(a), pyHex(b)]),
    ).map(Number);
    expect(pairs.map(([a, b]) => twoProductError(a, b, a * b))).toEqual(errors);
  });

  it('carries through more than 2^20 additions into one limb', () => {
    const s = new ExactSum();
    const n = (1 << 20) * 3 + 17;
    for (let i = 0; i < n; i++) s.add(4294967295.5);
    expect(s.value()).toBe(n * 4294967295.5);
  });

  it.each([
    [[NaN, 1], NaN],
    [[Infinity, 1], Infinity],
    [[-Infinity, 1], -Infinity],
    [[Infinity, -Infinity], NaN],
    [[], 0],
  ])('handles special values %j', (xs, expected) => {
    const s = new ExactSum();
    xs.forEach((x) => s.add(x));
    expect(s.value()).toBe(expected);
    expect(ExactSum.fromJSON(s.toJSON()).value()).toBe(expected);
  });

  describe('addRange (blocks split into exact pieces)', () => {
    // Arrays of one kind each: the split is taken only when a block has no special value
    // and no value near the overflow threshold, so specials come in their own kind.
    const sign = fc.constantFrom(1, -1);
    const kinds = [
      fc.integer({ min: -1e9, max: 1e9 }).map((k) => k / 1e6), // decimals: two passes
      fc.integer({ min: 0, max: 1e9 }).map((k) => k / 1e6), // one sign: the largest partial sums
      // Mantissas over hundreds of binades: more passes than the split takes, then add().
      fc.tuple(sign, fc.double({ min: 1, max: 2, noNaN: true }), fc.integer({ min: -1074, max: 1000 })).map(([s, m, e]) => s * m * 2 ** e),
      fc.tuple(sign, fc.double({ min: 1, max: 2, noNaN: true }), fc.integer({ min: -200, max: 200 })).map(([s, m, e]) => s * m * 2 ** e),
      fc.oneof(awkward, fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 1023, 2 ** -1074)),
    ];
    const block = fc.oneof(...kinds.map((k) => fc.array(k, { maxLength: 400, size: 'max' })));

    it('gives exactly what add() gives, value for value, over any range of the array', () => {
      fc.assert(
        fc.property(block, fc.nat(), fc.nat(), (xs, a, b) => {
          const values = Float64Array.from(xs);
          const from = a % (xs.length + 1);
          const to = from + (b % (xs.length - from + 1));
          const one = new ExactSum();
          for (let i = from; i < to; i++) one.add(values[i]!);
          const split = new ExactSum();
          split.addRange(values, from, to);
          expect(Object.is(split.value(), one.value())).toBe(true);
          expect(JSON.stringify(split)).toBe(JSON.stringify(one));
        }),
        { numRuns: 1000 },
      );
    });

    it('runs in WebAssembly on Node 20 and later (SIMD)', () => {
      expect(wasmKernel).toBeDefined();
    });

    // Values in the kernel's memory take the WebAssembly path; the same values with it
    // switched off take the JavaScript one. Both must give add()'s state, byte for byte.
    it('gives the same state in WebAssembly as in JavaScript and through add(), over any range', async () => {
      const longBlock = fc.oneof(...kinds.map((k) => fc.array(k, { minLength: 0, maxLength: 5000, size: 'max' })));
      const cases = fc.sample(fc.tuple(longBlock, fc.nat(), fc.nat(), fc.nat({ max: 40 })), 300);
      await borrowValues(8000, async (arena) => {
        for (const [xs, a, b, shift] of cases) {
          const values = arena.subarray(shift, shift + xs.length);
          values.set(xs);
          const from = a % (xs.length + 1);
          const to = from + (b % (xs.length - from + 1));
          const one = new ExactSum();
          for (let i = from; i < to; i++) one.add(values[i]!);
          const viaWasm = new ExactSum();
          viaWasm.addRange(values, from, to);
          useWasmKernel(false);
          const viaJs = new ExactSum();
          try {
            viaJs.addRange(values, from, to);
          } finally {
            useWasmKernel(true);
          }
          expect(JSON.stringify(viaWasm)).toBe(JSON.stringify(one));
          expect(JSON.stringify(viaJs)).toBe(JSON.stringify(one));
          expect(Object.is(viaWasm.value(), one.value())).toBe(true);
        }
      });
    });

    // The kernel takes a block's sigmas from the block before (no pass for the maximum)
    // and redoes the block when a value is larger: blocks whose scales jump both ways.
    it('gives add()\'s state when the scale jumps from block to block (WebAssembly path)', async () => {
      const scales = [1, 2 ** 40, 2 ** -40, 1, 2 ** -1000, 2 ** 1000, 2 ** -1070, 3, Infinity, 1, NaN, 2 ** 20, -(2 ** 1023), 1];
      await borrowValues(scales.length * 2049, async (values) => {
        let seed = 7;
        const next = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5;
        for (const blockLength of [2048, 2049, 2047, 300]) {
          const n = scales.length * blockLength;
          for (let i = 0; i < n; i++) {
            const scale = scales[Math.floor(i / blockLength)]!;
            // A special value once per special block, ordinary ones around it.
            values[i] = Number.isFinite(scale) ? next() * scale : i % blockLength === 1000 % blockLength ? scale : next();
          }
          for (const [from, to] of [[0, n], [blockLength - 1, n - 3], [5, 5 + 3 * blockLength]] as const) {
            const one = new ExactSum();
            for (let i = from; i < to; i++) one.add(values[i]!);
            const viaWasm = new ExactSum();
            for (let at = from; at < to; at += blockLength) viaWasm.addRange(values, at, Math.min(to, at + blockLength));
            expect(JSON.stringify(viaWasm)).toBe(JSON.stringify(one));
            const whole = new ExactSum();
            whole.addRange(values, from, to);
            expect(JSON.stringify(whole)).toBe(JSON.stringify(one));
          }
        }
      });
    });

    it('keeps a NaN, an infinity or a huge value anywhere in a long block (WebAssembly path)', async () => {
      await borrowValues(5000, async (values) => {
        for (const special of [NaN, Infinity, -Infinity, 1.5 * 2 ** 1023, 2 ** -1074]) {
          for (const at of [0, 1, 2047, 2048, 4999]) {
            for (let i = 0; i < values.length; i++) values[i] = ((i * 7919) % 2000) / 8 - 125;
            values[at] = special;
            const one = new ExactSum();
            for (let i = 0; i < values.length; i++) one.add(values[i]!);
            const s = new ExactSum();
            s.addRange(values, 0, values.length);
            expect(JSON.stringify(s)).toBe(JSON.stringify(one));
          }
        }
      });
    });

    it.each([
      ['%.6f values within a few decades', 'np.round(rng.uniform(-1e3, 1e3, n), 6)'],
      ['positive values only', 'rng.uniform(0, 1e3, n)'],
      ['values across the whole double range, subnormals included', 'rng.uniform(-1, 1, n) * 10.0 ** rng.integers(-323, 308, n)'],
      ['heavy cancellation', 'np.concatenate([x := rng.normal(0, 1e10, n // 2), -x[::-1] * (1 + 1e-12)])'],
      // The fast path covers 82 bits below a block's largest value: these straddle it, so some leave residues.
      ['values 2^0 to 2^-60 of the largest, mixed', 'rng.uniform(1, 2, n) * 2.0 ** -rng.integers(0, 60, n) * rng.choice([-1, 1], n)'],
      ['standard normal', 'rng.normal(0, 1, n)'],
      ['subnormals only', 'rng.integers(-2**52, 2**52, n) * 2.0 ** -1074'],
      ['normals near the smallest', 'rng.uniform(-1, 1, n) * 2.0 ** -1000'],
    ])('equals math.fsum over blocks longer than one split (%s)', async (_name, expr) => {
      const values = python<number[]>(`rng = np.random.default_rng(11)\nn = 150001\nprint(json.dumps((${expr}).tolist()))`);
      const s = new ExactSum();
      s.addRange(Float64Array.from(values), 0, values.length);
      const expected = python<number>('print(json.dumps(math.fsum(args)))', values);
      expect(s.value()).toBe(expected);
      // The WebAssembly path, on every slicing into three.
      await borrowValues(values.length, async (arena) => {
        arena.set(values);
        for (const [a, b] of [[0, values.length], [1, 2], [4097, 150000], [70001, 70001 + 2048]] as const) {
          const w = new ExactSum();
          w.addRange(arena, 0, a);
          w.addRange(arena, a, b);
          w.addRange(arena, b, values.length);
          expect(w.value()).toBe(expected);
        }
      });
    });
  });

  it('rounds an exact sum just below the overflow threshold to the largest double, and the threshold itself to an infinity', () => {
    // 2^1024 - 2^970 is halfway between the largest double and 2^1024: below it rounds down.
    const cases = [
      [Number.MAX_VALUE, 2 ** 970, -(2 ** 900)],
      [Number.MAX_VALUE, 2 ** 970, -(2 ** -1074)],
      [Number.MAX_VALUE, 2 ** 969, 2 ** 969, -(2 ** 969), 2 ** 968, 2 ** 968, -(2 ** 600)],
      [-Number.MAX_VALUE, -(2 ** 970), 2 ** 900],
      [Number.MAX_VALUE, 2 ** 970],
      [Number.MAX_VALUE, 2 ** 970, 2 ** -1074],
      [Number.MAX_VALUE, 2 ** 969, 2 ** 968, 2 ** 700],
    ];
    const expected = oracle(cases);
    expect(expected.slice(0, 4)).toEqual([Number.MAX_VALUE, Number.MAX_VALUE, Number.MAX_VALUE, -Number.MAX_VALUE]);
    cases.forEach((xs, i) => {
      for (const order of [xs, [...xs].reverse()]) {
        const s = new ExactSum();
        for (const x of order) s.add(x);
        expect(s.value()).toBe(expected[i]);
      }
    });
  });

  it('rounds ties to even in fsum', () => {
    expect(fsum([1, 2 ** -53])).toBe(1);
    expect(fsum([1, 2 ** -53, 2 ** -106])).toBe(1 + 2 ** -52);
  });
});
