/**
 * XXH64 (xxHash, 64-bit; https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md),
 * seed 0, whose low 32 bits are a zstd frame's content checksum. For fzstd, which does not
 * check them. 64-bit words are pairs of 32-bit halves (hi, lo): no BigInt in the loop.
 */

// The primes, as [hi, lo].
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

// Results of the helpers below (a pair without allocating).
let rh = 0;
let rl = 0;

/** (ah, al) * (bh, bl) mod 2^64 into (rh, rl). */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const c0 = a0 * b0;
  let c1 = (c0 >>> 16) + a1 * b0;
  let c2 = c1 >>> 16;
  c1 = (c1 & 0xffff) + a0 * b1;
  c2 += (c1 >>> 16) + a1 * b1;
  rl = (((c1 & 0xffff) << 16) | (c0 & 0xffff)) >>> 0;
  rh = (c2 + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** (ah, al) + (bh, bl) mod 2^64 into (rh, rl). */
function add(ah: number, al: number, bh: number, bl: number): void {
  const l = al + bl;
  rl = l >>> 0;
  rh = (ah + bh + (l > 0xffffffff ? 1 : 0)) >>> 0;
}

/** rotate left by r (0 < r < 64) into (rh, rl). */
function rotl(h: number, l: number, r: number): void {
  if (r >= 32) {
    [h, l] = [l, h];
    r -= 32;
  }
  if (r === 0) {
    rh = h;
    rl = l;
    return;
  }
  rh = ((h << r) | (l >>> (32 - r))) >>> 0;
  rl = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** round(acc, input) = rotl(acc + input * P2, 31) * P1, into (rh, rl). */
function round(ah: number, al: number, ih: number, il: number): void {
  mul(ih, il, P2H, P2L);
  add(ah, al, rh, rl);
  rotl(rh, rl, 31);
  mul(rh, rl, P1H, P1L);
}

export class Xxh64 {
  // The four accumulators.
  private v = new Uint32Array(8);
  private readonly buf = new Uint8Array(32);
  private buffered = 0;
  private total = 0;

  constructor() {
    const v = this.v;
    add(P1H, P1L, P2H, P2L);
    v[0] = rh;
    v[1] = rl;
    v[2] = P2H;
    v[3] = P2L;
    v[4] = 0;
    v[5] = 0;
    // seed - P1 = -P1
    add(~P1H >>> 0, ~P1L >>> 0, 0, 1);
    v[6] = rh;
    v[7] = rl;
  }

  update(data: Uint8Array): this {
    this.total += data.length;
    let p = 0;
    if (this.buffered > 0) {
      const take = Math.min(32 - this.buffered, data.length);
      this.buf.set(data.subarray(0, take), this.buffered);
      this.buffered += take;
      p = take;
      if (this.buffered < 32) return this;
      this.stripes(this.buf, 0, 32);
      this.buffered = 0;
    }
    const whole = p + ((data.length - p) & ~31);
    if (whole > p) this.stripes(data, p, whole);
    if (whole < data.length) {
      this.buf.set(data.subarray(whole), 0);
      this.buffered = data.length - whole;
    }
    return this;
  }

  private stripes(d: Uint8Array, from: number, to: number): void {
    const v = this.v;
    // The rounds inlined, halves in locals: several times faster than through the helpers.
    for (let lane = 0; lane < 4; lane++) {
      let h = v[2 * lane]!;
      let l = v[2 * lane + 1]!;
      for (let p = from + 8 * lane; p < to; p += 32) {
        const il = (d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16) | (d[p + 3]! << 24)) >>> 0;
        const ih = (d[p + 4]! | (d[p + 5]! << 8) | (d[p + 6]! << 16) | (d[p + 7]! << 24)) >>> 0;
        // t = input * P2
        let a0 = il & 0xffff, a1 = il >>> 16;
        let c0 = a0 * (P2L & 0xffff);
        let c1 = (c0 >>> 16) + a1 * (P2L & 0xffff);
        let c2 = c1 >>> 16;
        c1 = (c1 & 0xffff) + a0 * (P2L >>> 16);
        c2 += (c1 >>> 16) + a1 * (P2L >>> 16);
        let tl = (((c1 & 0xffff) << 16) | (c0 & 0xffff)) >>> 0;
        let th = (c2 + Math.imul(ih, P2L) + Math.imul(il, P2H)) >>> 0;
        // acc += t
        const sl = l + tl;
        l = sl >>> 0;
        h = (h + th + (sl > 0xffffffff ? 1 : 0)) >>> 0;
        // rotl 31
        tl = ((l << 31) | (h >>> 1)) >>> 0;
        th = ((h << 31) | (l >>> 1)) >>> 0;
        // acc = rot * P1
        a0 = tl & 0xffff;
        a1 = tl >>> 16;
        c0 = a0 * (P1L & 0xffff);
        c1 = (c0 >>> 16) + a1 * (P1L & 0xffff);
        c2 = c1 >>> 16;
        c1 = (c1 & 0xffff) + a0 * (P1L >>> 16);
        c2 += (c1 >>> 16) + a1 * (P1L >>> 16);
        l = (((c1 & 0xffff) << 16) | (c0 & 0xffff)) >>> 0;
        h = (c2 + Math.imul(th, P1L) + Math.imul(tl, P1H)) >>> 0;
      }
      v[2 * lane] = h;
      v[2 * lane + 1] = l;
    }
  }

  /** The low 32 bits of the digest (a zstd content checksum). */
  digestLow32(): number {
    const v = this.v;
    let h: number, l: number;
    if (this.total >= 32) {
      rotl(v[0]!, v[1]!, 1);
      let sh = rh, sl = rl;
      rotl(v[2]!, v[3]!, 7);
      add(sh, sl, rh, rl);
      sh = rh;
      sl = rl;
      rotl(v[4]!, v[5]!, 12);
      add(sh, sl, rh, rl);
      sh = rh;
      sl = rl;
      rotl(v[6]!, v[7]!, 18);
      add(sh, sl, rh, rl);
      sh = rh;
      sl = rl;
      for (let i = 0; i < 8; i += 2) {
        // mergeRound: acc ^= round(0, v); acc = acc * P1 + P4
        round(0, 0, v[i]!, v[i + 1]!);
        mul((sh ^ rh) >>> 0, (sl ^ rl) >>> 0, P1H, P1L);
        add(rh, rl, P4H, P4L);
        sh = rh;
        sl = rl;
      }
      h = sh;
      l = sl;
    } else {
      h = P5H;
      l = P5L;
    }
    add(h, l, Math.floor(this.total / 2 ** 32), this.total >>> 0);
    h = rh;
    l = rl;
    const b = this.buf;
    let p = 0;
    const n = this.buffered;
    for (; p + 8 <= n; p += 8) {
      round(0, 0, u32(b, p + 4), u32(b, p));
      rotl((h ^ rh) >>> 0, (l ^ rl) >>> 0, 27);
      mul(rh, rl, P1H, P1L);
      add(rh, rl, P4H, P4L);
      h = rh;
      l = rl;
    }
    if (p + 4 <= n) {
      mul(0, u32(b, p), P1H, P1L);
      rotl((h ^ rh) >>> 0, (l ^ rl) >>> 0, 23);
      mul(rh, rl, P2H, P2L);
      add(rh, rl, P3H, P3L);
      h = rh;
      l = rl;
      p += 4;
    }
    for (; p < n; p++) {
      mul(0, b[p]!, P5H, P5L);
      rotl((h ^ rh) >>> 0, (l ^ rl) >>> 0, 11);
      mul(rh, rl, P1H, P1L);
      h = rh;
      l = rl;
    }
    // avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32
    l = (l ^ (h >>> 1)) >>> 0;
    mul(h, l, P2H, P2L);
    h = rh;
    l = rl;
    l = (l ^ ((l >>> 29) | (h << 3))) >>> 0;
    h = (h ^ (h >>> 29)) >>> 0;
    mul(h, l, P3H, P3L);
    h = rh;
    l = rl;
    l = (l ^ h) >>> 0;
    return l;
  }
}

const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
