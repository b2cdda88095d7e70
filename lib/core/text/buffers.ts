/**
 * What the text reader reads and writes into: the read-ahead policy (how far past its
 * end a slice asks its source for bytes) and the pooled block its rows are decoded into.
 */
import type { ByteSource } from '../source.ts';

/** End of input: it ends the last line as a newline would. */
export const FINAL_NEWLINE = new Uint8Array([10]);

// The first read past a slice's end: an eighth of the slice, within these bounds.
const MIN_PROBE_BYTES = 4 * 1024;
const MAX_PROBE_BYTES = 64 * 1024;
// Each further read past the end is this many times longer than the one before.
const PROBE_GROWTH = 8;

/**
 * The bytes from `from` to the end of the source, asked for in spans: the slice plus a
 * probe past its end (where its last record nearly always ends), then spans that grow
 * geometrically. A source sizes its reads to the span, so a small slice costs a small
 * read (a 20 KB slice reads 24 KB, not 84), a ranged source (S3) makes one request per
 * slice in the common case and a few for a record megabytes long, and the reader still
 * follows a record of any length. The end of the source comes as FINAL_NEWLINE.
 */
export async function* sliceThenTail(source: ByteSource, from: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const size = source.size;
  let span = Math.min(MAX_PROBE_BYTES, Math.max(MIN_PROBE_BYTES, Math.floor((end - from) / 8)));
  // At least a few bytes in the first read, so that a byte order mark arrives whole.
  let to = Math.min(size, Math.max(end, from + 16) + span);
  yield* source.chunks(from, to, signal);
  while (to < size) {
    const at = to;
    span *= PROBE_GROWTH;
    to = Math.min(size, at + span);
    yield* source.chunks(at, to, signal);
  }
  yield FINAL_NEWLINE;
}

// The value block of a finished scan serves the next one: ten thousand small slices
// would otherwise zero ten thousand fresh blocks. A scan holds it until it ends, so two
// scans at once (Lambda handlers sharing a process) each have their own. Rows past a
// block's row count are stale, never read.
let spareBlock: Float64Array | undefined;

/** A value block of at least `length` values: the spare one when it is big enough. */
export function takeBlock(length: number): Float64Array {
  const block = spareBlock && spareBlock.length >= length ? spareBlock : new Float64Array(length);
  spareBlock = undefined;
  return block;
}

/** Gives a block back when a scan ends; the bigger of it and the spare one is kept. */
export function returnBlock(block: Float64Array): void {
  if (!spareBlock || spareBlock.length < block.length) spareBlock = block;
}
