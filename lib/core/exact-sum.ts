/**
 * Exact summation of doubles.
 *
 * An ExactSum holds the mathematically exact sum of every double added to it, as a
 * fixed-point integer spread over 68 limbs of 32 bits each. Limb j weighs
 * 2^(32j - 1074), so limb 0 holds the smallest subnormal and limb 67 has room above
 * the largest finite double. Each limb is stored as a double holding an integer; a
 * double holds integers exactly up to 2^53, so a limb can take 2^20 additions of
 * pieces below 2^32 before its carries must be pushed up (normalize()).
 *
 * Because the sum is exact, the rounded value does not depend on the order of
 * additions or on how the values were split into partial sums: value() equals
 * Python's math.fsum of the same values, bit for bit. This is what makes a result
 * independent of slicing, worker count and merge order.
 */

import { wasmKernel, type WasmKernel } from './exact-sum-wasm.ts';

const LIMBS = 68;
const TWO32 = 4294967296;
const TWO64 = TWO32 * TWO32;
const PENDING_LIMIT = 1 << 20;

// inv2[j] = 2^(1010 - 32j): scales a value whose lowest bit sits in limb j so that
// limb j+2 becomes the units place. Every entry is a normal double.
const INV2 = new Float64Array(LIMBS);
// w1[j] = 2^(32(j+1) - 1074) and w2[j] = 2^(32(j+2) - 1074): the weights of limbs j+1, j+2.
const W1 = new Float64Array(LIMBS);
const W2 = new Float64Array(LIMBS);
// weight[j] = 2^(32j - 1074), Infinity when out of range.
const WEIGHT = new Float64Array(LIMBS + 2);
for (let j = 0; j < LIMBS + 2; j++) {
  WEIGHT[j] = 2 ** (32 * j - 1074);
  if (j < LIMBS) {
    INV2[j] = 2 ** (1010 - 32 * j);
    W1[j] = 2 ** (32 * (j + 1) - 1074);
    W2[j] = 2 ** (32 * (j + 2) - 1074);
  }
}

const scratch = new Float64Array(1);
const scratchBits = new Uint32Array(scratch.buffer);
// Little-endian hosts keep the sign and exponent in the second word.
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** JSON form of an ExactSum: deterministic for a given exact value. */
export interface ExactSumJSON {
  /** index of the first limb in `limbs` */
  lo: number;
  limbs: number[];
  /** special values seen: NaN, +Infinity, -Infinity */
  nan?: true;
  posInf?: true;
  negInf?: true;
}

export class ExactSum {
  private readonly limbs = new Float64Array(LIMBS);
  private pending = 0;
  private nan = false;
  private posInf = false;
  private negInf = false;

  /** Adds one double exactly. */
  add(x: number): void {
    scratch[0] = x;
    const exp = (scratchBits[HI]! >>> 20) & 0x7ff;
    if (exp === 0x7ff) {
      this.addSpecial(x);
      return;
    }
    if (x === 0) return;
    // Position of the value's lowest mantissa bit, counted from 2^-1074.
    const j = exp === 0 ? 0 : (exp - 1) >>> 5;
    const inv2 = INV2[j]!;
    const q2 = Math.trunc(x * inv2);
    const r1 = x - q2 * W2[j]!;
    const q1 = Math.trunc(r1 * inv2 * TWO32);
    const r0 = r1 - q1 * W1[j]!;
    const q0 = r0 * inv2 * TWO64;
    const limbs = this.limbs;
    limbs[j] = limbs[j]! + q0;
    limbs[j + 1] = limbs[j + 1]! + q1;
    limbs[j + 2] = limbs[j + 2]! + q2;
    if (++this.pending === PENDING_LIMIT) this.normalize();
  }

  /**
   * Adds every element of `values` from `from` (inclusive) to `to` (exclusive), exactly as
   * add() would, but block by block: each block is split into a few exact pieces whose
   * plain floating-point sums are exact (see extractInto), so that a value costs a few
   * additions instead of a split into three limbs.
   */
  addRange(values: Float64Array, from: number, to: number): void {
    const wasm = wasmKernel;
    if (wasm !== undefined && values.buffer === wasm.buffer) {
      this.addRangeWasm(wasm, values, from, to);
      return;
    }
    for (let at = from; at < to; at += FAST_BLOCK) this.addFastBlock(values, at, Math.min(to, at + FAST_BLOCK));
  }

  /** addRange over values in the WebAssembly kernel's memory: its fast path, block by block. */
  private addRangeWasm(wasm: WasmKernel, values: Float64Array, from: number, to: number): void {
    const base = values.byteOffset;
    const out = wasm.out;
    const restAt = wasm.rest.byteOffset;
    for (let at = from; at < to; at += FAST_BLOCK) {
      const end = Math.min(to, at + FAST_BLOCK);
      let n = end - at < SHORT_BLOCK ? -1 : wasm.block(base + 8 * at, end - at, restAt, out.byteOffset, 0);
      // -3: a value was larger than the sigmas guessed from the last block allow; again with this block's own.
      if (n === -3) n = wasm.block(base + 8 * at, end - at, restAt, out.byteOffset, 0);
      // A NaN among the values passes the kernel's maximum and reaches the sums: add() records it.
      if (n < 0 || out[0] !== out[0]) {
        this.addBlock(values, at, end);
        continue;
      }
      this.add(out[0]!);
      this.add(out[1]!);
      if (n > 0) this.addBlock(wasm.rest, 0, n);
    }
  }

  /**
   * The fast path of addRange: one pass that splits every value against two sigmas at
   * once (two levels of extractInto, 82 bits below the block's largest value), keeping
   * the two sums of pieces in registers. A value whose bits reach further down (over 2^30
   * times smaller than the block's largest) leaves a residue, which goes through the
   * general path (addBlock); a block with a NaN, an infinity, a value near the overflow
   * threshold or only tiny values goes through it entirely.
   */
  private addFastBlock(values: Float64Array, from: number, to: number): void {
    let top0 = 0;
    let top1 = 0;
    let i = from;
    for (; i + 1 < to; i += 2) {
      const a = Math.abs(values[i]!);
      const b = Math.abs(values[i + 1]!);
      if (a > top0) top0 = a;
      if (b > top1) top1 = b;
    }
    if (i < to) {
      const a = Math.abs(values[i]!);
      if (a > top0) top0 = a;
    }
    const top = top0 > top1 ? top0 : top1;
    scratch[0] = top;
    const k = ((scratchBits[HI]! >>> 20) & 0x7ff) - 1022 + FAST_BITS;
    if (top === 0 || k > 1023 || k - 53 + FAST_BITS < TINY_SIGMA_EXP || to - from < SHORT_BLOCK) {
      this.addBlock(values, from, to);
      return;
    }
    const s1 = 2 ** k;
    const s2 = 2 ** (k - 53 + FAST_BITS);
    const rest = fastResidues;
    let n = 0;
    let a1 = 0;
    let b1 = 0;
    let a2 = 0;
    let b2 = 0;
    for (i = from; i + 1 < to; i += 2) {
      const x = values[i]!;
      const y = values[i + 1]!;
      const qx = s1 + x - s1;
      const qy = s1 + y - s1;
      const rx = x - qx;
      const ry = y - qy;
      const px = s2 + rx - s2;
      const py = s2 + ry - s2;
      a1 += qx;
      b1 += qy;
      a2 += px;
      b2 += py;
      if (px !== rx) rest[n++] = rx - px;
      if (py !== ry) rest[n++] = ry - py;
    }
    if (i < to) {
      const x = values[i]!;
      const qx = s1 + x - s1;
      const rx = x - qx;
      const px = s2 + rx - s2;
      a1 += qx;
      a2 += px;
      if (px !== rx) rest[n++] = rx - px;
    }
    const first = a1 + b1;
    if (first !== first) {
      // A NaN among the values (the maximum skips it): add() records it.
      this.addBlock(values, from, to);
      return;
    }
    this.add(first);
    this.add(a2 + b2);
    if (n > 0) this.addBlock(rest, 0, n);
  }

  private addBlock(values: Float64Array, from: number, to: number): void {
    let top = 0;
    for (let i = from; i < to; i++) {
      const a = Math.abs(values[i]!);
      if (a > top) top = a;
    }
    // sigma = 2^k >= 2^BLOCK_BITS * top, and small enough that sigma + x cannot overflow.
    scratch[0] = top;
    const k = Math.max(((scratchBits[HI]! >>> 20) & 0x7ff) - 1022, -1021) + BLOCK_BITS;
    if (top === 0 || k > 1023 || to - from < SHORT_BLOCK) {
      // Zeros only (or NaN, which add() records), an infinity or a huge value, or too few to pay.
      for (let i = from; i < to; i++) this.add(values[i]!);
      return;
    }
    let sigma = 2 ** k;
    const rest = residues;
    const first = extractInto(values, from, to, sigma, rest, false);
    if (first !== first) {
      // A NaN among the values: add() records it.
      for (let i = from; i < to; i++) this.add(values[i]!);
      return;
    }
    this.add(first);
    let n = to - from;
    // Each pass leaves residues below 2^-53 sigma, so the next sigma is 2^(BLOCK_BITS - 53) times smaller.
    for (let pass = 1; n > 0 && pass < MAX_PASSES && sigma > TINY_SIGMA; pass++) {
      sigma *= PASS_SCALE;
      this.add(extractInto(rest, 0, n, sigma, rest, true));
      n = compacted;
    }
    for (let i = 0; i < n; i++) this.add(rest[i]!);
  }

  /** Adds the exact product a*b (Dekker's two-product: the rounded product and its error). */
  addProduct(a: number, b: number): void {
    const p = a * b;
    if (!Number.isFinite(p) || p === 0) {
      this.add(p);
      return;
    }
    this.add(p);
    this.add(twoProductError(a, b, p));
  }

  /** Adds the exact value of another sum into this one. */
  merge(other: ExactSum): void {
    other.normalize();
    this.normalize();
    const a = this.limbs;
    const b = other.limbs;
    for (let j = 0; j < LIMBS; j++) a[j] = a[j]! + b[j]!;
    this.pending = 1;
    this.nan ||= other.nan;
    this.posInf ||= other.posInf;
    this.negInf ||= other.negInf;
  }

  clone(): ExactSum {
    const c = new ExactSum();
    c.limbs.set(this.limbs);
    c.pending = this.pending;
    c.nan = this.nan;
    c.posInf = this.posInf;
    c.negInf = this.negInf;
    return c;
  }

  /** The exact sum rounded to the nearest double (ties to even), as math.fsum gives it. */
  value(): number {
    if (this.nan || (this.posInf && this.negInf)) return NaN;
    if (this.posInf) return Infinity;
    if (this.negInf) return -Infinity;
    const r = fsum(this.terms());
    // fsum's partial sums may round up to 2^1024 (an infinity, or NaN) though the exact sum
    // lies just below the threshold 2^1024 - 2^970 and rounds to the largest double: near the
    // top of the range, round the exact integer itself.
    return Number.isFinite(r) ? r : roundScaled(this.toScaledBigInt());
  }

  /**
   * The exact sum as doubles of one sign whose bits do not overlap, smallest first
   * (each is a limb times its weight). Finite values only.
   */
  terms(): number[] {
    this.normalize();
    const limbs = this.limbs;
    let top = LIMBS - 1;
    while (top >= 0 && limbs[top] === 0) top--;
    if (top < 0) return [];
    let sign = 1;
    let mag = limbs;
    if (limbs[top]! < 0) {
      // Sign-magnitude, so that no term is larger than the sum itself.
      sign = -1;
      mag = new Float64Array(LIMBS);
      for (let j = 0; j < LIMBS; j++) mag[j] = -limbs[j]!;
      normalizeLimbs(mag);
      while (top >= 0 && mag[top] === 0) top--;
    }
    const terms: number[] = [];
    for (let j = 0; j <= top; j++) {
      if (mag[j] !== 0) terms.push(sign * mag[j]! * WEIGHT[j]!);
    }
    return terms;
  }

  /** The exact sum times 2^1074: an integer (finite sums only). */
  toScaledBigInt(): bigint {
    this.normalize();
    let acc = 0n;
    for (let j = LIMBS - 1; j >= 0; j--) acc = (acc << 32n) + BigInt(this.limbs[j]!);
    return acc;
  }

  /** False once an infinity or NaN was added. */
  isFinite(): boolean {
    return !(this.nan || this.posInf || this.negInf);
  }

  isZero(): boolean {
    if (this.nan || this.posInf || this.negInf) return false;
    for (let j = 0; j < LIMBS; j++) if (this.limbs[j] !== 0) return false;
    return true;
  }

  /** Pushes carries up so that limbs 0..66 are in [0, 2^32); the top limb carries the sign. */
  normalize(): void {
    if (this.pending === 0) return;
    normalizeLimbs(this.limbs);
    this.pending = 0;
  }

  toJSON(): ExactSumJSON {
    this.normalize();
    const limbs = this.limbs;
    let lo = 0;
    while (lo < LIMBS && limbs[lo] === 0) lo++;
    let hi = LIMBS - 1;
    while (hi >= lo && limbs[hi] === 0) hi--;
    const out: ExactSumJSON = { lo: hi < lo ? 0 : lo, limbs: Array.from(limbs.subarray(lo, hi + 1)) };
    if (this.nan) out.nan = true;
    if (this.posInf) out.posInf = true;
    if (this.negInf) out.negInf = true;
    return out;
  }

  static fromJSON(json: ExactSumJSON): ExactSum {
    const s = new ExactSum();
    if (
      typeof json !== 'object' || json === null || !Number.isInteger(json.lo) || !Array.isArray(json.limbs) ||
      json.lo < 0 || json.lo + json.limbs.length > LIMBS
    ) {
      throw new TypeError('not an exact sum: expected {lo, limbs}');
    }
    json.limbs.forEach((v, i) => {
      if (!Number.isSafeInteger(v)) throw new TypeError('not an exact sum: limbs must be integers');
      s.limbs[json.lo + i] = v;
    });
    s.pending = 1;
    s.nan = json.nan === true;
    s.posInf = json.posInf === true;
    s.negInf = json.negInf === true;
    return s;
  }

  /** Exact sum of `values`, rounded once. */
  static of(values: Iterable<number>): number {
    const s = new ExactSum();
    for (const v of values) s.add(v);
    return s.value();
  }

  private addSpecial(x: number): void {
    if (x !== x) this.nan = true;
    else if (x > 0) this.posInf = true;
    else this.negInf = true;
  }
}

function normalizeLimbs(limbs: Float64Array): void {
  let carry = 0;
  for (let j = 0; j < LIMBS - 1; j++) {
    const v = limbs[j]! + carry;
    carry = Math.floor(v / TWO32);
    limbs[j] = v - carry * TWO32;
  }
  limbs[LIMBS - 1] = limbs[LIMBS - 1]! + carry;
}

// addRange() works on blocks of at most 2^16 values: 2^BLOCK_BITS > block length.
const BLOCK = 1 << 16;
const BLOCK_BITS = 17;
const PASS_SCALE = 2 ** (BLOCK_BITS - 53);
// Blocks shorter than this go value by value: finding the maximum and a pass cost more.
const SHORT_BLOCK = 16;
// After this many passes (or once sigma is tiny, near the subnormals), the values left go
// one by one through add(). Data within a few decades of its maximum needs two passes.
const MAX_PASSES = 4;
const TINY_SIGMA = 2 ** -900;
const residues = new Float64Array(BLOCK);
let compacted = 0;
// addRange's fast path: blocks of 2^11 values split against sigmas 2^FAST_BITS times the
// largest (n < 2^FAST_BITS), each level 53 - FAST_BITS = 41 bits below the one before.
const FAST_BLOCK = 1 << 11;
const FAST_BITS = 12;
// The second sigma must be a normal double well clear of the subnormals (see TINY_SIGMA).
const TINY_SIGMA_EXP = -900;
const fastResidues = new Float64Array(FAST_BLOCK);

/**
 * One pass of Rump, Ogita and Oishi's error-free vector transformation (ExtractVector, in
 * "Accurate floating-point summation part I", 2008). With sigma a power of two, n < 2^M
 * values and every |x| <= 2^-M sigma: q = (sigma + x) - sigma is exact and a multiple of
 * 2^-53 sigma with |q| <= 2^-M sigma, and x - q is exact and below 2^-53 sigma. Every
 * partial sum of the q's is then a multiple of 2^-53 sigma smaller than sigma: a double,
 * so the plain sums below are exact in any order. Returns the sum of the q's (NaN when a
 * value was NaN) and writes the residues x - q to `out` from 0: all of them, or with
 * `compact` only the non-zero ones, their count left in `compacted`.
 */
function extractInto(values: Float64Array, from: number, to: number, sigma: number, out: Float64Array, compact: boolean): number {
  // Two sums in turn, so that each addition waits on the one before the last.
  let even = 0;
  let odd = 0;
  let i = from;
  let k = 0;
  if (!compact) {
    for (; i + 1 < to; i += 2) {
      const x = values[i]!;
      const y = values[i + 1]!;
      const qx = sigma + x - sigma;
      const qy = sigma + y - sigma;
      out[k++] = x - qx;
      out[k++] = y - qy;
      even += qx;
      odd += qy;
    }
    if (i < to) {
      const x = values[i]!;
      const qx = sigma + x - sigma;
      out[k++] = x - qx;
      even += qx;
    }
  } else {
    for (; i < to; i++) {
      const x = values[i]!;
      const q = sigma + x - sigma;
      const r = x - q;
      if (r !== 0) out[k++] = r;
      even += q;
    }
  }
  compacted = k;
  return even + odd;
}

const SPLITTER = 134217729; // 2^27 + 1

// Past these, Dekker's split overflows: SPLITTER * a for a factor, or the product of the
// high halves (a factor just below 2^512 splits to 2^512) for a product near 2^1024.
const SPLIT_MAX = 2 ** 995;
export const PRODUCT_MAX = 2 ** 1020;
const SCALE_DOWN = 2 ** -64;
const SCALE_UP = 2 ** 64;

/**
 * The rounding error of p = a*b (p must be a*b rounded), exact when the product neither
 * overflows nor underflows: a*b - p, as a double.
 */
export function twoProductError(a: number, b: number, p: number): number {
  if (Math.abs(a) > SPLIT_MAX || Math.abs(b) > SPLIT_MAX || Math.abs(p) > PRODUCT_MAX) return scaledProductError(a, b, p);
  return splitProductError(a, b, p);
}

/**
 * twoProductError without its range check, for a hot loop that knows its factors are at
 * most 2^995 and its product at most PRODUCT_MAX in magnitude (Dekker's split).
 */
export function splitProductError(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}

/**
 * twoProductError past the split's range: scaled by a power of two, the larger factor,
 * the product and so its error scale exactly (the product is large, or has a huge
 * factor, so nothing underflows), and the scaled ones are in range.
 */
function scaledProductError(a: number, b: number, p: number): number {
  return Math.abs(a) >= Math.abs(b) ? splitProductError(a * SCALE_DOWN, b, p * SCALE_DOWN) * SCALE_UP : splitProductError(a, b * SCALE_DOWN, p * SCALE_DOWN) * SCALE_UP;
}

/** n × 2^-1074 rounded to the nearest double, ties to even (an infinity at or beyond 2^1024 - 2^970). */
function roundScaled(n: bigint): number {
  const sign = n < 0n ? -1 : 1;
  let m = n < 0n ? -n : n;
  const shift = m.toString(2).length - 53;
  if (shift <= 0) return sign * Number(m) * 2 ** -1074;
  const rest = m & ((1n << BigInt(shift)) - 1n);
  m >>= BigInt(shift);
  const half = 1n << BigInt(shift - 1);
  if (rest > half || (rest === half && (m & 1n) === 1n)) m += 1n;
  // m < 2^53 + 1, so Number(m) is exact; 2^(shift - 1074) overflows only with the sum.
  return sign * Number(m) * 2 ** (shift - 1074);
}

/**
 * Correctly rounded sum of a short list of doubles (Shewchuk's partials, with the
 * round-half-even correction that math.fsum applies at the end).
 */
export function fsum(values: readonly number[]): number {
  const partials: number[] = [];
  for (let x of values) {
    let i = 0;
    for (let k = 0; k < partials.length; k++) {
      let y = partials[k]!;
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[i++] = lo;
      x = hi;
    }
    partials.length = i;
    partials.push(x);
  }
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n]!;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n]!;
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  if (n > 0 && ((lo < 0 && partials[n - 1]! < 0) || (lo > 0 && partials[n - 1]! > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}
