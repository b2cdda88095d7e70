/**
 * ExactSum.addRange's fast path in WebAssembly with 128-bit SIMD: the same split as the
 * JavaScript one (see addFastBlock in exact-sum.ts, which stays the reference), two values
 * an instruction. It runs on values that already live in its memory: readers borrow their
 * value arrays from it (borrowValues), so nothing is copied in; any other array takes the
 * JavaScript path. The module is assembled here from its instructions (a few hundred
 * bytes), so there is no build step and no binary in the repository; the text form is
 * in the comments. Where WebAssembly or its SIMD is missing, `wasmKernel` is undefined.
 */

// --- a few instructions of the binary format -------------------------------------------
const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const VOID = 0x40;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const get = (l: number) => [0x20, ...uleb(l)];
const set = (l: number) => [0x21, ...uleb(l)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const i64c = (v: number) => [0x42, ...sleb(v)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const mem = (align: number, offset = 0) => [...uleb(align), ...uleb(offset)];
const v128Load = (offset = 0) => simd(0x00, ...mem(4, offset));
const f64Load = (offset = 0) => [0x2b, ...mem(3, offset)];
const f64Store = (offset = 0) => [0x39, ...mem(3, offset)];
const f64x2 = { splat: simd(0x14), lane: (i: number) => simd(0x21, i), ne: simd(0x48), abs: simd(0xec), add: simd(0xf0), sub: simd(0xf1), max: simd(0xf5), pmax: simd(0xf7) };
const anyTrue = simd(0x53);
const v128Zero = simd(0x0c, ...new Array<number>(16).fill(0));
const op = {
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Shl: 0x74, i32LtU: 0x49, i32LeU: 0x4d, i32Ne: 0x47, i32Eqz: 0x45, i32GtU: 0x4b, i32WrapI64: 0xa7,
  i64ShrU: 0x88, i64Shl: 0x86, i64And: 0x83, i64ExtendI32U: 0xad, i64Reinterpret: 0xbd, f64Reinterpret: 0xbf,
  f64Abs: 0x99, f64Add: 0xa0, f64Sub: 0xa1, f64Max: 0xa5, f64Ne: 0x62,
  block: 0x02, loop: 0x03, if: 0x04, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f,
};

// Parameters and locals of `block`.
const P = 0; // i32: byte address of the first value
const N = 1; // i32: number of values (at most 2^11)
const REST = 2; // i32: byte address where residues go
const OUT = 3; // i32: byte address of the two f64 results
const I = 4; // i32
const END2 = 5; // i32: address past the last pair of values
const M = 6; // i32: residues written
const E = 7; // i32: biased exponent of the largest |value|
const T = 8; // f64
const SX = 9; // f64 (the odd value at the end)
const SQ = 10;
const SR = 11;
const SP = 12;
const SUM1 = 13;
const SUM2 = 14;
const TOP = 15; // v128
const S1 = 16;
const S2 = 17;
const X = 18;
const Q = 19;
const R = 20;
const PP = 21;
const A1 = 22;
const A2 = 23;
const B1 = 24;
const B2 = 25;
const TOP2 = 26;

/**
 * One vector of two values at I + offset:
 *   q = (s1 + x) - s1; r = x - q; p = (s2 + r) - s2; acc1 += q; acc2 += p
 *   if any lane has r != p: rest[m++] = r - p for that lane
 */
function extractVector(offset: number, acc1: number, acc2: number): number[] {
  const lane = (k: number) => [
    ...get(R), ...f64x2.lane(k), ...get(PP), ...f64x2.lane(k), op.f64Ne,
    op.if, VOID,
    ...get(REST), ...get(M), ...i32c(3), op.i32Shl, op.i32Add,
    ...get(R), ...f64x2.lane(k), ...get(PP), ...f64x2.lane(k), op.f64Sub, ...f64Store(),
    ...get(M), ...i32c(1), op.i32Add, ...set(M),
    op.end,
  ];
  return [
    ...get(I), ...v128Load(offset), ...set(X),
    ...get(S1), ...get(X), ...f64x2.add, ...get(S1), ...f64x2.sub, ...set(Q),
    ...get(X), ...get(Q), ...f64x2.sub, ...set(R),
    ...get(S2), ...get(R), ...f64x2.add, ...get(S2), ...f64x2.sub, ...set(PP),
    ...get(acc1), ...get(Q), ...f64x2.add, ...set(acc1),
    ...get(acc2), ...get(PP), ...f64x2.add, ...set(acc2),
    ...get(R), ...get(PP), ...f64x2.ne, ...anyTrue,
    op.if, VOID, ...lane(0), ...lane(1), op.end,
  ];
}

/**
 * (func $block (param $p i32) (param $n i32) (param $rest i32) (param $out i32) (result i32))
 * Returns -1 when the block must take the general path (its largest |value| is 0, subnormal,
 * too small for the second sigma, near the overflow threshold or infinite), else the
 * number of residues written at $rest, with the two exact sums of pieces at $out, $out + 8.
 * A NaN (which the maximum skips) makes the first sum NaN: the caller then takes the
 * general path too.
 */
function blockBody(): number[] {
  const laneMax = (v: number) => [...get(v), ...f64x2.lane(0), ...get(v), ...f64x2.lane(1), op.f64Max];
  const laneSum = (a: number, b: number) => [...get(a), ...f64x2.lane(0), ...get(a), ...f64x2.lane(1), op.f64Add, ...get(b), ...f64x2.lane(0), ...get(b), ...f64x2.lane(1), op.f64Add, op.f64Add];
  const sigma = (bias: number) => [...get(E), ...i32c(bias), op.i32Add, op.i64ExtendI32U, ...i64c(52), op.i64Shl, op.f64Reinterpret, ...f64x2.splat];
  return [
    // end2 = p + (n & ~1) * 8
    ...get(P), ...get(N), ...i32c(-2), op.i32And, ...i32c(3), op.i32Shl, op.i32Add, ...set(END2),
    // top = max |x| over pairs, four values a turn in two maxima. pmax (maxpd) skips a NaN,
    // which the sums of pieces then carry to the caller; f64x2.max would keep it but costs
    // several instructions a pair.
    ...v128Zero, ...set(TOP), ...v128Zero, ...set(TOP2), ...get(P), ...set(I),
    op.block, VOID, op.loop, VOID,
    ...get(I), ...i32c(32), op.i32Add, ...get(END2), op.i32LeU, op.i32Eqz, op.brIf, 1,
    ...get(TOP), ...get(I), ...v128Load(), ...f64x2.abs, ...f64x2.pmax, ...set(TOP),
    ...get(TOP2), ...get(I), ...v128Load(16), ...f64x2.abs, ...f64x2.pmax, ...set(TOP2),
    ...get(I), ...i32c(32), op.i32Add, ...set(I), op.br, 0,
    op.end, op.end,
    ...get(I), ...get(END2), op.i32LtU,
    op.if, VOID, ...get(TOP), ...get(I), ...v128Load(), ...f64x2.abs, ...f64x2.pmax, ...set(TOP), op.end,
    ...get(TOP), ...get(TOP2), ...f64x2.pmax, ...set(TOP),
    ...laneMax(TOP), ...set(T),
    // the odd value at the end
    ...get(N), ...i32c(1), op.i32And,
    op.if, VOID, ...get(T), ...get(END2), ...f64Load(), op.f64Abs, op.f64Max, ...set(T), op.end,
    // e = biased exponent of t; the general path unless 151 <= e <= 2033
    ...get(T), op.i64Reinterpret, ...i64c(52), op.i64ShrU, op.i32WrapI64, ...i32c(0x7ff), op.i32And, ...set(E),
    ...get(E), ...i32c(151), op.i32Sub, ...i32c(2033 - 151), op.i32GtU,
    op.if, VOID, ...i32c(-1), op.return, op.end,
    // s1 = 2^(e - 1022 + 12), s2 = s1 * 2^-41
    ...sigma(13), ...set(S1), ...sigma(13 - 41), ...set(S2),
    ...v128Zero, ...set(A1), ...v128Zero, ...set(A2), ...v128Zero, ...set(B1), ...v128Zero, ...set(B2),
    ...i32c(0), ...set(M), ...get(P), ...set(I),
    // four values a turn, in two pairs of sums
    op.block, VOID, op.loop, VOID,
    ...get(I), ...i32c(32), op.i32Add, ...get(END2), op.i32LeU, op.i32Eqz, op.brIf, 1,
    ...extractVector(0, A1, A2), ...extractVector(16, B1, B2),
    ...get(I), ...i32c(32), op.i32Add, ...set(I), op.br, 0,
    op.end, op.end,
    // a last pair
    ...get(I), ...get(END2), op.i32LtU,
    op.if, VOID, ...extractVector(0, A1, A2), op.end,
    ...laneSum(A1, B1), ...set(SUM1), ...laneSum(A2, B2), ...set(SUM2),
    // the odd value at the end, in scalars
    ...get(N), ...i32c(1), op.i32And,
    op.if, VOID,
    ...get(END2), ...f64Load(), ...set(SX),
    ...get(S1), ...f64x2.lane(0), ...get(SX), op.f64Add, ...get(S1), ...f64x2.lane(0), op.f64Sub, ...set(SQ),
    ...get(SX), ...get(SQ), op.f64Sub, ...set(SR),
    ...get(S2), ...f64x2.lane(0), ...get(SR), op.f64Add, ...get(S2), ...f64x2.lane(0), op.f64Sub, ...set(SP),
    ...get(SUM1), ...get(SQ), op.f64Add, ...set(SUM1),
    ...get(SUM2), ...get(SP), op.f64Add, ...set(SUM2),
    ...get(SR), ...get(SP), op.f64Ne,
    op.if, VOID,
    ...get(REST), ...get(M), ...i32c(3), op.i32Shl, op.i32Add, ...get(SR), ...get(SP), op.f64Sub, ...f64Store(),
    ...get(M), ...i32c(1), op.i32Add, ...set(M),
    op.end,
    op.end,
    ...get(OUT), ...get(SUM1), ...f64Store(0),
    ...get(OUT), ...get(SUM2), ...f64Store(8),
    ...get(M),
    op.end,
  ];
}

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** Memory of the module: 160 pages of 64 KiB (10 MiB), never grown (views stay valid). */
export const KERNEL_PAGES = 160;

function moduleBytes(): Uint8Array {
  const locals = [3, 4, I32, 7, F64, 12, V128];
  const body = [...locals, ...blockBody()];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 4, I32, I32, I32, I32, 1, I32]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, ...uleb(KERNEL_PAGES)]),
    ...section(7, [2, ...name('memory'), 2, 0, ...name('block'), 0, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ]);
}

export interface WasmKernel {
  readonly buffer: ArrayBuffer;
  /** see blockBody */
  block(p: number, n: number, rest: number, out: number): number;
  /** residues of the block: FAST_BLOCK values at REST_AT */
  readonly rest: Float64Array;
  /** the two sums of pieces */
  readonly out: Float64Array;
}

const OUT_AT = 0;
const REST_AT = 64;
const REST_VALUES = 1 << 11;
// Value arrays readers borrow: SLOTS of SLOT_BYTES each, after the residues.
const SLOT_BYTES = 2 << 20;
const SLOTS = 4;
const SLOTS_AT = 1 << 16;

// The TypeScript libraries this project compiles against (no DOM) do not declare WebAssembly.
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { memory: { buffer: ArrayBuffer }; block: WasmKernel['block'] } };
}

function instantiate(): WasmKernel | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) return undefined;
  try {
    const bytes = moduleBytes();
    if (!api.validate(bytes)) return undefined;
    const { memory, block } = new api.Instance(new api.Module(bytes)).exports;
    return { buffer: memory.buffer, block, rest: new Float64Array(memory.buffer, REST_AT, REST_VALUES), out: new Float64Array(memory.buffer, OUT_AT, 2) };
  } catch {
    return undefined;
  }
}

const instantiated = instantiate();

/** The kernel, or undefined where WebAssembly SIMD is missing or it is switched off. */
export let wasmKernel: WasmKernel | undefined = instantiated;

/** Switches the WebAssembly path on or off (tests and benchmarks compare it with the JavaScript one). */
export function useWasmKernel(on: boolean): void {
  wasmKernel = on ? instantiated : undefined;
}

const freeSlots: number[] = instantiated ? Array.from({ length: SLOTS }, (_, i) => SLOTS_AT + i * SLOT_BYTES) : [];

/**
 * An array of `length` doubles (not zeroed) in the kernel's memory, where ExactSum.addRange
 * runs in WebAssembly, or undefined when no slot is free or `length` does not fit one.
 * Give it back with giveBackValues when done.
 */
export function takeKernelValues(length: number): Float64Array | undefined {
  if (!instantiated || length * 8 > SLOT_BYTES || freeSlots.length === 0) return undefined;
  return new Float64Array(instantiated.buffer, freeSlots.pop()!, length);
}

/** Returns an array from takeKernelValues (any other array is left to the garbage collector). */
export function giveBackValues(values: Float64Array): void {
  if (instantiated && values.buffer === instantiated.buffer && values.byteOffset >= SLOTS_AT && !freeSlots.includes(values.byteOffset)) freeSlots.push(values.byteOffset);
}

/**
 * Runs `use` with an array of `length` doubles (not zeroed): in the kernel's memory when a
 * slot is free and large enough, else in a buffer of its own. Valid only during `use`.
 */
export async function borrowValues<T>(length: number, use: (values: Float64Array) => Promise<T>): Promise<T> {
  const values = takeKernelValues(length) ?? new Float64Array(length);
  try {
    return await use(values);
  } finally {
    giveBackValues(values);
  }
}
