import { describe, expect, it } from 'vitest';
import { isqrt, roundScaled, sqrtRatio } from '../../lib/core/exact-rational.ts';

describe('isqrt', () => {
  it.each([
    [0n, 0n],
    [1n, 1n],
    [2n, 1n],
    [15n, 3n],
    [16n, 4n],
    [10n ** 40n, 10n ** 20n],
    [10n ** 40n - 1n, 10n ** 20n - 1n],
  ])('floor(sqrt(%s)) = %s', (n, want) => {
    expect(isqrt(n)).toBe(want);
  });
});

describe('roundScaled', () => {
  it('rounds to nearest, ties to even, and lets the inexact flag break a tie upward', () => {
    expect(roundScaled(3n, -1, false)).toBe(1.5);
    expect(roundScaled((1n << 53n) + 1n, 0, false)).toBe(2 ** 53);
    expect(roundScaled((1n << 53n) + 1n, 0, true)).toBe(2 ** 53 + 2);
    expect(roundScaled((1n << 53n) + 3n, 0, false)).toBe(2 ** 53 + 4);
  });

  it('rounds into the subnormals at 2^-1074, and past the largest double to Infinity', () => {
    expect(roundScaled(1n, -1075, false)).toBe(0);
    expect(roundScaled(1n, -1075, true)).toBe(Number.MIN_VALUE);
    expect(roundScaled(3n, -1075, false)).toBe(2 * Number.MIN_VALUE);
    expect(roundScaled(1n << 60n, 1000, false)).toBe(Infinity);
    expect(roundScaled((1n << 53n) - 1n, 971, false)).toBe(Number.MAX_VALUE);
  });
});

describe('sqrtRatio', () => {
  it('is the correctly rounded root of exact squares and of 2', () => {
    expect(sqrtRatio(1n, 4n)).toBe(0.5);
    expect(sqrtRatio(2n, 1n)).toBe(Math.SQRT2);
    expect(sqrtRatio(0n, 7n)).toBe(0);
    expect(sqrtRatio(9n << 2000n, 1n)).toBe(3 * 2 ** 1000);
  });
});
