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
  let dict: Map<string, HeaderValue>;
  try {
    dict = parseHeaderDict(text, version < 3);
  } catch (e) {
    if (!(e instanceof HeaderSyntaxError)) throw e;
    return fail(e.message);
  }
  const keys = [...dict.keys()].sort();
  if (keys.join() !== 'descr,fortran_order,shape') fail(`the keys must be exactly 'descr', 'fortran_order' and 'shape', not ${keys.map((k) => `'${k}'`).join(', ')}`);
  const descr = dict.get('descr')!;
  const fortran = dict.get('fortran_order')!;
  const shape = dict.get('shape')!;
  if (descr === null) fail('structured dtypes are not supported');
  if (typeof descr !== 'string') fail(`'descr' must be a string`);
  if (typeof fortran !== 'boolean') fail(`'fortran_order' must be True or False`);
  if (!Array.isArray(shape)) fail(`'shape' must be a tuple of integers`);
  if (fortran === true) fail('Fortran-ordered arrays are not supported: save it with np.ascontiguousarray first');
  let dtype: DType;
  try {
    dtype = parseDType(descr as string);
  } catch {
    return fail(`unsupported dtype ${JSON.stringify(descr)} (object, string, complex, bool and datetime arrays cannot be summed)`);
  }
  const dims = shape as number[];
  const elements = dims.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(elements * dtype.bytes)) fail('the array is too large');
  return { version, dtype, shape: dims, dataOffset: total, dataBytes: elements * dtype.bytes };
}

/**
 * The values a header dict holds: strings, True/False, tuples of integers; `null` for a
 * list (a structured dtype's descr), `unsupported` for any other literal. The caller
 * refuses the last two by key.
 */
type HeaderValue = string | boolean | number[] | null | { unsupported: string };

class HeaderSyntaxError extends Error {}

/**
 * Parses the dict literal the way numpy reads it (Python's literal syntax, the last of a
 * repeated key winning), for the subset a header can validly hold. Versions 1 and 2 may
 * come from Python 2, whose integers could end in L. Anything else is a syntax error:
 * a header numpy would refuse is never half-read.
 */
function parseHeaderDict(text: string, python2Ints: boolean): Map<string, HeaderValue> {
  let at = 0;
  const ws = (): void => {
    while (at < text.length && ' \t\n\r\f\v'.includes(text[at]!)) at++;
  };
  const error = (what: string): never => {
    throw new HeaderSyntaxError(at < text.length ? `${what} at character ${at}, found ${JSON.stringify(text.slice(at, at + 12))}` : `${what} at its end`);
  };
  const expect = (ch: string): void => {
    ws();
    if (text[at] !== ch) error(`expected '${ch}'`);
    at++;
  };
  const string = (): string => {
    const quote = text[at];
    if (quote !== "'" && quote !== '"') return error('expected a quoted string');
    const end = text.indexOf(quote, at + 1);
    const body = end < 0 ? error('unterminated string') : text.slice(at + 1, end);
    if (/[\\\n]/.test(body)) error('escapes are not supported in header strings');
    at = end + 1;
    return body;
  };
  const integer = (): number => {
    const m = /^\d+/.exec(text.slice(at));
    if (!m) return error('expected an integer');
    // numpy takes any Python int; past 2^53 a double would hold a neighbour instead.
    const n = Number.parseInt(m[0], 10);
    if (!Number.isSafeInteger(n)) error(`${m[0]} is too large (more than 2^53 - 1)`);
    at += m[0].length;
    if (python2Ints && (text[at] === 'L' || text[at] === 'l')) at++;
    if (/[\w.]/.test(text[at] ?? '')) error('expected an integer');
    return n;
  };
  const value = (): HeaderValue => {
    ws();
    const ch = text[at];
    if (ch === "'" || ch === '"') return string();
    if (text.startsWith('True', at) || text.startsWith('False', at)) {
      const word = text.startsWith('True', at) ? 'True' : 'False';
      at += word.length;
      if (/\w/.test(text[at] ?? '')) error('expected a value');
      return word === 'True';
    }
    if (ch === '(') {
      // A tuple: (), (n,), (a, b), (a, b,). A lone (n) is a parenthesised integer.
      at++;
      const items: number[] = [];
      let commas = 0;
      for (ws(); text[at] !== ')'; ws()) {
        items.push(integer());
        ws();
        if (text[at] === ',') {
          at++;
          commas++;
        } else if (text[at] !== ')') error("expected ',' or ')'");
      }
      at++;
      if (items.length === 1 && commas === 0) return { unsupported: 'an integer' };
      return items;
    }
    if (ch === '[' || ch === '{') return skipBracketed();
    if (/[\d-]/.test(ch ?? '')) {
      while (at < text.length && /[\w.+-]/.test(text[at]!)) at++;
      return { unsupported: 'a number' };
    }
    return error('expected a value');
  };
  // A list or dict value (a structured descr, a list where a tuple belongs): skipped
  // over by matching brackets, so that the error names the key rather than the syntax.
  const skipBracketed = (): HeaderValue => {
    const open = text[at]!;
    let depth = 0;
    for (; at < text.length; at++) {
      const c = text[at]!;
      if (c === "'" || c === '"') {
        string();
        at--;
      } else if (c === '[' || c === '{' || c === '(') depth++;
      else if (c === ']' || c === '}' || c === ')') depth--;
      if (depth === 0) {
        at++;
        return open === '[' ? null : { unsupported: 'a dict' };
      }
    }
    return error('unclosed bracket');
  };

  const out = new Map<string, HeaderValue>();
  expect('{');
  for (ws(); text[at] !== '}'; ws()) {
    const key = string();
    expect(':');
    out.set(key, value());
    ws();
    if (text[at] === ',') at++;
    else if (text[at] !== '}') error("expected ',' or '}'");
  }
  at++;
  ws();
  if (at < text.length) error('unexpected text after the dict');
  return out;
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
