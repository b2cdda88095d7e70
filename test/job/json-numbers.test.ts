import { describe, expect, it } from 'vitest';
import { ByteWriter, writeNumber } from '../../lib/job/json-numbers.ts';

const text = (x: number): string => {
  const w = new ByteWriter(8);
  w.number(x);
  return Buffer.from(w.bytes()).toString('latin1');
};

// A deterministic stream of doubles (xorshift), so a failure names a reproducible value.
function* doubles(count: number, seed: number): Generator<number> {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const f64 = new Float64Array(1);
  const u32 = new Uint32Array(f64.buffer);
  for (let i = 0; i < count; i++) {
    switch (i % 8) {
      case 0:
        u32[0] = next() * 2 ** 32;
        u32[1] = next() * 2 ** 32;
        yield f64[0]!;
        break;
      case 1:
        yield (next() - 0.5) * 10 ** Math.floor(next() * 24 - 8);
        break;
      case 2:
        // a mean over frames of float32 coordinates
        yield (Math.fround((next() - 0.5) * 200) * 37 + Math.fround(next())) / 40;
        break;
      case 3:
        yield Math.round(next() * 1e6) / 10 ** Math.floor(next() * 8);
        break;
      case 4:
        yield 2 ** Math.floor(next() * 90 - 25) * (next() < 0.5 ? 1 - 2 ** -53 : 1 + 2 ** -52);
        break;
      case 5:
        yield Number((next() * 1000).toPrecision(1 + Math.floor(next() * 17)));
        break;
      case 6:
        yield -Math.fround(next() * 100);
        break;
      default:
        yield 2 ** Math.floor(next() * 90 - 25);
    }
  }
}

describe('ByteWriter.number', () => {
  it('writes what JSON.stringify writes, for 400,000 doubles of every kind', () => {
    const wrong: string[] = [];
    for (const x of doubles(400_000, 7)) if (text(x) !== JSON.stringify(x) && wrong.length < 5) wrong.push(`${JSON.stringify(x)} as ${text(x)}`);
    expect(wrong).toEqual([]);
  });

  it.each([
    0, -0, 1, -1, 0.1, 0.2, 0.30000000000000004, 1 / 3, 1e-6, 1e-6 * (1 - 2 ** -53), 1e-7, 5e-324, 2.2250738585072014e-308, 1e15, 1e15 - 0.125, 1e21, 1e300,
    Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 2 ** 60, 1.0000000000000002, NaN, Infinity, -Infinity,
  ])('writes %s as JSON.stringify does', (x) => {
    expect(text(x)).toBe(JSON.stringify(x));
  });

  it('leaves numbers outside its fast path to the caller', () => {
    const buf = new Uint8Array(32);
    expect(writeNumber(buf, 0, [1e-7], 0)).toBe(-1);
    expect(writeNumber(buf, 0, [1e15], 0)).toBe(-1);
    expect(writeNumber(buf, 0, [0], 0)).toBe(-1);
    expect(writeNumber(buf, 0, [null], 0)).toBe(-1);
    expect(writeNumber(buf, 3, [1, 2.5], 1)).toBe(6);
  });

  it('writes an array element that is a number, and says whether it was one', () => {
    const w = new ByteWriter(4);
    const values = [0.1, null, -2.5e-3, NaN, 'x', 1e300];
    expect(values.map((_, i) => w.numberOf(values, i))).toEqual([true, false, true, true, false, true]);
    expect(Buffer.from(w.bytes()).toString('latin1')).toBe('0.1-0.0025null1e+300');
  });
});
