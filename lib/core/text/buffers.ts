/**
 * What the text reader reads and writes into: the read-ahead policy (how far past its
 * end a slice asks its source for bytes) and the block its rows are decoded into, pooled.
 */
import type { ByteSource, RowSink } from '../source.ts';
import { giveBackValues, takeKernelValues } from '../exact-sum-wasm.ts';

/** End of input: it ends the last line as a newline would. */
export const FINAL_NEWLINE = new Uint8Array([10]);

// The first read past a slice's end: an eighth of the slice, within these bounds.
const MIN_PROBE_BYTES = 4 * 1024;
const MAX_PROBE_BYTES = 64 * 1024;
// Each further read past the end is this many times longer than the one before.
const PROBE_GROWTH = 8;

const probeBytes = (from: number, end: number): number => Math.min(MAX_PROBE_BYTES, Math.max(MIN_PROBE_BYTES, Math.floor((end - from) / 8)));

/**
 * Where a text slice's first read ends (`fanout plan` counts its requests by it): the
 * slice and a probe past its end, at least a few bytes, so that a byte order mark arrives whole.
 */
export function firstReadEnd(from: number, end: number, size: number): number {
  return Math.min(size, Math.max(end, from + 16) + probeBytes(from, end));
}

/**
 * The bytes from `from` to the end of the source, asked for in spans: the slice plus a
 * probe past its end (where its last record nearly always ends), then spans that grow
 * geometrically. A source sizes its reads to the span, so a small slice costs a small
 * read (a 20 KB slice reads 24 KB, not 84), a ranged source (S3) makes one request per
 * slice in the common case and a few for a record megabytes long, and the reader still
 * follows a record of any length. The end of the source comes as FINAL_NEWLINE.
 */
export async function* sliceThenTail(source: ByteSource, from: number, end: number, signal?: AbortSignal, into?: Uint8Array): AsyncIterable<Uint8Array> {
  const size = source.size;
  let span = probeBytes(from, end);
  let to = firstReadEnd(from, end, size);
  yield* source.chunks(from, to, signal, into);
  while (to < size) {
    const at = to;
    span *= PROBE_GROWTH;
    to = Math.min(size, at + span);
    yield* source.chunks(at, to, signal, into);
  }
  yield FINAL_NEWLINE;
}

// The value block of a finished scan serves the next one: ten thousand small slices
// would otherwise zero ten thousand fresh blocks. A scan holds it until it ends, so two
// scans at once (Lambda handlers sharing a process) each have their own. Rows past a
// block's row count are stale, never read.
let spareBlock: Float64Array | undefined;

/**
 * The rows decoded and not yet handed to the sink: up to `cap` rows of `columns` values,
 * row-major. With columns 0 (learning them) it holds the first record's values only.
 */
export class RowBlock {
  values: Float64Array;
  columns: number;
  cap: number;
  /** rows in the block */
  count = 0;
  /** the scan's row number of the block's first row */
  firstRow = 0;

  constructor(
    private readonly sink: RowSink,
    columns: number,
    sliceBytes: number,
  ) {
    this.columns = columns;
    // A block holds up to 64K values, and never more rows than the slice can own (a row
    // has at least one byte per value).
    this.cap = columns === 0 ? 1 : Math.max(1, Math.min(Math.floor(65536 / columns), Math.ceil(sliceBytes / columns) + 1));
    this.values = columns === 0 ? new Float64Array(64) : takeBlock(columns * this.cap);
  }

  /** Rows read so far. */
  get rows(): number {
    return this.firstRow + this.count;
  }

  /** The row at `count` is complete. */
  commit(): void {
    if (++this.count === this.cap) this.flush();
  }

  /** `n` more rows are complete (at most cap - count). */
  commitRows(n: number): void {
    this.count += n;
    if (this.count === this.cap) this.flush();
  }

  flush(): void {
    if (this.count > 0) {
      this.sink.rows(this.values, this.count, this.columns, this.firstRow);
      this.firstRow += this.count;
      this.count = 0;
    }
  }

  /** Room for value `col` of the first record, while its length is not known. */
  makeRoom(col: number): void {
    if (col >= this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
  }

  /** The first record had `columns` values: blocks are sized for that from now on. */
  learned(columns: number): void {
    this.columns = columns;
    this.cap = Math.max(1, Math.floor(65536 / columns));
    const grown = takeKernelValues(columns * this.cap) ?? new Float64Array(columns * this.cap);
    grown.set(this.values.subarray(0, columns));
    this.values = grown;
  }

  /** The scan is over: its value block may serve the next scan. */
  release(): void {
    if (!spareBlock || spareBlock.length < this.values.length) {
      if (spareBlock) giveBackValues(spareBlock);
      spareBlock = this.values;
    } else giveBackValues(this.values);
  }
}

/** A value block of at least `length` values: the spare one when it is big enough. */
function takeBlock(length: number): Float64Array {
  // In the exact-sum kernel's memory where it fits, so that sums run in WebAssembly.
  if (spareBlock && spareBlock.length >= length) {
    const block = spareBlock;
    spareBlock = undefined;
    return block;
  }
  return takeKernelValues(length) ?? new Float64Array(length);
}
