/**
 * The .npy header (format versions 1, 2 and 3): magic, version, header length, then a
 * Python dict literal {'descr': '<f8', 'fortran_order': False, 'shape': (F, n, m), }.
 */
import { parseDType, type DType } from './dtype.ts';
import { InputError } from './errors.ts';

export interface NpyHeader {
  version: number;
  dtype: DType;
  shape: number[];
  /** byte offset where the array data starts */
  dataOffset: number;
  /** bytes of array data the header declares */
  dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function isNpyMagic(head: Uint8Array): boolean {
  return MAGIC.every((b, i) => head[i] === b);
}

/** How many leading bytes are needed to know the header length. */
export const NPY_PREAMBLE_BYTES = 12;

/** The total header size, from the first 12 bytes. */
export function npyHeaderBytes(file: string, head: Uint8Array): number {
  if (head.length < 10 || !isNpyMagic(head)) {
    throw new InputError(file, 0, 'not a .npy file: the magic string \\x93NUMPY is missing');
  }
  const major = head[6]!;
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  if (major === 1) return 10 + view.getUint16(8, true);
  if (major === 2 || major === 3) {
    if (head.length < 12) throw new InputError(file, head.length, 'truncated .npy header');
    return 12 + view.getUint32(8, true);
  }
  throw new InputError(file, 6, `unsupported .npy format version ${major}.${head[7]}`);
}

/** Parses a complete header (the first npyHeaderBytes() bytes). */
export function parseNpyHeader(file: string, header: Uint8Array, fileBytes: number): NpyHeader {
  const total = npyHeaderBytes(file, header);
  if (header.length < total || fileBytes < total) {
    throw new InputError(file, Math.min(header.length, fileBytes), `truncated .npy header: it declares ${total} bytes`);
  }
  const version = header[6]!;
  const dictStart = version === 1 ? 10 : 12;
  const text = new TextDecoder(version === 3 ? 'utf-8' : 'latin1').decode(header.subarray(dictStart, total));
  const fail = (problem: string): never => {
    throw new InputError(file, dictStart, `bad .npy header ${JSON.stringify(text.trim())}: ${problem}`);
  };
  const descr = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(text);
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  const shape = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (/['"]descr['"]\s*:\s*\[/.test(text)) fail('structured dtypes are not supported');
  if (!descr) fail("no 'descr' string");
  if (!fortran) fail("no 'fortran_order'");
  if (!shape) fail("no 'shape' tuple");
  if (fortran![1] === 'True') fail('Fortran-ordered arrays are not supported: save it with np.ascontiguousarray first');
  let dtype: DType;
  try {
    dtype = parseDType(descr![2]!);
  } catch {
    return fail(`unsupported dtype ${JSON.stringify(descr![2])} (object, string, complex, bool and datetime arrays cannot be summed)`);
  }
  const dims = shape![1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (/^\d+L?$/.test(s) ? Number.parseInt(s, 10) : fail(`bad shape entry ${JSON.stringify(s)}`)));
  const elements = dims.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(elements * dtype.bytes)) fail('the array is too large');
  return { version, dtype, shape: dims, dataOffset: total, dataBytes: elements * dtype.bytes };
}

/** Builds a version 1.0 header for a C-ordered array (used by the demo and tests). */
export function npyHeader(descr: string, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + dict.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  return out;
}
