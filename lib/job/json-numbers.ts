/**
 * Numbers as JSON text, fast: the exact characters `JSON.stringify` gives (the shortest
 * decimal that reads back as the same double, the closest one when several are as short),
 * written straight into bytes. V8 takes 100-200 ns a number, allocating a string each
 * time; a million atoms' mean structure is 3 x 10^6 of them.
 *
 * The fast path covers 10^-6 <= |x| < 10^15, the range where JavaScript prints no exponent
 * and where 10^k, for the k that makes P = |x| * 10^k a 17-digit number, is an exact
 * double. P is then exactly p + e (Dekker's product: p rounded, e its error), and the
 * doubles that read back as x are those within half an ulp of it, scaled: [P - hLo, P + hHi],
 * ends included when x's significand is even (round half to even, as a reader rounds).
 * A multiple of 10^j in that interval is a decimal of 17 - j digits that reads back as x,
 * and the largest such j gives the shortest; between two candidates the closer one wins,
 * a tie the even digit (V8's choice). Every comparison is exact (sums of doubles whose
 * signs are decided by error-free transformations), so the text is JavaScript's own;
 * anything else (0, subnormal, huge, NaN) goes through String(x).
 */

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
// Dekker's split of each power of ten (hi + lo = 10^k, each with at most 26 significant bits).
const SPLIT = 134217729; // 2^27 + 1
const POW10_HI = POW10.map((t) => {
  const c = SPLIT * t;
  return c - (c - t);
});
const POW10_LO = POW10.map((t, k) => t - POW10_HI[k]!);
const POW2 = new Float64Array(2100);
for (let i = 0; i < POW2.length; i++) POW2[i] = 2 ** (i - 1100);

const f64 = new Float64Array(1);
const one = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO_WORD = LITTLE ? 0 : 1;
const HI_WORD = LITTLE ? 1 : 0;


/** Sign of a + b + c, exactly (a non-overlapping expansion has the sign of its largest part). */
function sign3(a: number, b: number, c: number): number {
  // TwoSum(a, b) = x + y
  let x = a + b;
  let bv = x - a;
  const y = a - (x - bv) + (b - bv);
  // add c to the expansion [y, x]
  const q = y + c;
  bv = q - y;
  const z1 = y - (q - bv) + (c - bv);
  const x2 = x + q;
  bv = x2 - x;
  const z2 = x - (x2 - bv) + (q - bv);
  x = x2;
  if (x !== 0) return x > 0 ? 1 : -1;
  if (z2 !== 0) return z2 > 0 ? 1 : -1;
  return z1 > 0 ? 1 : z1 < 0 ? -1 : 0;
}

/** Grows as it is written to; `bytes()` is a view of what was written. */
export class ByteWriter {
  private buf: Buffer;
  length = 0;

  constructor(capacity = 1 << 16) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Makes room for n more bytes. */
  reserve(n: number): void {
    this.room(n);
  }

  private room(n: number): Buffer {
    if (this.length + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.length + n, 2 * this.buf.length));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    return this.buf;
  }

  text(s: string): void {
    this.room(3 * s.length);
    this.length += this.buf.write(s, this.length, 'utf8');
  }

  byte(b: number): void {
    this.room(1)[this.length++] = b;
  }

  /** x as JSON.stringify writes it (null for NaN and infinities). */
  number(x: number): void {
    one[0] = x;
    this.numberOf(one, 0);
  }

  /**
   * values[i] as JSON.stringify writes it when it is a number (null for NaN and
   * infinities), and true; false, writing nothing, when it is not a number. Taking the
   * array, not the number: V8 passes a double to a function it did not inline as a new
   * heap number, and 3 x 10^6 of those were most of a million atoms' garbage.
   */
  numberOf(values: ArrayLike<unknown>, i: number): boolean {
    const buf = this.room(32);
    const at = writeNumber(buf, this.length, values, i);
    if (at >= 0) {
      this.length = at;
      return true;
    }
    const x = values[i];
    if (typeof x !== 'number') return false;
    this.text(Number.isFinite(x) ? String(x) : 'null');
    return true;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * Writes the JSON text of x = values[index] at buf[at..] and returns the offset after it,
 * or -1 when x is outside the fast path or not a number (the caller writes String(x) or
 * null then). buf needs 25 bytes of room.
 *
 * One function with no calls on the common path: V8 passes a double to a function it did
 * not inline as a heap number, and a dozen of those a number made this slower than V8's
 * own formatting.
 */
export function writeNumber(buf: Uint8Array, at: number, values: ArrayLike<unknown>, index: number): number {
  const x = values[index];
  if (typeof x !== 'number') return -1;
  const v = Math.abs(x);
  if (!(v >= 1e-6 && v < 1e15)) return -1;
  f64[0] = v;
  const hiWord = u32[HI_WORD]!;
  const loWord = u32[LO_WORD]!;
  const biased = hiWord >>> 20;
  // k with P = v * 10^k in [1e16, 1e17): from the binary exponent (log10(2) = 0.30103),
  // then corrected on the exact product P = p + e (Dekker's: p rounded, e its error).
  let k = 16 - Math.floor((biased - 1023) * 0.30102999566398114);
  if (k > 22) k = 22;
  const c = SPLIT * v;
  const vh = c - (c - v);
  const vl = v - vh;
  let p = 0;
  let e = 0;
  for (let tries = 0; ; tries++) {
    if (tries > 3 || k < 0 || k > 22) return -1;
    p = v * POW10[k]!;
    e = vh * POW10_HI[k]! - p + vh * POW10_LO[k]! + vl * POW10_HI[k]! + vl * POW10_LO[k]!;
    if (p < 1e16 || (p === 1e16 && e < 0)) k++;
    else if (p > 1e17 || (p === 1e17 && e >= 0)) k--;
    else break;
  }
  // The half-gaps to the neighbouring doubles, scaled by 10^k (exact: a power of two times
  // 10^k); the gap below a power of two is half the one above.
  const hHi = POW2[biased - 1076 + 1100]! * POW10[k]!;
  const hLo = (hiWord & 0xfffff) === 0 && loWord === 0 ? hHi / 2 : hHi;
  const inclusive = (loWord & 1) === 0;
  // P = q8 * 1e8 + r + e, r an integer in [0, 1e8) (q8 * 1e8 is exact: q8 * 5^8 < 2^53).
  let q8 = Math.floor(p / 1e8);
  let r = p - q8 * 1e8;
  if (r < 0) {
    q8--;
    r += 1e8;
  } else if (r >= 1e8) {
    q8++;
    r -= 1e8;
  }
  // The largest power of ten with a multiple in the interval (a multiple of 10^j is one of
  // 10^(j-1), so the first miss ends the search), and of its multiples the closest to P.
  // Past 10^8 the digits are q8's, whose trailing zeros go below.
  let low = 0;
  for (let pow = 1; pow <= 1e8; pow *= 10) {
    // down: the largest multiple of pow <= r + e (a rounded sum of two doubles has the exact sum's sign).
    let down: number;
    if (pow === 1) down = r + Math.floor(e);
    else {
      const d = (r | 0) % (pow | 0);
      down = r - d;
      if (d + e < 0) down -= pow;
      else if (d - pow + e >= 0) down += pow;
    }
    const up = down + pow;
    // down is inside when (r + e) - down <= hLo; up when up - (r + e) <= hHi. The rounded
    // sums are off by a few ulps of 32 at most: only a near tie needs the exact sign.
    const roughDown = r - down + e - hLo;
    const sDown = roughDown > 1e-9 ? 1 : roughDown < -1e-9 ? -1 : sign3(r - down, e, -hLo);
    const roughUp = up - r - e - hHi;
    const sUp = roughUp > 1e-9 ? 1 : roughUp < -1e-9 ? -1 : sign3(up - r, -e, -hHi);
    const downIn = inclusive ? sDown <= 0 : sDown < 0;
    const upIn = inclusive ? sUp <= 0 : sUp < 0;
    if (downIn && upIn) {
      // The closer: the sign of (up - P) - (P - down) = (up + down - 2r) - 2e; a tie, the even digit.
      const s = up + down - 2 * r - 2 * e;
      low = s < 0 ? up : s > 0 ? down : (down / pow) % 2 === 0 ? down : up;
    } else if (downIn) low = down;
    else if (upIn) low = up;
    else break;
  }
  if (low < 0) {
    q8--;
    low += 1e8;
  } else if (low >= 1e8) {
    q8++;
    low -= 1e8;
  }
  // The decimal exponent: x = d1.d2...d17 * 10^(16 - k).
  let exp10 = 16 - k;
  if (q8 >= 1e9) {
    q8 = 1e8; // 10^17: low is 0
    exp10++;
  }
  // The 17 digits (ASCII), four at a time, then the trailing zeros dropped. y * 1e-4
  // floors to y / 10^4 exactly for integers y below 10^9 (1e-4 rounds up, and no product
  // comes within an ulp of the next integer).
  const digits = DIGITS;
  if (FOUR[3] === 0) fillFour();
  const q4 = Math.floor(q8 * 1e-4);
  let f = 4 * (q8 - q4 * 1e4);
  digits[5] = FOUR[f]!;
  digits[6] = FOUR[f + 1]!;
  digits[7] = FOUR[f + 2]!;
  digits[8] = FOUR[f + 3]!;
  const q0 = Math.floor(q4 * 1e-4);
  f = 4 * (q4 - q0 * 1e4);
  digits[1] = FOUR[f]!;
  digits[2] = FOUR[f + 1]!;
  digits[3] = FOUR[f + 2]!;
  digits[4] = FOUR[f + 3]!;
  digits[0] = 48 + q0;
  const l4 = Math.floor(low * 1e-4);
  f = 4 * l4;
  digits[9] = FOUR[f]!;
  digits[10] = FOUR[f + 1]!;
  digits[11] = FOUR[f + 2]!;
  digits[12] = FOUR[f + 3]!;
  f = 4 * (low - l4 * 1e4);
  digits[13] = FOUR[f]!;
  digits[14] = FOUR[f + 1]!;
  digits[15] = FOUR[f + 2]!;
  digits[16] = FOUR[f + 3]!;
  let n = 17;
  while (n > 1 && digits[n - 1] === 48) n--;
  let o = at;
  if (x < 0) buf[o++] = 45; // -
  const point = exp10 + 1; // digits before the decimal point
  if (point <= 0) {
    buf[o++] = 48;
    buf[o++] = 46;
    for (let i = point; i < 0; i++) buf[o++] = 48;
    for (let i = 0; i < n; i++) buf[o++] = digits[i]!;
  } else if (point >= n) {
    for (let i = 0; i < n; i++) buf[o++] = digits[i]!;
    for (let i = n; i < point; i++) buf[o++] = 48;
  } else {
    for (let i = 0; i < point; i++) buf[o++] = digits[i]!;
    buf[o++] = 46;
    for (let i = point; i < n; i++) buf[o++] = digits[i]!;
  }
  return o;
}

const DIGITS = new Uint8Array(17);
// The four ASCII digits of 0..9999, filled by the first number written: 2 ms of every
// start of a process or worker thread otherwise, and most (a thread) never write one.
const FOUR = new Uint8Array(40000);
function fillFour(): void {
  for (let i = 0; i < 10000; i++) for (let d = 0, v = i; d < 4; d++, v = Math.floor(v / 10)) FOUR[4 * i + 3 - d] = 48 + (v % 10);
}
