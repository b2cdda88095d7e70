/**
 * ExactSum.addRange's fast path in WebAssembly with 128-bit SIMD: the same split as the
 * JavaScript one (see addFastBlock in exact-sum.ts, which stays the reference), two values
 * an instruction; and the same per row for row-sums (`rows`). It runs on values that
 * already live in its memory: readers borrow their value arrays from it (borrowValues,
 * takeKernelValues), so nothing is copied in; any other array takes the JavaScript path.
 * The module (2.6 KB) is assembled here from its instructions, so there is no build step
 * and no binary in the repository; each function's signature and steps are in its
 * comment. Where WebAssembly or its SIMD is missing, `wasmKernel` is undefined.
 */

// --- a few instructions of the binary format -------------------------------------------
const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
const VOID = 0x40;

/** Unsigned LEB128 of a non-negative int32 (the binary format's integers). */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an int32. */
export function sleb(n: number): number[] {
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

/**
 * Code as the helpers below build it: bytes, and arrays of code, flattened once per
 * function body (flat). Nested rather than spread into each caller's array: the spreads
 * made assembling the module take 3 ms at every start of a process or worker thread.
 */
type Code = number | readonly Code[];
const flat = (code: readonly Code[]): number[] => (code as unknown[]).flat(Infinity) as number[];

const get = (l: number) => [0x20, uleb(l)];
const set = (l: number) => [0x21, uleb(l)];
const i32c = (v: number) => [0x41, sleb(v)];
const i64c = (v: number) => [0x42, sleb(v)];
const simd = (op: number, ...imm: Code[]) => [0xfd, uleb(op), imm];
const mem = (align: number, offset = 0) => [uleb(align), uleb(offset)];
const v128Load = (offset = 0) => simd(0x00, mem(4, offset));
const f64Load = (offset = 0) => [0x2b, mem(3, offset)];
const f64Store = (offset = 0) => [0x39, mem(3, offset)];
const f64x2 = { splat: simd(0x14), lane: (i: number) => simd(0x21, i), ne: simd(0x48), abs: simd(0xec), add: simd(0xf0), sub: simd(0xf1), max: simd(0xf5), pmax: simd(0xf7) };
const anyTrue = simd(0x53);
const v128Zero = simd(0x0c, new Array<number>(16).fill(0));
const f64c0 = [0x44, 0, 0, 0, 0, 0, 0, 0, 0];
const op = {
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Shl: 0x74, i32LtU: 0x49, i32LeU: 0x4d, i32Ne: 0x47, i32Eqz: 0x45, i32GtU: 0x4b, i32WrapI64: 0xa7,
  i64ShrU: 0x88, i32Load: 0x28, i32Store: 0x36, i64Shl: 0x86, i64And: 0x83, i64ExtendI32U: 0xad, i64Reinterpret: 0xbd, f64Reinterpret: 0xbf,
  f64Abs: 0x99, f64ConvertI32U: 0xb8, f64Add: 0xa0, f64Sub: 0xa1, f64Max: 0xa5, f64Ne: 0x62,
  block: 0x02, loop: 0x03, if: 0x04, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f,
};

// Parameters and locals of `block` and `rows` (one layout for both).
const P = 0; // i32: byte address of the first value
const N = 1; // i32: number of values (at most 2^11)
const REST = 2; // i32: byte address where residues go
const OUT = 3; // i32: byte address of the results (f64)
const COLS = 4; // i32: values a row (rows only)
const I = 5; // i32
const END2 = 6; // i32: address past the last pair of values
const M = 7; // i32: residues written
const E = 8; // i32: biased exponent of the largest |value|
const T = 9; // f64
const SX = 10; // f64 (the odd value at the end)
const SQ = 11;
const SR = 12;
const SP = 13;
const SUM1 = 14;
const SUM2 = 15;
const TOP = 16; // v128
const S1 = 17;
const S2 = 18;
const X = 19;
const Q = 20;
const R = 21;
const PP = 22;
const A1 = 23;
const A2 = 24;
const B1 = 25;
const B2 = 26;
const TOP2 = 27;
const ROW = 28; // i32 (rows only): the row in the block
const ROWSTART = 29; // i32: address of the row's first value
const ROWEND2 = 30; // i32: address past the row's last pair
const GUESSED = 31; // i32: the sigmas came from the exponent left at GUESS_AT by the last call
const LOCALS = [4, 4, I32, 7, F64, 12, V128, 4, I32];
/** Byte address of an i32: the biased exponent of the last call's largest |value| (0: none). */
const GUESS_AT = (1 << 15) - 8;

/**
 * rest[m++] = the value `value` computes; per row, rest holds pairs (residue, row in the block).
 */
function storeResidue(perRow: boolean, value: Code): Code {
  return [
    get(REST), get(M), i32c(perRow ? 4 : 3), op.i32Shl, op.i32Add, value, f64Store(),
    perRow ? [get(REST), get(M), i32c(4), op.i32Shl, op.i32Add, get(ROW), op.f64ConvertI32U, f64Store(8)] : [],
    get(M), i32c(1), op.i32Add, set(M),
  ];
}

/**
 * One vector of two values at I + offset:
 *   q = (s1 + x) - s1; r = x - q; p = (s2 + r) - s2; acc1 += q; acc2 += p
 *   if any lane has r != p: rest[m++] = r - p for that lane
 */
function extractVector(offset: number, acc1: number, acc2: number, perRow: boolean): Code {
  const lane = (k: number) => [
    get(R), f64x2.lane(k), get(PP), f64x2.lane(k), op.f64Ne,
    op.if, VOID,
    storeResidue(perRow, [get(R), f64x2.lane(k), get(PP), f64x2.lane(k), op.f64Sub]),
    op.end,
  ];
  return [
    get(I), v128Load(offset), set(X),
    get(TOP), get(X), f64x2.abs, f64x2.pmax, set(TOP),
    get(S1), get(X), f64x2.add, get(S1), f64x2.sub, set(Q),
    get(X), get(Q), f64x2.sub, set(R),
    get(S2), get(R), f64x2.add, get(S2), f64x2.sub, set(PP),
    get(acc1), get(Q), f64x2.add, set(acc1),
    get(acc2), get(PP), f64x2.add, set(acc2),
    get(R), get(PP), f64x2.ne, anyTrue,
    op.if, VOID, lane(0), lane(1), op.end,
  ];
}

const laneMax = (v: number) => [get(v), f64x2.lane(0), get(v), f64x2.lane(1), op.f64Max];
const laneSum = (a: number, b: number) => [get(a), f64x2.lane(0), get(a), f64x2.lane(1), op.f64Add, get(b), f64x2.lane(0), get(b), f64x2.lane(1), op.f64Add, op.f64Add];
const sigma = (bias: number) => [get(E), i32c(bias), op.i32Add, op.i64ExtendI32U, i64c(52), op.i64Shl, op.f64Reinterpret, f64x2.splat];

/**
 * The largest |value| of the N values at P, and from it the sigmas S1 and S2; returns -1
 * from the function when the values must take the general path (the largest is 0,
 * subnormal, too small for the second sigma, near the overflow threshold or infinite).
 */
function prologue(): Code {
  return [
    // end2 = p + (n & ~1) * 8
    get(P), get(N), i32c(-2), op.i32And, i32c(3), op.i32Shl, op.i32Add, set(END2),
    // The last call's exponent plus one, when in range, gives the sigmas without a pass for
    // the maximum (any sigma at least 2^12 times the largest value splits exactly; a larger
    // one only covers one bit less): the extraction then tracks the maximum itself, and the
    // call is redone when a value was larger (see checkGuess).
    i32c(GUESS_AT), op.i32Load, mem(2), set(E),
    get(E), i32c(151), op.i32Sub, i32c(2033 - 151), op.i32LeU, set(GUESSED),
    get(GUESSED), op.i32Eqz,
    op.if, VOID,
    // top = max |x| over pairs, four values a turn in two maxima. pmax (maxpd) skips a NaN,
    // which the sums of pieces then carry to the caller; f64x2.max would keep it but costs
    // several instructions a pair.
    v128Zero, set(TOP), v128Zero, set(TOP2), get(P), set(I),
    op.block, VOID, op.loop, VOID,
    get(I), i32c(32), op.i32Add, get(END2), op.i32LeU, op.i32Eqz, op.brIf, 1,
    get(TOP), get(I), v128Load(), f64x2.abs, f64x2.pmax, set(TOP),
    get(TOP2), get(I), v128Load(16), f64x2.abs, f64x2.pmax, set(TOP2),
    get(I), i32c(32), op.i32Add, set(I), op.br, 0,
    op.end, op.end,
    get(I), get(END2), op.i32LtU,
    op.if, VOID, get(TOP), get(I), v128Load(), f64x2.abs, f64x2.pmax, set(TOP), op.end,
    get(TOP), get(TOP2), f64x2.pmax, set(TOP),
    laneMax(TOP), set(T),
    // the odd value at the end
    get(N), i32c(1), op.i32And,
    op.if, VOID, get(T), get(END2), f64Load(), op.f64Abs, op.f64Max, set(T), op.end,
    // e = biased exponent of t; the general path unless 151 <= e <= 2033
    get(T), op.i64Reinterpret, i64c(52), op.i64ShrU, op.i32WrapI64, i32c(0x7ff), op.i32And, set(E),
    i32c(GUESS_AT), get(E), op.i32Store, mem(2),
    get(E), i32c(151), op.i32Sub, i32c(2033 - 151), op.i32GtU,
    op.if, VOID, i32c(-1), op.return, op.end,
    op.end,
    // s1 = 2^(e - 1022 + 12), s2 = s1 * 2^-41
    sigma(13), set(S1), sigma(13 - 41), set(S2),
    i32c(0), set(M), v128Zero, set(TOP), f64c0, set(T),
  ];
}

/**
 * After the extraction: the largest |value| seen (TOP, T) gives the next call's guess. When
 * the sigmas were guessed and a value was larger than the guess allows, returns -3: the
 * caller calls again, and that call takes its sigmas from this block's own maximum.
 */
function checkGuess(): Code {
  return [
    laneMax(TOP), get(T), op.f64Max, op.i64Reinterpret, i64c(52), op.i64ShrU, op.i32WrapI64, i32c(0x7ff), op.i32And, set(I),
    // One binade of headroom: the largest of 2^11 normal samples moves from block to block.
    i32c(GUESS_AT), get(I), i32c(1), op.i32Add, op.i32Store, mem(2),
    get(GUESSED), get(I), get(E), op.i32GtU, op.i32And,
    op.if, VOID, i32c(-3), op.return, op.end,
  ];
}

/**
 * SUM1, SUM2 = the sums of the two levels of pieces of the values from address `from`
 * (a local) to `end2` (a local: past the last pair), and the one at end2 when `odd` (code
 * leaving an i32) is not 0. Residues go to rest.
 */
function sumSpan(from: number, end2: number, odd: Code, perRow: boolean): Code {
  return [
    v128Zero, set(A1), v128Zero, set(A2), v128Zero, set(B1), v128Zero, set(B2),
    get(from), set(I),
    // four values a turn, in two pairs of sums
    op.block, VOID, op.loop, VOID,
    get(I), i32c(32), op.i32Add, get(end2), op.i32LeU, op.i32Eqz, op.brIf, 1,
    extractVector(0, A1, A2, perRow), extractVector(16, B1, B2, perRow),
    get(I), i32c(32), op.i32Add, set(I), op.br, 0,
    op.end, op.end,
    // a last pair
    get(I), get(end2), op.i32LtU,
    op.if, VOID, extractVector(0, A1, A2, perRow), op.end,
    laneSum(A1, B1), set(SUM1), laneSum(A2, B2), set(SUM2),
    // the odd value at the end, in scalars
    odd,
    op.if, VOID,
    get(end2), f64Load(), set(SX),
    get(T), get(SX), op.f64Abs, op.f64Max, set(T),
    get(S1), f64x2.lane(0), get(SX), op.f64Add, get(S1), f64x2.lane(0), op.f64Sub, set(SQ),
    get(SX), get(SQ), op.f64Sub, set(SR),
    get(S2), f64x2.lane(0), get(SR), op.f64Add, get(S2), f64x2.lane(0), op.f64Sub, set(SP),
    get(SUM1), get(SQ), op.f64Add, set(SUM1),
    get(SUM2), get(SP), op.f64Add, set(SUM2),
    get(SR), get(SP), op.f64Ne,
    op.if, VOID, storeResidue(perRow, [get(SR), get(SP), op.f64Sub]), op.end,
    op.end,
  ];
}

/**
 * (func $block (param $p i32) (param $n i32) (param $rest i32) (param $out i32) (param i32) (result i32))
 * Returns -1 when the block must take the general path (see prologue), -3 when the sigmas
 * guessed from the last call were too small for one of its values (call again: the next
 * call takes this block's own), else the number of residues written at $rest, with the
 * two exact sums of pieces at $out, $out + 8. A NaN
 * (which the maximum skips) makes the first sum NaN: the caller then takes the general
 * path too.
 */
function blockBody(): number[] {
  return flat([
    prologue(),
    sumSpan(P, END2, [get(N), i32c(1), op.i32And], false),
    checkGuess(),
    get(OUT), get(SUM1), f64Store(0),
    get(OUT), get(SUM2), f64Store(8),
    get(M),
    op.end,
  ]);
}

/**
 * (func $rows (param $p i32) (param $n i32) (param $rest i32) (param $out i32) (param $columns i32) (result i32))
 * The same for the n / columns rows of `columns` values at $p, with sigmas from the
 * largest value of all of them: the two sums of pieces of row r at $out + 16 r, and
 * residues as pairs (residue, r).
 */
function rowsBody(): number[] {
  return flat([
    prologue(),
    i32c(0), set(ROW), get(P), set(ROWSTART),
    op.block, VOID, op.loop, VOID,
    // while rowStart < p + 8 n
    get(ROWSTART), get(P), get(N), i32c(3), op.i32Shl, op.i32Add, op.i32LtU, op.i32Eqz, op.brIf, 1,
    get(ROWSTART), get(COLS), i32c(-2), op.i32And, i32c(3), op.i32Shl, op.i32Add, set(ROWEND2),
    sumSpan(ROWSTART, ROWEND2, [get(COLS), i32c(1), op.i32And], true),
    get(OUT), get(ROW), i32c(4), op.i32Shl, op.i32Add, get(SUM1), f64Store(0),
    get(OUT), get(ROW), i32c(4), op.i32Shl, op.i32Add, get(SUM2), f64Store(8),
    get(ROWSTART), get(COLS), i32c(3), op.i32Shl, op.i32Add, set(ROWSTART),
    get(ROW), i32c(1), op.i32Add, set(ROW),
    op.br, 0,
    op.end, op.end,
    checkGuess(),
    get(M),
    op.end,
  ]);
}

const v128Store = (offset = 0) => simd(0x0b, mem(4, offset));

/**
 * (func $cells (param $p i32) (param $n i32) (param $acc i32) (param i32) (param i32) (result i32))
 * ExactCells' addition of n values to n cells, two an instruction: for each value x at $p
 * and cell a at $acc (f64 each), s = a + x and its error e = (a - (s - (s - a))) + (x - (s - a))
 * (Knuth's TwoSum, exact for finite doubles); the cell becomes s where e is 0, as in
 * ExactCells.add. At the first pair where a lane's e is not 0 (a rounding error, a NaN, an
 * infinity, an overflow), it stops before storing that pair and returns the index of its
 * first value, for the caller to add those values through ExactCells' general path;
 * otherwise returns n. So every cell ends bit for bit as ExactCells.add leaves it.
 */
function cellsBody(): number[] {
  const twoSum = (x: Code, a: Code): Code => [
    // A1 = a, X = x, S1 = s = a + x, Q = bp = s - a, R = e = (a - (s - bp)) + (x - bp)
    a, set(A1), x, set(X),
    get(A1), get(X), f64x2.add, set(S1),
    get(S1), get(A1), f64x2.sub, set(Q),
    get(A1), get(S1), get(Q), f64x2.sub, f64x2.sub, get(X), get(Q), f64x2.sub, f64x2.add, set(R),
  ];
  return flat([
    // end2 = (n & ~1) * 8, i = 0 (byte offsets)
    get(N), i32c(-2), op.i32And, i32c(3), op.i32Shl, set(END2),
    i32c(0), set(I),
    op.block, VOID, op.loop, VOID,
    get(I), get(END2), op.i32LtU, op.i32Eqz, op.brIf, 1,
    twoSum([get(P), get(I), op.i32Add, v128Load()], [get(REST), get(I), op.i32Add, v128Load()]),
    get(R), v128Zero, f64x2.ne, anyTrue,
    op.if, VOID, get(I), i32c(3), 0x76, op.return, op.end,
    get(REST), get(I), op.i32Add, get(S1), v128Store(),
    get(I), i32c(16), op.i32Add, set(I),
    op.br, 0,
    op.end, op.end,
    // the odd value at the end, in scalars
    get(N), i32c(1), op.i32And,
    op.if, VOID,
    get(REST), get(I), op.i32Add, f64Load(), set(SQ),
    get(P), get(I), op.i32Add, f64Load(), set(SX),
    get(SQ), get(SX), op.f64Add, set(SR),
    get(SR), get(SQ), op.f64Sub, set(SP),
    get(SQ), get(SR), get(SP), op.f64Sub, op.f64Sub, get(SX), get(SP), op.f64Sub, op.f64Add, f64c0, op.f64Ne,
    op.if, VOID, get(I), i32c(3), 0x76, op.return, op.end,
    get(REST), get(I), op.i32Add, get(SR), f64Store(),
    op.end,
    get(N),
    op.end,
  ]);
}

const section = (id: number, body: Code[]): Code[] => {
  const bytes = flat(body);
  return [id, uleb(bytes.length), bytes];
};
const name = (s: string): Code[] => [uleb(s.length), Array.from(s, (c) => c.charCodeAt(0))];

/**
/**
 * Memory of the module, never grown (views stay valid): 160 pages of 64 KiB (10 MiB) for
 * results, residues, borrowed values and kept arrays; then PARSER_BYTES (65 pages) for the
 * text parser (lib/core/text/wasm-records.ts, which imports this memory): its tables and the
 * bytes it parses (a 4 MiB read); then the arena of ExactCells' large arrays (cellsArena):
 * 3871 pages (242 MiB) of address space, of which the pages never written cost no memory.
 */
const SCRATCH_PAGES = 160;
export const KERNEL_PAGES = 4096;
export const PARSER_BYTES = (4 << 20) + (64 << 10);
const PARSER_AT = SCRATCH_PAGES * 65536;
const ARENA_AT = PARSER_AT + PARSER_BYTES;

function moduleBytes(): Uint8Array {
  const body = (code: number[]): Code[] => {
    const b = flat([LOCALS, code]);
    return [uleb(b.length), b];
  };
  return Uint8Array.from(flat([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 5, I32, I32, I32, I32, I32, 1, I32]),
    ...section(3, [3, 0, 0, 0]),
    ...section(5, [1, 0x00, ...uleb(KERNEL_PAGES)]),
    ...section(7, [4, ...name('memory'), 2, 0, ...name('block'), 0, 0, ...name('rows'), 0, 1, ...name('cells'), 0, 2]),
    ...section(10, [3, ...body(blockBody()), ...body(rowsBody()), ...body(cellsBody())]),
  ]));
}

export interface WasmKernel {
  readonly buffer: ArrayBuffer;
  /** see blockBody: at most 2^11 values */
  block(p: number, n: number, rest: number, out: number, unused: 0): number;
  /** see rowsBody: at most 2^11 values in whole rows */
  rows(p: number, n: number, rest: number, out: number, columns: number): number;
  /** see cellsBody: adds n values at byte address p to n cells at byte address acc; returns where it stopped */
  cells(p: number, n: number, acc: number, unused: 0, unused2: 0): number;
  /** residues: up to 2^11 values (block), or 2^11 pairs (rows) */
  readonly rest: Float64Array;
  /** the sums of pieces: two (block), or two a row */
  readonly out: Float64Array;
}

// The kernel's memory: results, residues, then the value arrays readers borrow (SLOTS of SLOT_BYTES).
const OUT_AT = 0;
const REST_AT = 1 << 15;
const SLOTS_AT = 1 << 16;
const SLOT_BYTES = 2 << 20;
const SLOTS = 4;

// The TypeScript libraries this project compiles against (no DOM) do not declare WebAssembly.
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports?: object) => { exports: Record<string, unknown> };
}

/** The kernel's memory (a WebAssembly.Memory, for modules that import it), where its region for the text parser starts, or undefined. */
export let kernelMemory: { memory: object; buffer: ArrayBuffer; parserAt: number } | undefined;

function instantiate(): WasmKernel | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) return undefined;
  try {
    const bytes = moduleBytes();
    if (!api.validate(bytes)) return undefined;
    const { memory, block, rows, cells } = new api.Instance(new api.Module(bytes)).exports as {
      memory: { buffer: ArrayBuffer };
      block: WasmKernel['block'];
      rows: WasmKernel['rows'];
      cells: WasmKernel['cells'];
    };
    const buffer = memory.buffer;
    kernelMemory = { memory, buffer, parserAt: PARSER_AT };
    return { buffer, block, rows, cells, rest: new Float64Array(buffer, REST_AT, 4096), out: new Float64Array(buffer, OUT_AT, 4096) };
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

// Arrays kept for the life of the thread (a module's scratch), after the slots.
let keptAt = SLOTS_AT + SLOTS * SLOT_BYTES;

/**
 * An array of `length` doubles for the life of the thread (module scratch), in the
 * kernel's memory while there is room, so that ExactSum.addRange over it runs in WebAssembly.
 */
export function keptKernelValues(length: number): Float64Array {
  if (!instantiated || keptAt + length * 8 > SCRATCH_PAGES * 65536) return new Float64Array(length);
  const values = new Float64Array(instantiated.buffer, keptAt, length);
  keptAt += length * 8;
  return values;
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

// The arena: the rest of the memory, handed out from its start and never given back (an
// ExactCells keeps the arrays it releases for its next states: see exact-cells.ts).
let arenaAt = ARENA_AT;

/**
 * A zeroed array of `length` doubles in the kernel's memory, for ExactCells' cells, so
 * that additions to them run in WebAssembly (the `cells` function); undefined when the
 * arena has no room left or there is no kernel. Never given back: the caller reuses it.
 */
export function cellsArena(length: number): Float64Array | undefined {
  if (!instantiated || arenaAt + length * 8 > KERNEL_PAGES * 65536) return undefined;
  const values = new Float64Array(instantiated.buffer, arenaAt, length);
  arenaAt += length * 8;
  return values;
}
