/**
 * Exact sums of many cells at once (one per atom and axis, one per row of a frame), in
 * about 16 bytes a cell rather than an ExactSum's 600.
 *
 * Every cell c holds two doubles, hi[c] and lo[c], and, rarely, an ExactSum in
 * `exceptions`; the cell's exact sum is always hi + lo + exception, as real numbers.
 * Adding x to a cell is Knuth's TwoSum: s = hi + x rounded, and e = (hi + x) - s
 * computed exactly by five more operations (exact for any finite doubles, subnormals
 * included, when nothing overflows). hi becomes s; a non-zero e goes to lo by a second
 * TwoSum, and only an error of that one goes to the cell's ExactSum. So nothing is ever
 * lost, whatever the input: an infinity, a NaN or an addition that overflows goes to
 * the exception as the value itself, with hi left as it was.
 *
 * What the data allows: a cell's values that fit in 53 bits together (float32
 * coordinates summed over frames, integers, fixed-point data) leave e = 0 and cost one
 * exact addition; float64 values of one cell within about 50 binary orders of magnitude
 * of one another leave e != 0 but lo exact. Only a cell whose exact sum needs more than
 * two doubles' worth of bits has an exception: its memory then grows with the cells that
 * need it (about 600 bytes each), which no realistic trajectory reaches but adversarial
 * float64 data can.
 *
 * value(c) is the exact sum rounded once (ties to even), as math.fsum gives it: hi + lo
 * in one IEEE addition is exactly that, and a cell with an exception rounds through its
 * ExactSum. A slice does not know at which row of a frame it starts, so a state covers
 * the cells its own rows touched, from 0, and grows as rows come (a slice shorter than a
 * frame holds only its rows' cells); mergeRotated() places another state's cells by the
 * rows before it, modulo the frame.
 */
import { ExactSum, type ExactSumJSON } from './exact-sum.ts';
import { cellsArena, wasmKernel } from './exact-sum-wasm.ts';

const wasmArena = cellsArena(0)?.buffer;

/** An ExactCells as it travels: the cells' doubles as little-endian bytes, the exceptions as JSON. */
export interface ExactCellsEncoded {
  /** cells covered, from 0 */
  cells: number;
  /** hi of every cell: `cells` float64 */
  hi: Uint8Array;
  /** lo of every cell (`cells` float64), or of the cells `loAt` lists (uint32 each) */
  lo: Uint8Array;
  loAt?: Uint8Array;
  /** [cell, exact sum] by ascending cell */
  exceptions: [number, ExactSumJSON][];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Arrays of released states, zeroed, for the next state of this thread: a state of a
// million atoms is 24 MB, and the first write to each page of a fresh one is a page fault
// (a slice of a (40, 10^6, 3) array spent a third of its time in them).
// Large arrays live in the WebAssembly kernel's arena (cellsArena), where the `cells`
// function adds a block of values to them two at a time; an arena array is never dropped
// from the spares (the arena does not take it back), ordinary ones beyond SPARE_ARRAYS are.
const spare: Float64Array[] = [];
const SPARE_ARRAYS = 4;
const ARENA_MIN_CELLS = 1 << 10;
const EMPTY = new Float64Array(0);

function zeroed(capacity: number): Float64Array {
  let best = -1;
  for (let i = 0; i < spare.length; i++) if (spare[i]!.length >= capacity && (best < 0 || spare[i]!.length < spare[best]!.length)) best = i;
  if (best >= 0) return spare.splice(best, 1)[0]!;
  return (capacity >= ARENA_MIN_CELLS ? cellsArena(capacity) : undefined) ?? new Float64Array(capacity);
}

const inArena = (a: Float64Array): boolean => wasmArena !== undefined && a.buffer === wasmArena;

function recycle(a: Float64Array, used: number): void {
  if (a.length === 0 || spare.includes(a)) return;
  a.fill(0, 0, used);
  spare.push(a);
  if (spare.length > SPARE_ARRAYS) {
    const drop = spare.findIndex((x) => !inArena(x));
    if (drop >= 0) spare.splice(drop, 1);
  }
}

export class ExactCells {
  hi: Float64Array;
  /** empty until a cell has a rounding error (float32 data often has none) */
  lo: Float64Array = EMPTY;
  /** cells covered, from 0; hi and lo may hold more (capacity), always 0 past `length` */
  length = 0;
  readonly exceptions = new Map<number, ExactSum>();

  constructor(capacity = 0) {
    this.hi = capacity > 0 ? zeroed(capacity) : EMPTY;
  }

  /** This state is no longer used: its arrays may serve the next one of this thread. */
  release(): void {
    recycle(this.hi, this.length);
    recycle(this.lo, this.length);
    this.hi = EMPTY;
    this.lo = EMPTY;
    this.length = 0;
    this.exceptions.clear();
  }

  private loFor(): Float64Array {
    if (this.lo.length < this.hi.length) {
      const lo = zeroed(this.hi.length);
      lo.set(this.lo.subarray(0, this.length));
      recycle(this.lo, this.length);
      this.lo = lo;
    }
    return this.lo;
  }

  /**
   * Covers at least cells [0, n): new cells hold 0. Room grows by doubling, never past
   * `limit` cells, and straight to `limit` once it is an eighth of it: a slice of whole
   * frames of a million atoms grew from a block's 87,000 cells in six copies to fresh arrays.
   */
  cover(n: number, limit = n): void {
    if (n <= this.length) return;
    if (n > this.hi.length) {
      const capacity = Math.max(n, 8 * n >= limit ? limit : Math.min(2 * this.hi.length, limit));
      const hi = zeroed(capacity);
      hi.set(this.hi.subarray(0, this.length));
      recycle(this.hi, this.length);
      this.hi = hi;
      if (this.lo.length > 0) {
        const lo = zeroed(hi.length);
        lo.set(this.lo.subarray(0, this.length));
        recycle(this.lo, this.length);
        this.lo = lo;
      }
    }
    this.length = n;
  }

  /** Adds x to cell c exactly (c must be covered). */
  add(c: number, x: number): void {
    const hi = this.hi;
    const a = hi[c]!;
    const s = a + x;
    const bp = s - a;
    const e = a - (s - bp) + (x - bp);
    hi[c] = e === 0 ? s : this.spill(c, a, x, s, e);
  }

  /**
   * Adds values[from..to) to consecutive cells from `cell`, wrapping at `wrap` (a frame's
   * cells): values[from + i] goes to cell (cell + i) mod wrap. Returns the cell after the last.
   */
  addCyclic(values: Float64Array, from: number, to: number, cell: number, wrap: number): number {
    this.cover(Math.min(wrap, cell + (to - from)), wrap);
    const hi = this.hi;
    const wasm = wasmKernel;
    if (wasm !== undefined && values.buffer === wasm.buffer && hi.buffer === wasm.buffer) return this.addCyclicWasm(values, from, to, cell, wrap);
    let c = cell;
    // In runs that end at the frame's end or at `to`: no wrap test per value.
    for (let i = from; i < to; ) {
      const end = Math.min(to, i + (wrap - c));
      // one index: cell i + off for values[i]
      const off = c - i;
      for (; i < end; i++) {
        const x = values[i]!;
        const a = hi[i + off]!;
        const s = a + x;
        const bp = s - a;
        const e = a - (s - bp) + (x - bp);
        if (e === 0) hi[i + off] = s;
        else hi[i + off] = this.spill(i + off, a, x, s, e);
      }
      c = end + off;
      if (c === wrap) c = 0;
    }
    return c;
  }

  /**
   * addCyclic through the kernel's `cells` (values and cells both in its memory): runs of
   * consecutive cells two values an instruction, and a value whose addition rounds (or is
   * not finite) through add(), so every cell ends as addCyclic's JavaScript loop leaves it.
   */
  private addCyclicWasm(values: Float64Array, from: number, to: number, cell: number, wrap: number): number {
    const kernel = wasmKernel!;
    let c = cell;
    for (let i = from; i < to; ) {
      const end = Math.min(to, i + (wrap - c));
      this.addRun(kernel, values, i, end, c);
      c += end - i;
      i = end;
      if (c === wrap) c = 0;
    }
    return c;
  }

  /** values[from..to) to cells c, c + 1, ... through the kernel. */
  private addRun(kernel: NonNullable<typeof wasmKernel>, values: Float64Array, from: number, to: number, c: number): void {
    const hiAt = this.hi.byteOffset + 8 * (c - from);
    for (let i = from; i < to; ) {
      i += kernel.cells(values.byteOffset + 8 * i, to - i, hiAt + 8 * i, 0, 0);
      if (i < to) {
        this.add(c + (i - from), values[i]!);
        i++;
      }
    }
  }

  /**
   * Adds each of `rows` rows of `columns` values (values[from..]) to one cell, from
   * `cell` on, wrapping at `wrap`. Returns the cell after the last.
   */
  addRowSums(values: Float64Array, from: number, rows: number, columns: number, cell: number, wrap: number): number {
    this.cover(Math.min(wrap, cell + rows), wrap);
    const hi = this.hi;
    let c = cell;
    for (let r = 0, i = from; r < rows; r++) {
      let h = hi[c]!;
      for (const end = i + columns; i < end; i++) {
        const x = values[i]!;
        const s = h + x;
        const bp = s - h;
        const e = h - (s - bp) + (x - bp);
        h = e === 0 ? s : this.spill(c, h, x, s, e);
      }
      hi[c] = h;
      if (++c === wrap) c = 0;
    }
    return c;
  }

  /**
   * Adds every cell k of `other` to cell (k + shift) mod wrap of this one: the cells of a
   * slice that starts `shift` cells into a frame of `wrap` cells.
   */
  mergeRotated(other: ExactCells, shift: number, wrap: number): void {
    const n = other.length;
    if (n === 0) return;
    // Into an empty state (the first partial of a fold): the other's cells, as they are.
    if (this.length === 0 && this.exceptions.size === 0 && shift % wrap === 0 && n <= wrap) {
      this.adopt(other);
      return;
    }
    this.cover(Math.min(wrap, shift + n), wrap);
    const wasm = wasmKernel;
    if (wasm !== undefined && other.lo.length === 0 && other.hi.buffer === wasm.buffer && this.hi.buffer === wasm.buffer) {
      // The other's hi through the kernel, in runs of consecutive cells.
      const c0 = shift % wrap;
      const first = Math.min(n, wrap - c0);
      this.addRun(wasm, other.hi, 0, first, c0);
      for (let k = first; k < n; k += wrap) this.addRun(wasm, other.hi, k, Math.min(n, k + wrap), 0);
      for (const [k, sum] of other.exceptions) this.exception((k + shift) % wrap).merge(sum);
      return;
    }
    const ohi = other.hi;
    const olo = other.lo;
    const hi = this.hi;
    let c = shift % wrap;
    for (let k = 0; k < n; k++) {
      const x = ohi[k]!;
      const a = hi[c]!;
      const s = a + x;
      const bp = s - a;
      const e = a - (s - bp) + (x - bp);
      hi[c] = e === 0 ? s : this.spill(c, a, x, s, e);
      if (k < olo.length && olo[k] !== 0) this.add(c, olo[k]!);
      if (++c === wrap) c = 0;
    }
    for (const [k, sum] of other.exceptions) this.exception((k + shift) % wrap).merge(sum);
  }

  /** Takes the other's cells (this one is empty); the other is left empty. */
  private adopt(other: ExactCells): void {
    const { hi, lo } = this;
    this.hi = other.hi;
    this.lo = other.lo;
    this.length = other.length;
    for (const [k, sum] of other.exceptions) this.exceptions.set(k, sum);
    other.hi = hi;
    other.lo = lo;
    other.length = 0;
    other.exceptions.clear();
  }

  /** The exact sum of cell c rounded to the nearest double, ties to even (math.fsum's). */
  value(c: number): number {
    const lo = c < this.lo.length ? this.lo[c]! : 0;
    // (a Map lookup per cell is most of the time of a million cells' values)
    const x = this.exceptions.size > 0 ? this.exceptions.get(c) : undefined;
    if (!x) return this.hi[c]! + lo;
    const sum = x.clone();
    sum.add(this.hi[c]!);
    sum.add(lo);
    return sum.value();
  }

  /**
   * out[c] = value(c) / divisor for every cell of `out` (0 / divisor past the cells covered):
   * the sums rounded once, then divided, as value() gives them, without a call per cell.
   */
  valuesInto(out: Float64Array, divisor = 1): Float64Array {
    const n = Math.min(out.length, this.length);
    const hi = this.hi;
    if (this.lo.length === 0 && this.exceptions.size === 0) for (let c = 0; c < n; c++) out[c] = hi[c]! / divisor;
    else if (this.exceptions.size === 0) {
      const lo = this.lo;
      for (let c = 0; c < n; c++) out[c] = (hi[c]! + lo[c]!) / divisor;
    } else for (let c = 0; c < n; c++) out[c] = this.value(c) / divisor;
    out.fill(0 / divisor, n);
    return out;
  }

  /**
   * Puts every cell in the one form its exact sum V has, whatever the order of additions
   * that led to it: hi = V rounded and lo = V - hi when that is a double, with no
   * exception; otherwise hi = lo = 0 and V in the exception. Two states of equal sums
   * then encode to equal bytes, however their rows were sliced and merged.
   */
  normalize(): void {
    if (this.lo.length === 0 && this.exceptions.size === 0) return;
    const hi = this.hi;
    const lo = this.loFor();
    for (let c = 0, n = this.length; c < n; c++) {
      const l = lo[c]!;
      if (l === 0 || this.exceptions.has(c)) continue;
      const a = hi[c]!;
      const s = a + l;
      const bp = s - a;
      const e = a - (s - bp) + (l - bp);
      if (s - s === 0 && e - e === 0) {
        hi[c] = s;
        lo[c] = e + 0;
      } else {
        // V rounds to an infinity: it is kept exactly, as an exception.
        this.exception(c);
      }
    }
    for (const [c, x] of this.exceptions) {
      const total = x.clone();
      total.add(hi[c]!);
      total.add(lo[c]!);
      hi[c] = 0;
      lo[c] = 0;
      this.exceptions.set(c, total);
      if (!total.isFinite()) continue;
      const v = total.value();
      if (v - v !== 0) continue;
      const rest = total.clone();
      rest.add(-v);
      const r = rest.value();
      rest.add(-r);
      if (rest.isZero()) {
        hi[c] = v;
        lo[c] = r + 0;
        this.exceptions.delete(c);
      }
    }
  }

  /** Deterministic: equal exact sums give equal bytes (see normalize). */
  encode(): ExactCellsEncoded {
    this.normalize();
    const n = this.length;
    const lo = this.lo.length > 0 ? this.lo.subarray(0, n) : new Float64Array(0);
    let nonZero = 0;
    for (let k = 0; k < lo.length; k++) if (lo[k] !== 0) nonZero++;
    let loBytes: Uint8Array;
    let loAt: Uint8Array | undefined;
    // Sparse when that is smaller: 12 bytes a non-zero cell against 8 bytes a cell.
    if (nonZero * 3 < n * 2) {
      const at = new Uint32Array(nonZero);
      const v = new Float64Array(nonZero);
      for (let k = 0, j = 0; k < lo.length; k++) {
        if (lo[k] !== 0) {
          at[j] = k;
          v[j++] = lo[k]!;
        }
      }
      loBytes = littleEndianBytes(v);
      loAt = littleEndianBytes(at);
    } else loBytes = littleEndianBytes(lo.slice());
    const exceptions: [number, ExactSumJSON][] = [...this.exceptions.keys()].sort((a, b) => a - b).map((k) => [k, this.exceptions.get(k)!.toJSON()]);
    // Copies: the state's arrays may serve another state once this one is released.
    return { cells: n, hi: littleEndianBytes(this.hi.slice(0, n)), lo: loBytes, ...(loAt ? { loAt } : {}), exceptions };
  }

  static decode(json: ExactCellsEncoded, maxCells: number): ExactCells {
    const bad = (why: string): never => {
      throw new TypeError(`not an exact-cells state: ${why}`);
    };
    if (!json || typeof json !== 'object') bad('not an object');
    const n = json.cells;
    if (!Number.isSafeInteger(n) || n < 0 || n > maxCells) bad(`cells must be an integer from 0 to ${maxCells}`);
    if (!(json.hi instanceof Uint8Array) || json.hi.length !== 8 * n) bad('hi must be 8 bytes a cell');
    if (!(json.lo instanceof Uint8Array) || json.lo.length % 8 !== 0) bad('lo must be float64 bytes');
    if (!Array.isArray(json.exceptions)) bad('exceptions must be a list');
    const s = new ExactCells(n);
    s.length = n;
    readFloat64(json.hi, s.hi);
    if (json.loAt === undefined) {
      if (json.lo.length !== 8 * n) bad('a dense lo must be 8 bytes a cell');
      readFloat64(json.lo, s.loFor());
    } else if (json.lo.length > 0) {
      const count = json.lo.length / 8;
      const lo = s.loFor();
      if (!(json.loAt instanceof Uint8Array) || json.loAt.length !== 4 * count) bad('loAt must be 4 bytes a value of lo');
      const v = readFloat64(json.lo, new Float64Array(count));
      const view = new DataView(json.loAt.buffer, json.loAt.byteOffset, json.loAt.byteLength);
      for (let j = 0; j < count; j++) {
        const k = view.getUint32(4 * j, true);
        if (k >= n) bad(`lo of cell ${k}, past ${n} cells`);
        lo[k] = v[j]!;
      }
    }
    for (const entry of json.exceptions) {
      if (!Array.isArray(entry) || !Number.isInteger(entry[0]) || entry[0] < 0 || entry[0] >= n) bad('an exception must be [cell, exact sum] of a covered cell');
      s.exceptions.set(entry[0], ExactSum.fromJSON(entry[1]));
    }
    return s;
  }

  private exception(c: number): ExactSum {
    let x = this.exceptions.get(c);
    if (!x) {
      x = new ExactSum();
      this.exceptions.set(c, x);
    }
    return x;
  }

  /**
   * The slow path of an addition a + x = s with a non-zero error e: returns the cell's new
   * hi. Out of the hot loops so that they stay small.
   */
  private spill(c: number, a: number, x: number, s: number, e: number): number {
    if (s - s !== 0 || e - e !== 0) {
      // x is NaN or infinite, or a + x overflowed: the exception takes x itself.
      this.exception(c).add(x);
      return a;
    }
    const lo = this.loFor();
    const l = lo[c]!;
    const t = l + e;
    const bp = t - l;
    const e2 = l - (t - bp) + (e - bp);
    if (t - t !== 0 || e2 - e2 !== 0) this.exception(c).add(e);
    else {
      lo[c] = t;
      if (e2 !== 0) this.exception(c).add(e2);
    }
    return s;
  }
}

/** The bytes of a typed array, little-endian (a view when the host is, a copy otherwise). */
function littleEndianBytes(a: Float64Array | Uint32Array): Uint8Array {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.length);
  const size = a.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += size) for (let b = 0; b < size; b++) out[i + b] = bytes[i + size - 1 - b]!;
  return out;
}

/** Little-endian float64 bytes into `out` (which has room for them); returns out. */
function readFloat64(bytes: Uint8Array, out: Float64Array): Float64Array {
  if (LITTLE_ENDIAN) {
    // A copy, aligned: `bytes` may be a view at any offset of a document's buffer.
    new Uint8Array(out.buffer, out.byteOffset, bytes.length).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let j = 0; j < bytes.length / 8; j++) out[j] = view.getFloat64(8 * j, true);
  return out;
}
