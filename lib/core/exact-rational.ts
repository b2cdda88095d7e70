/**
 * Correct rounding of exact quantities held as BigInts: the nearest double (ties to
 * even) to an integer times a power of two, and the square root of a non-negative
 * rational. `stats` uses them to give a standard deviation rounded once from its exact
 * sums, whatever their range.
 */

/** floor(sqrt(n)) for n >= 0. */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  // Newton's method from an overestimate: 2^ceil(bits/2) >= sqrt(n).
  let x = 1n << BigInt((n.toString(2).length + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** x * 2^e for a double x of at most 53 bits and a result that is a double: in two exact steps. */
function scaleByPowerOfTwo(x: number, e: number): number {
  const half = Math.trunc(e / 2);
  return x * 2 ** half * 2 ** (e - half);
}

/**
 * The double nearest to (q + d) * 2^exp, ties to even, where q >= 0 is an integer and d is
 * 0 (`inexact` false) or some value strictly between 0 and 1 (`inexact` true). q should
 * carry a few bits more than the result keeps, so that `inexact` only breaks ties.
 */
export function roundScaled(q: bigint, exp: number, inexact: boolean): number {
  if (q === 0n) return 0;
  const bits = q.toString(2).length;
  // Keep 53 bits, or fewer where the result is subnormal (its last bit is 2^-1074).
  const drop = Math.max(bits - 53, -1074 - exp);
  if (drop <= 0) {
    if (inexact) throw new RangeError('roundScaled: q has too few bits to round an inexact value');
    return scaleByPowerOfTwo(Number(q), exp);
  }
  const shift = BigInt(drop);
  let m = q >> shift;
  const rest = q - (m << shift);
  const half = 1n << (shift - 1n);
  if (rest > half || (rest === half && (inexact || (m & 1n) === 1n))) m += 1n;
  const e = drop + exp;
  // Past the largest double: an infinity, as any rounding would give.
  if (e + m.toString(2).length > 1024) return Infinity;
  return scaleByPowerOfTwo(Number(m), e);
}

/** The double nearest to sqrt(num / den), for num >= 0 and den > 0 (ties cannot occur for irrational roots). */
export function sqrtRatio(num: bigint, den: bigint): number {
  if (num === 0n) return 0;
  // q = floor(sqrt(num / den) * 2^s) with at least 66 bits: floor(sqrt(floor(x))) = floor(sqrt(x)).
  const half = (num.toString(2).length - den.toString(2).length) >> 1;
  const s = Math.max(0, 68 - half);
  const scaled = num << BigInt(2 * s);
  const quotient = scaled / den;
  const q = isqrt(quotient);
  const exact = quotient * den === scaled && q * q === quotient;
  return roundScaled(q, -s, !exact);
}
