/**
 * Streaming reader for fixed-size binary rows (.npy, raw arrays). Slices start and end
 * on row boundaries (dataOffset + k * rowBytes), so no look-back is needed.
 */
import { decodeInto, type DType } from './dtype.ts';
import { InputError } from './errors.ts';
import { borrowValues } from './exact-sum-wasm.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from './source.ts';
import { emptyStats } from './source.ts';

export interface BinaryLayout {
  kind: 'binary';
  dtype: DType;
  /** byte offset of the first row */
  dataOffset: number;
  /** byte offset just past the last row */
  dataEnd: number;
  /** values per row */
  columns: number;
}

export function rowBytes(layout: BinaryLayout): number {
  return layout.columns * layout.dtype.bytes;
}

const BLOCK_BYTES = 1 << 20;

// Scratch buffers kept between the slices a thread scans. The first write to each 4 KiB
// page of a fresh buffer is a page fault, and in a virtual machine (Firecracker, as under
// Lambda) one costs tens of microseconds: a fresh 2 MB block per slice cost more than
// decoding the block. A borrowed buffer is returned when its scan ends, so scans that run
// at the same time never share one.
const spareBuffers: ArrayBuffer[] = [];
const SPARE_BUFFERS = 4;

/** Runs `use` with a buffer of at least `bytes` bytes (not zeroed), kept for the next scan. */
export async function withScratch<T>(bytes: number, use: (buffer: ArrayBuffer) => Promise<T>): Promise<T> {
  const i = spareBuffers.findIndex((b) => b.byteLength >= bytes);
  const buffer = i >= 0 ? spareBuffers.splice(i, 1)[0]! : new ArrayBuffer(bytes);
  try {
    return await use(buffer);
  } finally {
    spareBuffers.push(buffer);
    if (spareBuffers.length > SPARE_BUFFERS) spareBuffers.shift();
  }
}

/**
 * Streams the bytes [start, end) as blocks of whole fixed-size units (rows, DCD frames):
 * straight from a chunk where it is aligned, through one staging buffer otherwise.
 * `emit(bytes, units, at)` gets `units` whole units that start at file offset `at`;
 * `bytes` is only valid during the call. A block holds at most about 1 MiB and never
 * more than the slice, so thousands of tiny slices stay cheap.
 *
 * Chunks are rarely a whole number of units, so a unit usually straddles two chunks:
 * only that unit is staged (and emitted on its own), and the rest of the next chunk goes
 * straight to `emit` again when it is aligned; a misaligned chunk is staged in full blocks.
 */
export async function forEachUnitBlock(
  source: ByteSource,
  start: number,
  end: number,
  unitBytes: number,
  alignment: number,
  options: ScanOptions,
  emit: (bytes: Uint8Array, units: number, at: number) => void,
): Promise<number> {
  const blockUnits = Math.max(1, Math.min(Math.floor(BLOCK_BYTES / unitBytes), (end - start) / unitBytes));
  return withScratch(blockUnits * unitBytes, async (buffer) => {
    const staging = new Uint8Array(buffer, 0, blockUnits * unitBytes);
    let filled = 0;
    let at = start;
    for await (const chunk of source.chunks(start, end, options.signal)) {
      const n = chunk.length;
      for (let i = 0; i < n; ) {
        if (filled === 0 && n - i >= unitBytes && (chunk.byteOffset + i) % alignment === 0) {
          const units = Math.min(Math.floor((n - i) / unitBytes), blockUnits);
          emit(chunk.subarray(i, i + units * unitBytes), units, at + i);
          i += units * unitBytes;
          continue;
        }
        // Stage to the end of the unit in progress when the chunk is aligned after it, else fill the block.
        const unitLeft = unitBytes - (filled % unitBytes);
        const direct = (chunk.byteOffset + i + unitLeft) % alignment === 0;
        const take = Math.min(n - i, direct ? unitLeft : staging.length - filled);
        staging.set(chunk.subarray(i, i + take), filled);
        filled += take;
        i += take;
        if (filled === staging.length || (direct && take === unitLeft)) {
          emit(staging, filled / unitBytes, at + i - filled);
          filled = 0;
        }
      }
      at += n;
      options.onProgress?.(n);
    }
    if (at < end) throw new InputError(source.name, at, `unexpected end of file: expected data up to byte ${end}`);
    if (filled > 0) emit(staging, filled / unitBytes, end - filled);
    return at - start;
  });
}

export async function scanBinary(
  source: ByteSource,
  layout: BinaryLayout,
  start: number,
  end: number,
  sink: RowSink,
  options: ScanOptions = {},
): Promise<ScanStats> {
  const stats = emptyStats();
  const rb = rowBytes(layout);
  const columns = layout.columns;
  // An empty slice, or rows of no bytes (an empty array such as shape (1000, 0)): no values.
  if (end <= start || rb === 0) return stats;
  if ((start - layout.dataOffset) % rb !== 0 || (end - layout.dataOffset) % rb !== 0) {
    throw new RangeError(`slice [${start}, ${end}) is not aligned to ${rb}-byte rows`);
  }
  const length = Math.max(1, Math.min(Math.floor(BLOCK_BYTES / rb), (end - start) / rb)) * columns;
  let firstRow = 0;
  // The values live in the exact-sum kernel's memory where they fit, so that sums run in WebAssembly.
  stats.bytesRead = await borrowValues(length, (values) => {
    // decodeInto reads f4 and f8 through typed-array views, which need element alignment only.
    return forEachUnitBlock(source, start, end, rb, layout.dtype.bytes, options, (bytes, rows) => {
      decodeInto(layout.dtype, bytes, rows * columns, values);
      sink.rows(values, rows, columns, firstRow);
      firstRow += rows;
    });
  });
  stats.rows = firstRow;
  return stats;
}
