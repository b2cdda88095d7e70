/**
 * A numeric array in an analysis result (mean-structure's positions, rmsf's values,
 * row-sums' sums): float64 values in C order and their shape, kept as one typed array
 * rather than as nested JavaScript arrays.
 *
 * An analysis's finish() returns one; resultDocument() then decides how the result
 * document carries it. At most RESULT_INLINE_MAX values: inline, as nested JSON arrays
 * with null for NaN and infinities, exactly as results always were. Above it: as a .npy
 * file beside the document (float64, C order, the array's shape; NaN and infinities kept
 * as they are), which the document names (lib/job/documents.ts). Formatting 3 x 10^6
 * numbers as JSON took longer than numpy needs to compute them, and no reader of a
 * million positions wants them as text.
 */
import { jsonNumber } from './analysis.ts';
import { InputError } from './errors.ts';
import { parseNpyHeader } from './npy.ts';

/** Arrays of more values than this go to a .npy file beside the result document. */
export const RESULT_INLINE_MAX = 2 ** 18;

export class ResultArray {
  /**
   * The name of its .npy file, beside the result document (set by resultDocument(), or
   * by the reader of a document): `<job id>.<field path>.npy`.
   */
  file?: string;

  /** the whole .npy file whose values `data` is a view of (ResultArray.inNpy), which npyBytes returns as it is */
  private npy?: Uint8Array;

  constructor(
    readonly data: Float64Array,
    readonly shape: readonly number[],
  ) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length || shape.length === 0) throw new RangeError(`a result array of shape (${shape.join(', ')}) holds ${size} values, not ${data.length}`);
  }

  /**
   * An array of zeros whose values are made in place inside the bytes of its .npy file
   * (on a little-endian host; elsewhere an ordinary array), so that writing a million
   * atoms' positions copies no 24 MB: npyBytes gives that file.
   */
  static inNpy(shape: readonly number[]): ResultArray {
    const size = shape.reduce((a, b) => a * b, 1);
    if (!LITTLE_ENDIAN) return new ResultArray(new Float64Array(size), shape);
    const header = npyHeader(shape);
    const file = new Uint8Array(header.length + 8 * size);
    file.set(header);
    // The header is a multiple of 64 bytes: the values are aligned for a Float64Array.
    const array = new ResultArray(new Float64Array(file.buffer, header.length, size), shape);
    array.npy = file;
    return array;
  }

  /** The .npy file it lives in (inNpy), if it does. */
  get npyFile(): Uint8Array | undefined {
    return this.npy;
  }

  get size(): number {
    return this.data.length;
  }

  /** Row `i` of a 2-D array (or value i of a 1-D one, as a row of one). */
  row(i: number): Float64Array {
    const width = this.shape.length > 1 ? this.data.length / this.shape[0]! : 1;
    return this.data.subarray(i * width, (i + 1) * width);
  }

  /** How a result document names it (see lib/job/documents.ts). */
  toJSON(): ResultArrayRef {
    return { $npy: this.file ?? '', shape: [...this.shape], dtype: '<f8' };
  }

  /** The array as nested JSON arrays, null for NaN and infinities: how results inline it. */
  toNested(): unknown[] {
    const data = this.data;
    const nest = (axis: number, at: number): unknown[] => {
      const n = this.shape[axis]!;
      if (axis === this.shape.length - 1) {
        const out: (number | null)[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = jsonNumber(data[at + i]!);
        return out;
      }
      const stride = this.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
      const out: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = nest(axis + 1, at + i * stride);
      return out;
    };
    return nest(0, 0);
  }
}

/** How a result document names a result array's .npy file, relative to the document. */
export interface ResultArrayRef {
  $npy: string;
  shape: number[];
  dtype: '<f8';
}

/** The .npy file of the result array at `path` (field names from the result's root) of job `job`'s result. */
export const resultArrayFile = (job: string, path: readonly (string | number)[]): string => `${job}.${path.join('.')}.npy`;

/**
 * A result with its small arrays inlined (nested JSON arrays) and its large ones left as
 * ResultArray, each named for its .npy file (resultArrayFile).
 */
export function inlineSmallArrays(value: unknown, job: string, max = RESULT_INLINE_MAX, path: (string | number)[] = []): unknown {
  if (value instanceof ResultArray) {
    if (value.size <= max) return value.toNested();
    value.file = resultArrayFile(job, path);
    return value;
  }
  if (!holdsArray(value)) return value;
  if (Array.isArray(value)) return value.map((v, i) => inlineSmallArrays(v, job, max, [...path, i]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as object)) out[k] = inlineSmallArrays(v, job, max, [...path, k]);
  return out;
}

/** The large arrays of a result (those inlineSmallArrays left), each with its file name. */
export function resultArrays(value: unknown): ResultArray[] {
  if (value instanceof ResultArray) return value.file ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((v) => (typeof v === 'object' && v !== null ? resultArrays(v) : []));
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) return Object.values(value).flatMap((v) => (typeof v === 'object' && v !== null ? resultArrays(v) : []));
  return [];
}

function holdsArray(value: unknown): boolean {
  if (value instanceof ResultArray) return true;
  if (Array.isArray(value)) return value.some((v) => typeof v === 'object' && v !== null && holdsArray(v));
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) return Object.values(value).some((v) => typeof v === 'object' && v !== null && holdsArray(v));
  return false;
}

/** A result value as plain numbers: a ResultArray's values, or nested arrays flattened (null: NaN). */
export function flatNumbers(value: unknown): Float64Array {
  if (value instanceof ResultArray) return value.data;
  if (Array.isArray(value)) return Float64Array.from((value as unknown[]).flat(Infinity), (x) => (typeof x === 'number' ? x : NaN));
  throw new TypeError('not a numeric array');
}

/** The number of rows of a result array (a ResultArray or nested arrays), and row i as plain numbers. */
export function rowsOf(value: unknown): { count: number; row(i: number): (number | null)[] } | undefined {
  if (value instanceof ResultArray) return { count: value.shape[0]!, row: (i) => Array.from(value.row(i)) };
  if (Array.isArray(value)) return { count: value.length, row: (i) => (Array.isArray(value[i]) ? (value[i] as (number | null)[]) : [value[i] as number | null]) };
  return undefined;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The array as a .npy file (format version 1.0; 2.0 when the header needs it): dtype
 * '<f8', C order, the header padded with spaces to a multiple of 64 bytes and ended by a
 * newline, as numpy writes it.
 */
export function npyBytes(array: ResultArray): Uint8Array {
  if (array.npyFile) return array.npyFile;
  const header = npyHeader(array.shape);
  const headerBytes = header.length;
  const out = new Uint8Array(headerBytes + array.data.length * 8);
  out.set(header);
  if (LITTLE_ENDIAN) out.set(new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength), headerBytes);
  else {
    const view = new DataView(out.buffer);
    array.data.forEach((x, i) => view.setFloat64(headerBytes + 8 * i, x, true));
  }
  return out;
}

/** The header of a .npy file of float64 values of `shape`: a multiple of 64 bytes. */
function npyHeader(shape: readonly number[]): Uint8Array {
  const text = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '<f8', 'fortran_order': False, 'shape': ${text}, }`;
  const v1 = dict.length + 1 + 10 < 65536;
  const preamble = v1 ? 10 : 12;
  const headerBytes = Math.ceil((preamble + dict.length + 1) / 64) * 64;
  const out = new Uint8Array(headerBytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v1 ? 1 : 2, 0]);
  const view = new DataView(out.buffer);
  if (v1) view.setUint16(8, headerBytes - preamble, true);
  else view.setUint32(8, headerBytes - preamble, true);
  const padded = dict.padEnd(headerBytes - preamble - 1, ' ') + '\n';
  for (let i = 0; i < padded.length; i++) out[preamble + i] = padded.charCodeAt(i);
  return out;
}

/** A .npy file of float64 values (what npyBytes writes; any shape) as a ResultArray. `name` is for errors. */
export function fromNpyBytes(name: string, bytes: Uint8Array): ResultArray {
  const header = parseNpyHeader(name, bytes, bytes.length);
  if (header.dtype.kind !== 'f' || header.dtype.bytes !== 8) throw new InputError(name, 0, `a result array must be float64, not ${header.dtype.descr}`);
  if (bytes.length !== header.dataOffset + header.dataBytes) throw new InputError(name, bytes.length, `a result array of shape (${header.shape.join(', ')}) needs ${header.dataOffset + header.dataBytes} bytes, the file has ${bytes.length}`);
  const n = header.dataBytes / 8;
  const data = new Float64Array(n);
  const little = header.dtype.littleEndian;
  if (little && LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(header.dataOffset));
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset + header.dataOffset, header.dataBytes);
    for (let i = 0; i < n; i++) data[i] = view.getFloat64(8 * i, little);
  }
  return new ResultArray(data, header.shape.length === 0 ? [1] : header.shape);
}
