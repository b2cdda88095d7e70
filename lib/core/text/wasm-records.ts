/**
 * The text reader's plain records in WebAssembly: the loop of fastRecord (fast-record.ts)
 * over many records per call, writing doubles straight into the row block, which lives in
 * the exact-sum kernel's memory (this module imports that memory). It only has to be fast,
 * not complete: a record it does not take (anything but [-]digits[.digits][e[+-]digits]
 * fields with at most 19 digits, one delimiter between them, LF or CRLF; a value it cannot
 * round with certainty: subnormal, overflowing, or a power of ten outside +-308) stops the
 * call at that record's start, and the JavaScript readers, which stay the reference, read
 * it. Values are the correctly rounded doubles of their decimals:
 * - Clinger's fast path: a mantissa below 2^53 and a power of ten up to 1e22, one exact
 *   multiply or divide, correctly rounded by IEEE arithmetic;
 * - otherwise Eisel and Lemire's algorithm (as in fast_float: "Number Parsing at a
 *   Gigabyte per Second", Lemire 2021; no fallback is needed for 19 digits, Mushtak and
 *   Lemire 2023, but the one case the 2021 paper left to a fallback still goes to
 *   JavaScript here): the mantissa, normalized to 64 bits, times 5^q truncated to 128
 *   bits, rounded once.
 * A field of at most 15 bytes with no exponent (most data) skips the digit loops: its
 * bytes are checked from SIMD masks of 16 bytes and its digits summed by dot products
 * (shortField in recordsBody); any other field is read digit by digit from its start.
 * The module is assembled here from its instructions, as the kernel is (no build step,
 * no binary in the repository).
 */
import { kernelMemory, PARSER_BYTES, sleb, uleb, type WasmApi } from '../exact-sum-wasm.ts';

type Code = number[];

// --- a small folded-expression assembler (operands first, as the stack machine wants) ----
const I32 = 0x7f;
const I64 = 0x7e;
const F64 = 0x7c;
const VOID = 0x40;
const cat = (...parts: Code[]): Code => parts.flat();
const op1 = (code: number) => (a: Code): Code => [...a, code];
const op2 = (code: number) => (a: Code, b: Code): Code => [...a, ...b, code];
const memarg = (align: number, offset: number) => [...uleb(align), ...uleb(offset)];
function sleb64(v: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
const get = (l: number): Code => [0x20, ...uleb(l)];
const set = (l: number, v: Code): Code => [...v, 0x21, ...uleb(l)];
const i32 = {
  c: (v: number): Code => [0x41, ...sleb(v)],
  eqz: op1(0x45), eq: op2(0x46), ne: op2(0x47), ltS: op2(0x48), ltU: op2(0x49), gtS: op2(0x4a), gtU: op2(0x4b), leS: op2(0x4c), leU: op2(0x4d), geS: op2(0x4e), geU: op2(0x4f),
  add: op2(0x6a), sub: op2(0x6b), mul: op2(0x6c), and: op2(0x71), or: op2(0x72), shl: op2(0x74), shrS: op2(0x75), shrU: op2(0x76),
  load8u: (addr: Code, offset = 0): Code => [...addr, 0x2d, ...memarg(0, offset)],
  load: (addr: Code, offset = 0): Code => [...addr, 0x28, ...memarg(0, offset)],
  store: (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x36, ...memarg(2, offset)],
  ctz: op1(0x68), xor: op2(0x73),
  wrap: op1(0xa7),
};
const i64 = {
  c: (v: bigint): Code => [0x42, ...sleb64(v)],
  eqz: op1(0x50), eq: op2(0x51), ne: op2(0x52), ltU: op2(0x54), geU: op2(0x5a), leU: op2(0x58),
  clz: op1(0x79), add: op2(0x7c), sub: op2(0x7d), mul: op2(0x7e), and: op2(0x83), or: op2(0x84), shl: op2(0x86), shrU: op2(0x88),
  load: (addr: Code, offset = 0): Code => [...addr, 0x29, ...memarg(0, offset)],
  loadAligned: (addr: Code, offset = 0): Code => [...addr, 0x29, ...memarg(3, offset)],
  extendU: op1(0xad),
  fromF64Bits: op1(0xbd),
};
const f64 = {
  mul: op2(0xa2), div: op2(0xa3),
  load: (addr: Code, offset = 0): Code => [...addr, 0x2b, ...memarg(3, offset)],
  store: (addr: Code, v: Code): Code => [...addr, ...v, 0x39, ...memarg(3, 0)],
  fromU64: op1(0xba), fromS64: op1(0xb9), fromBits: op1(0xbf),
};
const select = (a: Code, b: Code, cond: Code): Code => [...a, ...b, ...cond, 0x1b];
const simd = (op: number, ...imm: number[]): Code => [0xfd, ...uleb(op), ...imm];
const simd1 = (op: number) => (a: Code): Code => [...a, ...simd(op)];
const simd2 = (op: number) => (a: Code, b: Code): Code => [...a, ...b, ...simd(op)];
const v128 = {
  load: (addr: Code, offset = 0): Code => [...addr, ...simd(0x00, ...memarg(0, offset))],
  /** the 16 bytes `b` (a number: that byte 16 times) */
  c: (b: number | number[]): Code => simd(0x0c, ...(typeof b === 'number' ? new Array<number>(16).fill(b) : b)),
  and: simd2(0x4e),
  or: simd2(0x50),
};
const i8x16 = { splat: simd1(0x0f), swizzle: simd2(0x0e), eq: simd2(0x23), leU: simd2(0x2a), sub: simd2(0x71), bitmask: simd1(0x64) };
const i16x8 = { narrowU: simd2(0x86), extendLowU: simd1(0x89), extendHighU: simd1(0x8a) };
const i32x4 = { dot: simd2(0xba), lane: (a: Code, i: number): Code => [...a, ...simd(0x1b, i)] };
const if_ = (cond: Code, then: Code, else_?: Code): Code => [...cond, 0x04, VOID, ...then, ...(else_ ? [0x05, ...else_] : []), 0x0b];
/** block { loop { body } }: `br 0` in body continues, `br 1` leaves (plus the depth of any enclosing if). */
const loop = (body: Code): Code => [0x02, VOID, 0x03, VOID, ...body, 0x0b, 0x0b];
const brIf = (depth: number, cond: Code): Code => [...cond, 0x0d, ...uleb(depth)];
const br = (depth: number): Code => [0x0c, ...uleb(depth)];

// --- the parser's region of the kernel's memory (PARSER_BYTES at kernelMemory.parserAt) ---
const P10_AT = 0; // 10^0 .. 10^22 as doubles
const Q_MIN = -342;
const Q_MAX = 308;
const POW5_AT = 256; // 5^q truncated to 128 bits, high word then low word, q = Q_MIN .. Q_MAX
// i32s: where the last call stopped, and the power of ten whose table entry it missed (NO_Q: none)
const STATUS_AT = POW5_AT + (Q_MAX - Q_MIN + 1) * 16;
const NO_Q = 0x7fffffff;
// For each field length END (1 to 15) and dot position DOTP (0 to END - 1, or 16: none), the
// i8x16.swizzle that puts the field's bytes but the dot at the right of 16 lanes, zeros before.
const ALIGN_AT = STATUS_AT + 16;
const alignEntry = (end: number, dotp: number) => ALIGN_AT + (end * 17 + dotp) * 16;
// Table entries are built when first needed, in groups of Q_GROUP (BigInt divisions: all 651 take about 12 ms).
const Q_GROUP = 32;
const INPUT_AT = 16384;
/** The most bytes one call reads. */
export const INPUT_BYTES = PARSER_BYTES - INPUT_AT - 16; // the last 16 bytes: room for the 8- and 16-byte loads past a record's end

/** 5^q as fast_float's table holds it: the 128 most significant bits (truncated; for q < 0, of 2^b / 5^-q plus one). */
export function pow5Bits(q: number): bigint {
  const two128 = 1n << 128n;
  if (q >= 0) {
    let p = 5n ** BigInt(q);
    while (p < 1n << 127n) p <<= 1n;
    while (p >= two128) p >>= 1n;
    return p;
  }
  const p5 = 5n ** BigInt(-q);
  let z = 0n;
  while (1n << z < p5) z++;
  if (q >= -27) return (1n << (z + 127n)) / p5 + 1n;
  let c = (1n << (2n * z + 128n)) / p5 + 1n;
  while (c >= two128) c >>= 1n;
  return c;
}

// Parameters and locals of `records`.
const P = 0; // i32: address of the first record's first byte
const STOP = 1; // i32: no record starts at or after this address; every record before it ends in a newline
const OUT = 2; // i32: address of the first double to write
const COLS = 3; // i32: values a record
const DELIM = 4; // i32: the delimiter byte
const MAXROWS = 5; // i32
const TABLES = 6; // i32: address of the parser's region
const ROWS = 7; // i32 locals
const REC = 8;
const COL = 9;
const C = 10;
const NEG = 11;
const START = 12;
const ND = 13;
const E10 = 14;
const EV = 15;
const ENEG = 16;
const T = 17;
const LZ = 18;
const UPPER = 19;
const POW2 = 20;
const W = 21; // i64 locals
const HI = 22;
const LO = 23;
const A = 24;
const B = 25;
const X0 = 26;
const X1 = 27;
const Y0 = 28;
const Y1 = 29;
const MID = 30;
const MANT = 31;
const FIRST_HI = 32;
const FIRST_LO = 33;
const V = 34;
const X = 35; // f64
const TERM = 36; // i32 locals of the short-field path
const DIG = 37;
const END = 38;
const NONDIG = 39;
const DOTBIT = 40;
const VA = 41; // v128
const VD = 42;
const VDIG = 43;
// constants, set once a call (in registers, not made again for every field)
const VNL = 44;
const VCR = 45;
const VZERO = 46; // '0' in every byte
const VNINE = 47;
const VW10 = 48; // i16 lanes 10, 1, 10, 1, ...
const VW100 = 49;
const VW10K = 50;
const V128 = 0x7b;
const LOCALS = [5, 14, I32, 14, I64, 1, F64, 5, I32, 10, V128];

const byte = (addr: Code) => i32.load8u(addr);
const isDigit = (c: Code) => i32.leU(i32.sub(c, i32.c(48)), i32.c(9));
const inc = (l: number) => set(l, i32.add(get(l), i32.c(1)));

/** (HI, LO) = A * B, 64 x 64 -> 128 bits, from four 32 x 32 -> 64 products. */
function mul128(): Code {
  const lo32 = (l: number) => i64.and(get(l), i64.c(0xffffffffn));
  const hi32 = (l: number) => i64.shrU(get(l), i64.c(32n));
  return cat(
    set(X0, i64.mul(lo32(A), lo32(B))),
    set(X1, i64.mul(lo32(A), hi32(B))),
    set(Y0, i64.mul(hi32(A), lo32(B))),
    set(Y1, i64.mul(hi32(A), hi32(B))),
    set(MID, i64.add(i64.add(hi32(X0), lo32(X1)), lo32(Y0))),
    set(LO, i64.or(i64.shl(get(MID), i64.c(32n)), lo32(X0))),
    set(HI, i64.add(i64.add(i64.add(get(Y1), hi32(X1)), hi32(Y0)), hi32(MID))),
  );
}

/**
 * X = the double nearest to W * 10^E10 (W > 0), as fast_float's compute_float; `fail(n)`
 * (code that leaves, from inside n more nested ifs) when it cannot say for sure.
 */
function eiselLemire(fail: (ifs: number) => Code): Code {
  const pow5 = i32.add(get(TABLES), i32.add(i32.c(POW5_AT), i32.shl(i32.sub(get(E10), i32.c(Q_MIN)), i32.c(4))));
  const mask = i64.c(0x1ffn); // the bits below the 55 that the rounding looks at
  const shift = i64.extendU(i32.add(get(UPPER), i32.c(9)));
  return cat(
    if_(i32.or(i32.ltS(get(E10), i32.c(Q_MIN)), i32.gtS(get(E10), i32.c(Q_MAX))), fail(1)),
    set(LZ, i32.wrap(i64.clz(get(W)))),
    set(A, i64.shl(get(W), i64.extendU(get(LZ)))),
    set(B, i64.loadAligned(pow5)),
    // An entry not built yet (every entry has its top bit set): JavaScript builds it (wasmRecords) and calls again.
    if_(i64.eqz(get(B)), cat(i32.store(get(TABLES), get(E10), STATUS_AT + 4), fail(1))),
    mul128(),
    if_(
      i64.eq(i64.and(get(HI), mask), mask),
      cat(
        // Not enough bits: add the product with the table's low word, shifted down 64 bits.
        set(FIRST_HI, get(HI)),
        set(FIRST_LO, get(LO)),
        set(B, i64.loadAligned(pow5, 8)),
        mul128(),
        set(LO, i64.add(get(FIRST_LO), get(HI))),
        set(HI, select(i64.add(get(FIRST_HI), i64.c(1n)), get(FIRST_HI), i64.ltU(get(LO), get(FIRST_LO)))),
        // The case Lemire (2021) left to a fallback: left to JavaScript.
        if_(i32.and(i64.eq(i64.and(get(HI), mask), mask), i64.eq(get(LO), i64.c(-1n))), fail(2)),
      ),
    ),
    set(UPPER, i32.wrap(i64.shrU(get(HI), i64.c(63n)))),
    set(MANT, i64.shrU(get(HI), shift)),
    // power(q) = floor(q log2(10)) + 63, biased
    set(POW2, i32.add(i32.sub(i32.add(i32.add(i32.shrS(i32.mul(get(E10), i32.c(217706)), i32.c(16)), i32.c(63)), get(UPPER)), get(LZ)), i32.c(1023))),
    if_(i32.leS(get(POW2), i32.c(0)), fail(1)), // subnormal: JavaScript
    // An exact halfway point (possible only for -4 <= q <= 23) rounds to even.
    // (the low word first, as it is nearly never 0 or 1: one predictable branch instead of the four tests every value)
    if_(
      i64.leU(get(LO), i64.c(1n)),
      if_(
        i32.and(i32.leU(i32.add(get(E10), i32.c(4)), i32.c(27)), i32.and(i64.eq(i64.and(get(MANT), i64.c(3n)), i64.c(1n)), i64.eq(i64.shl(get(MANT), shift), get(HI)))),
        set(MANT, i64.and(get(MANT), i64.c(-2n))),
      ),
    ),
    set(MANT, i64.shrU(i64.add(get(MANT), i64.and(get(MANT), i64.c(1n))), i64.c(1n))),
    if_(i64.geU(get(MANT), i64.c(1n << 53n)), cat(set(MANT, i64.c(1n << 52n)), inc(POW2))),
    if_(i32.geS(get(POW2), i32.c(2047)), fail(1)), // overflow: JavaScript
    set(X, f64.fromBits(i64.or(i64.and(get(MANT), i64.c((1n << 52n) - 1n)), i64.shl(i64.extendU(get(POW2)), i64.c(52n))))),
  );
}

/**
 * W = W * 10^k + the digits from P, eight at a time while eight are digits, then four, then
 * one by one (SWAR, as fast_float: a chain of one multiply a digit is what bounds a
 * byte loop); C is the byte after them.
 */
function mantissaDigits(): Code {
  const eight = (v: Code) => i64.eqz(i64.and(i64.or(i64.add(v, i64.c(0x4646464646464646n)), i64.sub(v, i64.c(0x3030303030303030n))), i64.c(-0x7f7f7f7f7f7f7f80n)));
  const four = (v: Code) => i32.eqz(i32.and(i32.or(i32.add(v, i32.c(0x46464646)), i32.sub(v, i32.c(0x30303030))), i32.c(-0x7f7f7f80)));
  const mask = i64.c(0x000000ff000000ffn);
  return cat(
    loop(
      cat(
        set(V, i64.load(get(P))),
        brIf(1, i32.eqz(eight(get(V)))),
        set(V, i64.sub(get(V), i64.c(0x3030303030303030n))),
        set(V, i64.add(i64.mul(get(V), i64.c(10n)), i64.shrU(get(V), i64.c(8n)))),
        set(V, i64.shrU(i64.add(i64.mul(i64.and(get(V), mask), i64.c(100n + (1000000n << 32n))), i64.mul(i64.and(i64.shrU(get(V), i64.c(16n)), mask), i64.c(1n + (10000n << 32n)))), i64.c(32n))),
        set(W, i64.add(i64.mul(get(W), i64.c(100000000n)), get(V))),
        set(P, i32.add(get(P), i32.c(8))),
        br(0),
      ),
    ),
    if_(
      four(i32.load(get(P))),
      cat(
        set(T, i32.sub(i32.load(get(P)), i32.c(0x30303030))),
        set(T, i32.add(i32.mul(get(T), i32.c(10)), i32.shrU(get(T), i32.c(8)))),
        set(T, i32.shrU(i32.mul(i32.and(get(T), i32.c(0x00ff00ff)), i32.c((100 << 16) + 1)), i32.c(16))),
        set(W, i64.add(i64.mul(get(W), i64.c(10000n)), i64.extendU(get(T)))),
        set(P, i32.add(get(P), i32.c(4))),
      ),
    ),
    digitLoop((d) => set(W, i64.add(i64.mul(get(W), i64.c(10n)), i64.extendU(d)))),
  );
}

/** A loop over the digits from P, `step` of each digit's value; C is the byte after them. */
const digitLoop = (step: (d: Code) => Code): Code =>
  loop(cat(set(C, byte(get(P))), brIf(1, i32.eqz(isDigit(get(C)))), step(i32.sub(get(C), i32.c(48))), inc(P), br(0)));

/** i16 lanes w, 1, w, 1, ... */
const weights = (w: number): Code => v128.c(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? [w & 0xff, w >> 8] : [1, 0])).flat());

/**
 * (func $records (param $p i32) (param $stop i32) (param $out i32) (param $columns i32)
 *   (param $delim i32) (param $maxRows i32) (param $tables i32) (result i32))
 * Parses records from $p while one starts before $stop and fewer than $maxRows are done,
 * and returns how many; the address where it stopped (the first record not parsed) is
 * stored at $tables + STATUS_AT.
 */
function recordsBody(): Code {
  // Depths: in the field loop's body 0 continues the fields, 1 ends them, 2 is the record
  // loop and 3 leaves it; each enclosing if adds one. A record not taken: back to its start.
  const fail = (ifs: number): Code => cat(set(P, get(REC)), br(3 + ifs));
  const mantissa = mantissaDigits();
  const p10 = (e: Code) => f64.load(i32.add(get(TABLES), i32.shl(e, i32.c(3))), P10_AT);
  // A field of at most 15 bytes and 15 digits, [-]digits[.digits] (most data): its bytes
  // are checked against that grammar all at once, from the masks of 16 bytes, and its
  // digits become one integer in a few SIMD instructions (no loop a digit); the value is
  // then Clinger's one exact division (W < 10^15). Any other field goes the longer way
  // below (exponents, more digits), from its start.
  const shortField = cat(
    set(VA, v128.load(get(P))),
    set(TERM, i8x16.bitmask(v128.or(v128.or(i8x16.eq(get(VA), get(VD)), i8x16.eq(get(VA), get(VNL))), i8x16.eq(get(VA), get(VCR))))),
    brIf(0, i32.eqz(get(TERM))), // 16 bytes or more: the longer way
    set(END, i32.ctz(get(TERM))),
    set(VA, i8x16.sub(get(VA), get(VZERO))),
    set(VDIG, i8x16.leU(get(VA), get(VNINE))),
    set(DIG, i8x16.bitmask(get(VDIG))),
    set(NEG, i32.eq(byte(get(P)), i32.c(45))),
    // the field's bytes that are not digits, but a leading minus: none, or one dot
    set(NONDIG, i32.and(i32.and(i32.sub(i32.shl(i32.c(1), get(END)), i32.c(1)), i32.xor(get(DIG), i32.c(-1))), i32.xor(get(NEG), i32.c(-1)))),
    set(DOTBIT, i32.ctz(get(NONDIG))), // 32: no dot
    set(ND, i32.sub(i32.sub(get(END), get(NEG)), i32.ne(get(NONDIG), i32.c(0)))),
    brIf(
      0,
      i32.or(
        i32.or(i32.ne(i32.and(get(NONDIG), i32.sub(get(NONDIG), i32.c(1))), i32.c(0)), i32.eqz(get(ND))),
        i32.and(i32.ne(get(NONDIG), i32.c(0)), i32.ne(byte(i32.add(get(P), i32.and(get(DOTBIT), i32.c(15)))), i32.c(46))),
      ),
    ),
    // The digits, right-aligned in 16 lanes (the minus is a leading zero), summed with
    // weights 10 and 1, then 100 and 1, then 10^4 and 1: two 8-digit halves.
    set(VA, i8x16.swizzle(v128.and(get(VA), get(VDIG)), v128.load(i32.add(get(TABLES), i32.shl(i32.add(i32.mul(get(END), i32.c(17)), select(get(DOTBIT), i32.c(16), i32.ltU(get(DOTBIT), i32.c(16)))), i32.c(4))), ALIGN_AT))),
    set(VA, i16x8.narrowU(i32x4.dot(i16x8.extendLowU(get(VA)), get(VW10)), i32x4.dot(i16x8.extendHighU(get(VA)), get(VW10)))),
    set(VA, i32x4.dot(get(VA), get(VW100))),
    set(VA, i32x4.dot(i16x8.narrowU(get(VA), get(VA)), get(VW10K))),
    set(W, i64.add(i64.mul(i64.extendU(i32x4.lane(get(VA), 0)), i64.c(100000000n)), i64.extendU(i32x4.lane(get(VA), 1)))),
    // digits after the dot: END - DOTBIT - 1, or none
    set(X, f64.div(f64.fromS64(get(W)), p10(select(i32.sub(i32.sub(get(END), get(DOTBIT)), i32.c(1)), i32.c(0), i32.ltU(get(DOTBIT), i32.c(16)))))),
    set(P, i32.add(get(P), get(END))),
    set(C, byte(get(P))),
    br(1),
  );
  const field = cat(
    [0x02, VOID], // block: the value is ready
    [0x02, VOID], // block: the longer way
    shortField,
    [0x0b],
    set(C, byte(get(P))),
    set(NEG, i32.eq(get(C), i32.c(45))),
    set(P, i32.add(get(P), get(NEG))),
    set(W, i64.c(0n)),
    set(START, get(P)),
    // The integer part one digit at a time: it is short in most data, and a failed
    // eight-digit test costs more than the loop (%.6f: about 5 % of the parse).
    digitLoop((d) => set(W, i64.add(i64.mul(get(W), i64.c(10n)), i64.extendU(d)))),
    set(ND, i32.sub(get(P), get(START))),
    set(E10, i32.c(0)),
    if_(
      i32.eq(get(C), i32.c(46)),
      cat(inc(P), set(START, get(P)), mantissa, set(E10, i32.sub(get(START), get(P))), set(ND, i32.sub(get(ND), get(E10)))),
    ),
    // no digit ("", ".", "-", "+5"), or more than 19 (the mantissa could wrap)
    if_(i32.gtU(i32.sub(get(ND), i32.c(1)), i32.c(18)), fail(2)),
    if_(
      i32.eq(i32.or(get(C), i32.c(32)), i32.c(101)),
      cat(
        inc(P),
        set(C, byte(get(P))),
        set(ENEG, i32.eq(get(C), i32.c(45))),
        if_(i32.or(get(ENEG), i32.eq(get(C), i32.c(43))), inc(P)),
        set(EV, i32.c(0)),
        set(START, get(P)),
        digitLoop((d) => set(EV, i32.add(i32.mul(get(EV), i32.c(10)), d))),
        if_(i32.gtU(i32.sub(i32.sub(get(P), get(START)), i32.c(1)), i32.c(4)), fail(3)), // no exponent digit, or more than 5
        set(E10, i32.add(get(E10), select(i32.sub(i32.c(0), get(EV)), get(EV), get(ENEG)))),
      ),
    ),
    if_(
      i64.eqz(get(W)),
      set(X, [0x44, 0, 0, 0, 0, 0, 0, 0, 0]),
      if_(
        i32.and(i64.ltU(get(W), i64.c(1n << 53n)), i32.leU(i32.add(get(E10), i32.c(22)), i32.c(44))),
        cat(
          set(X, f64.fromU64(get(W))),
          if_(i32.ltS(get(E10), i32.c(0)), set(X, f64.div(get(X), p10(i32.sub(i32.c(0), get(E10))))), set(X, f64.mul(get(X), p10(get(E10))))),
        ),
        eiselLemire((ifs) => fail(3 + ifs)),
      ),
    ),
    [0x0b],
    // the sign as a bit, not a select: V8 makes a select of doubles a branch, and signs are random
    f64.store(get(OUT), f64.fromBits(i64.or(i64.fromF64Bits(get(X)), i64.shl(i64.extendU(get(NEG)), i64.c(63n))))),
    set(OUT, i32.add(get(OUT), i32.c(8))),
    inc(COL),
    brIf(1, i32.eq(get(COL), get(COLS))),
    if_(i32.ne(get(C), get(DELIM)), fail(1)),
    inc(P),
    br(0),
  );
  return cat(
    set(VD, i8x16.splat(get(DELIM))),
    set(VNL, v128.c(10)),
    set(VCR, v128.c(13)),
    set(VZERO, v128.c(48)),
    set(VNINE, v128.c(9)),
    set(VW10, weights(10)),
    set(VW100, weights(100)),
    set(VW10K, weights(10000)),
    set(ROWS, i32.c(0)),
    loop(
      cat(
        brIf(1, i32.or(i32.geU(get(P), get(STOP)), i32.geU(get(ROWS), get(MAXROWS)))),
        set(REC, get(P)),
        set(COL, i32.c(0)),
        loop(field),
        // (depths here: 0 the record loop, 1 leaves it)
        if_(i32.eq(get(C), i32.c(13)), cat(inc(P), set(C, byte(get(P))))),
        if_(i32.ne(get(C), i32.c(10)), cat(set(P, get(REC)), br(2))),
        inc(P),
        inc(ROWS),
        br(0),
      ),
    ),
    i32.store(get(TABLES), get(P), STATUS_AT),
    get(ROWS),
    [0x0b],
  );
}

const section = (id: number, body: Code) => [id, ...uleb(body.length), ...body];
const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

function moduleBytes(pages: number): Uint8Array {
  const code = [...LOCALS, ...recordsBody()];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 7, I32, I32, I32, I32, I32, I32, I32, 1, I32]),
    ...section(2, [1, ...name('k'), ...name('memory'), 0x02, 0x00, ...uleb(pages)]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('records'), 0, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

type RecordsFn = (p: number, stop: number, out: number, columns: number, delim: number, maxRows: number, tables: number) => number;

interface Parser {
  records: RecordsFn;
  buffer: ArrayBuffer;
  tables: number;
  bytes: Uint8Array;
  status: Int32Array;
  pow5: BigUint64Array;
}

/** Builds the group of table entries that holds 5^q. */
function buildPow5(w: Parser, q: number): void {
  const from = Q_MIN + Math.floor((q - Q_MIN) / Q_GROUP) * Q_GROUP;
  for (let k = from; k < from + Q_GROUP && k <= Q_MAX; k++) {
    const v = pow5Bits(k);
    w.pow5[(k - Q_MIN) * 2] = v >> 64n;
    w.pow5[(k - Q_MIN) * 2 + 1] = v & 0xffffffffffffffffn;
  }
}

function instantiate(): Parser | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  const km = kernelMemory;
  if (!api || !km) return undefined;
  try {
    const bytes = moduleBytes(km.buffer.byteLength / 65536);
    const { records } = new api.Instance(new api.Module(bytes), { k: { memory: km.memory } }).exports as { records: RecordsFn };
    const tables = km.parserAt;
    const p10 = new Float64Array(km.buffer, tables + P10_AT, 23);
    for (let i = 0; i <= 22; i++) p10[i] = 10 ** i;
    const align = new Uint8Array(km.buffer, tables + ALIGN_AT, 16 * 17 * 16);
    for (let end = 1; end <= 15; end++) {
      for (const dotp of [...Array(end).keys(), 16]) {
        const from = [...Array(end).keys()].filter((i) => i !== dotp);
        const entry = new Array<number>(16 - from.length).fill(0x80).concat(from);
        align.set(entry, alignEntry(end, dotp) - ALIGN_AT);
      }
    }
    const status = new Int32Array(km.buffer, tables + STATUS_AT, 2);
    status[1] = NO_Q;
    return { records, buffer: km.buffer, tables, bytes: new Uint8Array(km.buffer, tables + INPUT_AT, INPUT_BYTES), status, pow5: new BigUint64Array(km.buffer, tables + POW5_AT, (Q_MAX - Q_MIN + 1) * 2) };
  } catch {
    return undefined;
  }
}

const parser = instantiate();
let enabled = true;

/** Switches the WebAssembly parser on or off (tests and benchmarks compare it with the JavaScript readers). */
export function useWasmRecords(on: boolean): void {
  enabled = on;
}

/** The parser can write into `values` (it lives in the kernel's memory), and is on. */
export function wasmRecordsFor(values: Float64Array): boolean {
  return enabled && parser !== undefined && values.buffer === parser.buffer;
}

// The scan that reads its chunks straight into the parser's input (leaseInput), if any.
let inputLeased = false;

/**
 * The parser's input, for one scan at a time to read its chunks into (ByteSource.chunks'
 * `into`), so that wasmRecords parses them in place instead of copying them there first;
 * undefined while another scan holds it, or without the parser. While it is held,
 * wasmRecords declines a buffer that would have to be copied into it (the other scans'
 * records go to the JavaScript readers), so that no scan overwrites a chunk the holder
 * has read and not parsed yet. Give it back with releaseInput.
 */
export function leaseInput(): Uint8Array | undefined {
  if (!enabled || parser === undefined || inputLeased) return undefined;
  inputLeased = true;
  return parser.bytes;
}

export function releaseInput(input: Uint8Array | undefined): void {
  if (input !== undefined) inputLeased = false;
}

/** Rows parsed by wasmRecords in this thread (tests check that it ran). */
export const wasmRecordsStats = { rows: 0 };

/** Where the last wasmRecords call stopped, as an index into its `buf`; [1] is 1 when it stopped at a record it does not take. */
export const recordsStop = new Int32Array(2);

/**
 * Parses plain records of `columns` values from buf[from], all of which end in buf before
 * `to` (buf[to - 1] is a newline), while one starts before `stop` (<= to) and fewer than
 * maxRows are done, into values[at...]. Returns the rows parsed, and sets recordsStop[0]
 * to where it stopped: a record start (the first one not parsed, or `stop`'s record
 * start; recordsStop[1] says which). Only for `values` that wasmRecordsFor accepts.
 */
export function wasmRecords(buf: Uint8Array, from: number, to: number, stop: number, values: Float64Array, at: number, columns: number, delimiter: number, maxRows: number): number {
  const w = parser!;
  let base: number; // the parser's address of buf[0]
  if (buf.buffer === w.buffer) base = buf.byteOffset;
  else if (inputLeased) {
    // A scan reads its chunks into the input (leaseInput): not a byte of it is ours to overwrite.
    recordsStop[0] = from;
    recordsStop[1] = 1;
    return 0;
  } else {
    // Copy whole records into the parser's input, as many as fit.
    if (to - from > INPUT_BYTES) {
      to = buf.lastIndexOf(10, from + INPUT_BYTES - 1) + 1;
      if (to <= from) {
        recordsStop[0] = from;
        recordsStop[1] = 1;
        return 0;
      }
      if (stop > to) stop = to;
    }
    w.bytes.set(buf.subarray(from, to));
    base = w.tables + INPUT_AT - from;
  }
  let rows = 0;
  let stoppedAt = from;
  for (;;) {
    rows += w.records(base + stoppedAt, base + stop, values.byteOffset + (at + rows * columns) * 8, columns, delimiter, maxRows - rows, w.tables);
    stoppedAt = w.status[0]! - base;
    const q = w.status[1]!;
    if (q === NO_Q) break;
    // It needed a power of five not built yet: build it, and go on from the record it stopped at.
    w.status[1] = NO_Q;
    buildPow5(w, q);
  }
  recordsStop[0] = stoppedAt;
  recordsStop[1] = stoppedAt < stop && rows < maxRows ? 1 : 0;
  wasmRecordsStats.rows += rows;
  return rows;
}
