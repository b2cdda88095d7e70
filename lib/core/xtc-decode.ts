/**
 * Decoding GROMACS' compressed coordinates (the xdr3dfcoord scheme of XTC frames).
 *
 * Every coordinate is an integer, round(x * precision). An atom is stored either in
 * full, as the three integers minus minint packed together into one mixed-radix number
 * of `bitsize` bits (or, when a range passes 2^24, each integer on its own in
 * sizeofint(range) bits), or as a small delta from the atom before it: three integers in
 * [0, magicints[smallidx]) packed into smallidx bits. After each full atom one bit says
 * whether a new run length follows (5 bits: the number of small atoms times 3 plus a
 * step of -1, 0 or +1 for smallidx); without it the previous run length is used again.
 * The first small atom of a run is written before the full atom (water molecules: the
 * oxygen is better stored as a delta from a hydrogen).
 *
 * Bits are read most significant first; a packed number's bytes come least significant
 * first. Values are float32 products int * (1 / precision), as every reader computes them,
 * times `scale` in float64 (10 for nm to Å: exact, a float32 times 10 needs 28 bits).
 */

/** Sizes of the small-delta ranges by smallidx: about 2^(i/3) each, so three fit in i bits. */
export const MAGIC_INTS = Int32Array.from([
  0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 10, 12, 16, 20, 25, 32, 40, 50, 64, 80, 101, 128, 161, 203, 256, 322, 406, 512, 645, 812, 1024, 1290, 1625, 2048, 2580, 3250, 4096,
  5060, 6501, 8192, 10321, 13003, 16384, 20642, 26007, 32768, 41285, 52015, 65536, 82570, 104031, 131072, 165140, 208063, 262144, 330280, 416127, 524287, 660561,
  832255, 1048576, 1321122, 1664510, 2097152, 2642245, 3329021, 4194304, 5284491, 6658042, 8388607, 10568983, 13316085, 16777216,
]);
export const FIRST_SMALL_IDX = 9;
export const LAST_SMALL_IDX = MAGIC_INTS.length - 1;

/** What the frame header says about its compressed block. */
export interface CompressedParams {
  atoms: number;
  precision: number;
  minint: readonly [number, number, number];
  maxint: readonly [number, number, number];
  smallidx: number;
}

/** A problem in the compressed bytes; `at` is the byte offset within the block. */
export class XtcDecodeError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

/** Bits needed for values in [0, size): the bit length of `size`, at most 32. */
export function bitsForSize(size: number): number {
  let bits = 0;
  while (bits < 32 && size >= 2 ** bits) bits++;
  return bits;
}

/** Bits of the product of three sizes: the bit length of s0 * s1 * s2 (exact, up to 2^96). */
export function bitsForSizes(s0: number, s1: number, s2: number): number {
  const product = BigInt(s0) * BigInt(s1) * BigInt(s2);
  return product === 0n ? 0 : product.toString(2).length;
}

/**
 * The 32 bits from bit `bp` on, most significant first, of which the first 25 at least
 * are the stream's (the block is padded, so the 4 bytes are in bounds). A DataView's
 * big-endian read compiles to one load and a byte swap: 20 % faster than four byte loads.
 */
function wordAt(d: DataView, bp: number): number {
  return d.getInt32(bp >>> 3) << (bp & 7);
}

/**
 * The first `nbits` (1..24) bits of `w` as a packed number: its bytes come least
 * significant first, the last one with the bits left over.
 */
function littleEndian(w: number, nbits: number): number {
  if (nbits <= 8) return w >>> (32 - nbits);
  if (nbits <= 16) return (w >>> 24) | (((w << 8) >>> (40 - nbits)) << 8);
  return (w >>> 24) | (((w >>> 16) & 0xff) << 8) | (((w << 16) >>> (48 - nbits)) << 16);
}

/** Unpacked integers of the rare paths (wide numbers, coordinates on their own bits); [3] is the new bit position. */
const rare = new Float64Array(4);

/**
 * 1 / s1 and 1 / s2 of the two callers of unpackWide: [0, 1] for full atoms, [2, 3] for
 * small ones. Set by the caller when its radices change: passed as arguments, doubles
 * would be boxed as heap numbers on every call.
 */
const wideInv = new Float64Array(4);

/**
 * Three integers packed in radices (s0, s1, s2), all below 2^24, as a number of 25 to 72
 * bits from bit bp: into rare[0..2], rare[3] = bp after. The number is read as three
 * limbs of 24 bits and divided by s2, then the quotient by s1, limb by limb: every step
 * divides t < s * 2^24 <= 2^48 by s, whose product with the reciprocal is off by at most
 * one (its error is below 2^-4), put right by the remainder's range. `inv` is the index
 * of 1 / s1 in wideInv (1 / s2 follows it).
 */
function unpackWide(d: DataView, bp: number, nbits: number, s1: number, s2: number, inv: number): void {
  const i1 = wideInv[inv]!;
  const i2 = wideInv[inv + 1]!;
  const l0 = littleEndian(wordAt(d, bp), 24);
  const l1 = nbits <= 48 ? littleEndian(wordAt(d, bp + 24), nbits - 24) : littleEndian(wordAt(d, bp + 24), 24);
  const l2 = nbits <= 48 ? 0 : littleEndian(wordAt(d, bp + 48), nbits - 48);
  // (l2, l1, l0) / s2
  let t = l2;
  let q2 = Math.floor(t * i2);
  let r = t - q2 * s2;
  if (r < 0) {
    q2--;
    r += s2;
  } else if (r >= s2) {
    q2++;
    r -= s2;
  }
  t = r * 16777216 + l1;
  let q1 = Math.floor(t * i2);
  r = t - q1 * s2;
  if (r < 0) {
    q1--;
    r += s2;
  } else if (r >= s2) {
    q1++;
    r -= s2;
  }
  t = r * 16777216 + l0;
  let q0 = Math.floor(t * i2);
  r = t - q0 * s2;
  if (r < 0) {
    q0--;
    r += s2;
  } else if (r >= s2) {
    q0++;
    r -= s2;
  }
  rare[2] = r;
  // (q2, q1, q0) / s1
  t = q2;
  let x2 = Math.floor(t * i1);
  r = t - x2 * s1;
  if (r < 0) {
    x2--;
    r += s1;
  } else if (r >= s1) {
    x2++;
    r -= s1;
  }
  t = r * 16777216 + q1;
  let x1 = Math.floor(t * i1);
  r = t - x1 * s1;
  if (r < 0) {
    x1--;
    r += s1;
  } else if (r >= s1) {
    x1++;
    r -= s1;
  }
  t = r * 16777216 + q0;
  let x0 = Math.floor(t * i1);
  r = t - x0 * s1;
  if (r < 0) {
    x0--;
    r += s1;
  } else if (r >= s1) {
    x0++;
    r -= s1;
  }
  rare[1] = r;
  rare[0] = (x2 * 16777216 + x1) * 16777216 + x0;
  rare[3] = bp + nbits;
}

/** An integer of `n` (1..32) bits from bit bp, most significant first. */
function bitsAt(d: DataView, bp: number, n: number): number {
  return n <= 24 ? wordAt(d, bp) >>> (32 - n) : (wordAt(d, bp) >>> (32 - (n - 16))) * 65536 + (wordAt(d, bp + n - 16) >>> 16);
}

/**
 * Decodes `params.atoms` atoms from `data` (exactly the compressed block, byteCount
 * bytes) into out[0 .. 3 * atoms), each value times `scale`, and returns how many bytes
 * the bit stream used.
 */
export function decodeCompressed(data: Uint8Array, params: CompressedParams, out: Float64Array, outAt = 0, scale = 1): number {
  const natoms = params.atoms;
  const [minx, miny, minz] = params.minint;
  const sx = params.maxint[0] - minx + 1;
  const sy = params.maxint[1] - miny + 1;
  const sz = params.maxint[2] - minz + 1;
  // A range past 2^24 cannot be packed with the others: each integer gets its own bits.
  const separate = sx > 0xffffff || sy > 0xffffff || sz > 0xffffff;
  const bitsize = separate ? 0 : bitsForSizes(sx, sy, sz);
  const bx = bitsForSize(sx);
  const by = bitsForSize(sy);
  const bz = bitsForSize(sz);
  const inv = Math.fround(1 / params.precision);
  const len = data.length;

  // `bp` is the position in bits. A read takes the 4 bytes from the one that holds bp and
  // shifts. The bytes are copied into a buffer with zero padding, so reads past the block
  // are zeros and stay in bounds; the caller compares the bytes used with the block's length.
  if (padded.length < len + 16) {
    padded = new Uint8Array(Math.max(len + 16, 2 * padded.length));
    paddedView = new DataView(padded.buffer);
  }
  padded.set(data);
  padded.fill(0, len, len + 16);
  const d = paddedView;
  let bp = 0;

  let smallidx = params.smallidx;
  if (smallidx < FIRST_SMALL_IDX || smallidx > LAST_SMALL_IDX) throw new XtcDecodeError(`smallidx ${smallidx} is outside ${FIRST_SMALL_IDX}..${LAST_SMALL_IDX}`, 0);
  let smaller = MAGIC_INTS[Math.max(FIRST_SMALL_IDX, smallidx - 1)]! >> 1;
  let smallnum = MAGIC_INTS[smallidx]! >> 1;
  let sizesmall = MAGIC_INTS[smallidx]!;
  // Divisions. A double division takes tens of cycles and an integer % as many; a product
  // with the reciprocal is a few, and is off by at most one for the integers here (below
  // 2^48, divisors below 2^24, so the rounding errors are far below one), which the
  // remainder's range check puts right: the quotient and remainder are exact.
  let invSmall = 1 / sizesmall;
  let invSmall2 = 1 / (sizesmall * sizesmall);
  const invy = 1 / sy;
  const invz = 1 / sz;
  const invyz = 1 / (sy * sz);
  wideInv[0] = invy;
  wideInv[1] = invz;
  wideInv[2] = invSmall;
  wideInv[3] = invSmall;

  let o = outAt;
  let i = 0;
  let run = 0;
  while (i < natoms) {
    let x: number;
    let y: number;
    let z: number;
    if (bitsize > 0 && bitsize <= 24) {
      // n < 2^24, and so are sz and sy * sz: as for the small atoms below, exact floors.
      const n = littleEndian(wordAt(d, bp), bitsize) + 0.5;
      bp += bitsize;
      const q = Math.floor(n * invz);
      x = Math.floor(n * invyz);
      z = n - 0.5 - q * sz;
      y = q - x * sy;
    } else if (bitsize > 24 && bitsize <= 48) {
      // n = hi * 2^24 + lo < 2^48, exact in a double, and so are sz and sy * sz (below
      // 2^48 too). (n + 1/2) / D for a divisor D is at least 1/(2D) from an integer; the
      // product with the rounded reciprocal is off by at most (n / D) * 2^-51 < 1/(8D):
      // both floors are exact, with no correction, as for the narrower numbers above.
      const lo = littleEndian(wordAt(d, bp), 24);
      const n = littleEndian(wordAt(d, bp + 24), bitsize - 24) * 16777216 + lo + 0.5;
      bp += bitsize;
      const q = Math.floor(n * invz);
      x = Math.floor(n * invyz);
      z = n - 0.5 - q * sz;
      y = q - x * sy;
    } else if (bitsize > 24) {
      unpackWide(d, bp, bitsize, sy, sz, 0);
      x = rare[0]!;
      y = rare[1]!;
      z = rare[2]!;
      bp = rare[3]!;
    } else {
      x = bitsAt(d, bp, bx);
      bp += bx;
      y = bitsAt(d, bp, by);
      bp += by;
      z = bitsAt(d, bp, bz);
      bp += bz;
    }
    i++;
    x = (x + minx) | 0;
    y = (y + miny) | 0;
    z = (z + minz) | 0;
    let isSmaller = 0;
    // a flag bit, then (when set) a run length of 5 bits
    const flagged = wordAt(d, bp);
    bp++;
    if (flagged < 0) {
      run = (flagged << 1) >>> 27;
      bp += 5;
      isSmaller = run % 3;
      run -= isSmaller;
      isSmaller--;
    }
    if (run > 0) {
      if (i + run / 3 > natoms) throw new XtcDecodeError(`a run of ${run / 3} small atoms after atom ${i - 1} passes the ${natoms} atoms of the frame`, bp >>> 3);
      let px = x;
      let py = y;
      let pz = z;
      for (let k = 0; k < run; k += 3) {
        let u0: number;
        let u1: number;
        let u2: number;
        if (smallidx <= 24) {
          // n < 2^24 and sizesmall <= 256: n + 1/2 over sizesmall (or its square) is at
          // least 1/2^17 from an integer and the product's error below 2^-28, so both
          // floors are exact, and neither waits for the other.
          const n = littleEndian(wordAt(d, bp), smallidx) + 0.5;
          bp += smallidx;
          const q = Math.floor(n * invSmall);
          u0 = Math.floor(n * invSmall2);
          u2 = n - 0.5 - q * sizesmall;
          u1 = q - u0 * sizesmall;
        } else if (smallidx <= 48) {
          // n < 2^48: exact floors as for full atoms of 25 to 48 bits (sizesmall^2 < 2^48)
          const n = littleEndian(wordAt(d, bp + 24), smallidx - 24) * 16777216 + littleEndian(wordAt(d, bp), 24) + 0.5;
          bp += smallidx;
          const q = Math.floor(n * invSmall);
          u0 = Math.floor(n * invSmall2);
          u2 = n - 0.5 - q * sizesmall;
          u1 = q - u0 * sizesmall;
        } else {
          unpackWide(d, bp, smallidx, sizesmall, sizesmall, 2);
          u0 = rare[0]!;
          u1 = rare[1]!;
          u2 = rare[2]!;
          bp = rare[3]!;
        }
        i++;
        const tx = (u0 + px - smallnum) | 0;
        const ty = (u1 + py - smallnum) | 0;
        const tz = (u2 + pz - smallnum) | 0;
        out[o] = Math.fround(Math.fround(tx) * inv) * scale;
        out[o + 1] = Math.fround(Math.fround(ty) * inv) * scale;
        out[o + 2] = Math.fround(Math.fround(tz) * inv) * scale;
        o += 3;
        if (k === 0) {
          // the full atom comes after the first small one
          out[o] = Math.fround(Math.fround(x) * inv) * scale;
          out[o + 1] = Math.fround(Math.fround(y) * inv) * scale;
          out[o + 2] = Math.fround(Math.fround(z) * inv) * scale;
          o += 3;
        }
        px = tx;
        py = ty;
        pz = tz;
      }
    } else {
      out[o] = Math.fround(Math.fround(x) * inv) * scale;
      out[o + 1] = Math.fround(Math.fround(y) * inv) * scale;
      out[o + 2] = Math.fround(Math.fround(z) * inv) * scale;
      o += 3;
    }
    if (isSmaller !== 0) {
      smallidx += isSmaller;
      if (isSmaller < 0) {
        if (smallidx < FIRST_SMALL_IDX) throw new XtcDecodeError(`smallidx falls to ${smallidx} at atom ${i - 1}`, bp >>> 3);
        smallnum = smaller;
        smaller = smallidx > FIRST_SMALL_IDX ? MAGIC_INTS[smallidx - 1]! >> 1 : 0;
      } else {
        if (smallidx > LAST_SMALL_IDX) throw new XtcDecodeError(`smallidx rises to ${smallidx} at atom ${i - 1}`, bp >>> 3);
        smaller = smallnum;
        smallnum = MAGIC_INTS[smallidx]! >> 1;
      }
      sizesmall = MAGIC_INTS[smallidx]!;
      invSmall = 1 / sizesmall;
      invSmall2 = 1 / (sizesmall * sizesmall);
      wideInv[2] = invSmall;
      wideInv[3] = invSmall;
    }
    if (bp > 8 * (len + 8)) throw new XtcDecodeError(`the bit stream runs past the ${len} bytes of the block at atom ${i - 1}`, len);
  }
  return Math.ceil(bp / 8);
}

/** The compressed block with zero padding, kept between frames. */
let padded = new Uint8Array(1 << 16);
let paddedView = new DataView(padded.buffer);
