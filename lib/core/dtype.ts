/**
 * Numeric element types of binary inputs, named as numpy names them ("<f8", ">i4", "u1").
 */
import { UsageError } from './errors.ts';

export type Kind = 'f' | 'i' | 'u';

export interface DType {
  /** canonical numpy descr, e.g. "<f8", "|u1" */
  descr: string;
  kind: Kind;
  bytes: 1 | 2 | 4 | 8;
  littleEndian: boolean;
}

const SUPPORTED: Record<Kind, number[]> = { f: [2, 4, 8], i: [1, 2, 4, 8], u: [1, 2, 4, 8] };
const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Parses "f8", "<f4", ">i2", "|u1", "=f8" and numpy's long names ("float64", "int32").
 * Byte order defaults to little-endian, as numpy writes on every common machine.
 */
export function parseDType(text: string): DType {
  const aliases: Record<string, string> = {
    float16: 'f2', float32: 'f4', float64: 'f8', double: 'f8', single: 'f4', half: 'f2',
    int8: 'i1', int16: 'i2', int32: 'i4', int64: 'i8', uint8: 'u1', uint16: 'u2', uint32: 'u4', uint64: 'u8',
  };
  let t = text.trim();
  let order = '<';
  if (/^[<>|=]/.test(t)) {
    order = t[0]!;
    t = t.slice(1);
  }
  t = aliases[t.toLowerCase()] ?? t;
  const m = /^([fiu])([1248])$/.exec(t);
  if (!m) throw new UsageError(`unsupported dtype ${JSON.stringify(text)}: expected f2, f4, f8, i1..i8 or u1..u8, optionally with < or >`);
  const kind = m[1] as Kind;
  const bytes = Number(m[2]) as DType['bytes'];
  if (!SUPPORTED[kind].includes(bytes)) throw new UsageError(`unsupported dtype ${JSON.stringify(text)}`);
  const littleEndian = order === '>' ? false : order === '=' ? HOST_LITTLE : true;
  const descr = `${bytes === 1 ? '|' : littleEndian ? '<' : '>'}${kind}${bytes}`;
  return { descr, kind, bytes, littleEndian };
}

let halfTable: Float64Array | undefined;
function halfToDouble(): Float64Array {
  if (halfTable) return halfTable;
  halfTable = new Float64Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    halfTable[h] = e === 0 ? sign * f * 2 ** -24 : e === 31 ? (f ? NaN : sign * Infinity) : sign * (1 + f / 1024) * 2 ** (e - 15);
  }
  return halfTable;
}

/**
 * Decodes `count` elements from `bytes` (starting at byte 0) into out[0..count).
 * Native little-endian float64 on an aligned buffer is a plain copy.
 */
export function decodeInto(dtype: DType, bytes: Uint8Array, count: number, out: Float64Array): void {
  const { kind, littleEndian: le } = dtype;
  const size = dtype.bytes;
  if (kind === 'f' && size === 8 && le === HOST_LITTLE && bytes.byteOffset % 8 === 0) {
    out.set(new Float64Array(bytes.buffer, bytes.byteOffset, count));
    return;
  }
  if (kind === 'f' && size === 4 && le === HOST_LITTLE && bytes.byteOffset % 4 === 0) {
    out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * size);
  switch (`${kind}${size}`) {
    case 'f8':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, le);
      return;
    case 'f4':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, le);
      return;
    case 'f2': {
      const t = halfToDouble();
      for (let i = 0; i < count; i++) out[i] = t[view.getUint16(i * 2, le)]!;
      return;
    }
    case 'i1':
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      return;
    case 'u1':
      for (let i = 0; i < count; i++) out[i] = bytes[i]!;
      return;
    case 'i2':
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, le);
      return;
    case 'u2':
      for (let i = 0; i < count; i++) out[i] = view.getUint16(i * 2, le);
      return;
    case 'i4':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, le);
      return;
    case 'u4':
      for (let i = 0; i < count; i++) out[i] = view.getUint32(i * 4, le);
      return;
    case 'i8':
    case 'u8': {
      // hi * 2^32 + lo rounds once, exactly as Number(BigInt) does.
      const signed = kind === 'i';
      for (let i = 0; i < count; i++) {
        const at = i * 8;
        const lo = view.getUint32(le ? at : at + 4, le);
        const hi = signed ? view.getInt32(le ? at + 4 : at, le) : view.getUint32(le ? at + 4 : at, le);
        out[i] = hi * 4294967296 + lo;
      }
      return;
    }
  }
}
