/**
 * Streaming reader for fixed-size binary rows (.npy, raw arrays). Slices start and end
 * on row boundaries (dataOffset + k * rowBytes), so no look-back is needed.
 */
import { decodeInto, type DType } from './dtype.ts';
import { InputError } from './errors.ts';
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

/**
 * Streams the bytes [start, end) as blocks of whole fixed-size units (rows, DCD frames):
 * straight from a chunk when nothing is staged and the chunk is aligned, through one
 * staging buffer otherwise. `emit(bytes, units, at)` gets `units` whole units that start
 * at file offset `at`; `bytes` is only valid during the call. A block holds at most
 * about 1 MiB and never more than the slice, so thousands of tiny slices stay cheap.
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
  const staging = new Uint8Array(blockUnits * unitBytes);
  let filled = 0;
  let at = start;
  for await (const chunk of source.chunks(start, end, options.signal)) {
    const n = chunk.length;
    let i = 0;
    if (filled === 0 && chunk.byteOffset % alignment === 0) {
      for (let whole = Math.floor(n / unitBytes); whole > 0; ) {
        const units = Math.min(whole, blockUnits);
        emit(chunk.subarray(i, i + units * unitBytes), units, at + i);
        i += units * unitBytes;
        whole -= units;
      }
    }
    while (i < n) {
      const take = Math.min(n - i, staging.length - filled);
      staging.set(chunk.subarray(i, i + take), filled);
      filled += take;
      i += take;
      if (filled === staging.length) {
        emit(staging, blockUnits, at + i - filled);
        filled = 0;
      }
    }
    at += n;
    options.onProgress?.(n);
  }
  if (at < end) throw new InputError(source.name, at, `unexpected end of file: expected data up to byte ${end}`);
  if (filled > 0) emit(staging, filled / unitBytes, end - filled);
  return at - start;
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
  if ((start - layout.dataOffset) % rb !== 0 || (end - layout.dataOffset) % rb !== 0) {
    throw new RangeError(`slice [${start}, ${end}) is not aligned to ${rb}-byte rows`);
  }
  if (end <= start || rb === 0) return stats;
  const values = new Float64Array(Math.max(1, Math.min(Math.floor(BLOCK_BYTES / rb), (end - start) / rb)) * columns);
  let firstRow = 0;
  stats.bytesRead = await forEachUnitBlock(source, start, end, rb, 8, options, (bytes, rows) => {
    decodeInto(layout.dtype, bytes, rows * columns, values);
    sink.rows(values, rows, columns, firstRow);
    firstRow += rows;
  });
  stats.rows = firstRow;
  return stats;
}
