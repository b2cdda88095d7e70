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
  // Never more than the slice holds: thousands of tiny slices must stay cheap.
  const blockRows = Math.max(1, Math.min(Math.floor(BLOCK_BYTES / rb), (end - start) / rb));
  const staging = new Uint8Array(blockRows * rb);
  const values = new Float64Array(blockRows * columns);
  let filled = 0;
  let firstRow = 0;
  let at = start;

  const emit = (rows: number, bytes: Uint8Array): void => {
    decodeInto(layout.dtype, bytes, rows * columns, values);
    sink.rows(values, rows, columns, firstRow);
    firstRow += rows;
  };

  for await (const chunk of source.chunks(start, end, options.signal)) {
    let i = 0;
    const n = chunk.length;
    // Whole blocks straight from the chunk when nothing is staged.
    if (filled === 0 && chunk.byteOffset % 8 === 0) {
      const whole = Math.floor(n / rb);
      for (let r = 0; r + blockRows <= whole; r += blockRows) {
        emit(blockRows, chunk.subarray(r * rb, (r + blockRows) * rb));
        i = (r + blockRows) * rb;
      }
    }
    while (i < n) {
      const take = Math.min(n - i, staging.length - filled);
      staging.set(chunk.subarray(i, i + take), filled);
      filled += take;
      i += take;
      if (filled === staging.length) {
        emit(blockRows, staging);
        filled = 0;
      }
    }
    at += n;
    stats.bytesRead += n;
    options.onProgress?.(n);
  }
  if (at < end) {
    throw new InputError(source.name, at, `unexpected end of file: expected data up to byte ${end}`);
  }
  if (filled > 0) emit(filled / rb, staging);
  stats.rows = firstRow;
  return stats;
}
