/**
 * GROMACS XTC trajectories, read by byte range with no index.
 *
 * A frame is big-endian XDR: magic (1995, or 2023 whose byte count is 64-bit), natoms,
 * step, time (f32), the box (3 x 3 f32, nm, one box vector a row), natoms again; then
 * nine atoms or fewer as raw f32 (x, y, z), more as precision (f32), minint[3],
 * maxint[3], smallidx, the byte count and that many bytes of compressed coordinates
 * (see xtc-decode.ts), padded to 4 bytes. Frames differ in size, so a slice cannot
 * compute where its first frame starts; it finds it.
 *
 * Slices are byte ranges that find their first frame themselves: see frame-chain.ts.
 *
 * Coordinates are the float32 values every XTC reader gives, in nm, times the scan's
 * lengthScale (10 for Å, lengths.ts): the product is made in float64 and is exact.
 */
import type { Box } from './dcd.ts';
import { InputError } from './errors.ts';
import { findLastFrame, FrameError, type FrameFormat, type HeaderCheck, headerProblem, scanFrameChain } from './frame-chain.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from './source.ts';
import { decodeCompressed, FIRST_SMALL_IDX, LAST_SMALL_IDX, XtcDecodeError } from './xtc-decode.ts';

export const XTC_MAGIC = 1995;
/** GROMACS 2023 and later, for frames whose compressed block may pass 2^31 bytes: the byte count is an int64 */
export const XTC_LARGE_MAGIC = 2023;
/** Header bytes of a compressed frame with the 1995 magic; 2023 has 4 more (the wider byte count). */
const COMPRESSED_HEADER_BYTES = 92;
const RAW_HEADER_BYTES = 56;
export const XTC_MAX_HEADER_BYTES = 96;
/** GROMACS stores frames of this many atoms or fewer uncompressed. */
export const XTC_MAX_RAW_ATOMS = 9;

export interface XtcLayout {
  kind: 'xtc';
  atoms: number;
  columns: 3;
  magic: number;
  /** frame 0 starts at byte 0; the data runs to the end of the file */
  dataOffset: 0;
  dataEnd: number;
}

export interface XtcFrameInfo {
  step: number;
  timePs: number;
}

/** What frame 0 (and the last frame, found from the end of the file) say, for the result document. */
export interface XtcInfo {
  format: 'xtc';
  atoms: number;
  magic: number;
  /** the unit of the result's lengths: the reader's nm, Å once planned (lengths.ts) */
  lengthUnit: 'nm' | 'Å';
  /** what the file stores: nm */
  storedLengthUnit?: 'nm';
  /** coordinates are round(x * precision) / precision in the stored unit: 1000 stores 0.001 nm */
  precision: number | null;
  /** the precision in words, with its unit */
  precisionMeaning?: string;
  first: XtcFrameInfo;
  last?: XtcFrameInfo;
  box?: { first: Box; last: Box };
  warnings: string[];
}

export interface XtcFrameHeader {
  magic: number;
  atoms: number;
  step: number;
  time: number;
  box: number[];
  precision: number;
  minint: [number, number, number];
  maxint: [number, number, number];
  smallidx: number;
  /** bytes of compressed coordinates (0 for raw frames) */
  byteCount: number;
  /** where the coordinates start, from the frame start */
  dataAt: number;
  /** the whole frame, padding included */
  frameBytes: number;
}

const fail = headerProblem;

/**
 * Reads and checks the header at bytes[at..]: `rest` is how many bytes the file holds
 * from there. `expect` pins the magic and atom count (those of frame 0).
 */
export function checkXtcHeader(bytes: Uint8Array, at: number, rest: number, expect?: { magic: number; atoms: number }): HeaderCheck<XtcFrameHeader> {
  const avail = Math.min(rest, bytes.length - at);
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, Math.max(0, Math.min(avail, XTC_MAX_HEADER_BYTES)));
  if (avail < 4) return fail('truncated', 0, `the file ends ${avail} bytes into an XTC frame header`);
  const magic = view.getInt32(0);
  if (expect ? magic !== expect.magic : magic !== XTC_MAGIC && magic !== XTC_LARGE_MAGIC) {
    return fail('magic', 0, `not an XTC frame header: the magic number is ${magic}, expected ${expect?.magic ?? `${XTC_MAGIC} or ${XTC_LARGE_MAGIC}`}`);
  }
  if (avail < 8) return fail('truncated', 4, `the file ends ${avail} bytes into an XTC frame header`);
  const atoms = view.getInt32(4);
  if (expect ? atoms !== expect.atoms : atoms <= 0) return fail('atoms', 4, `the atom count changes: this frame has ${atoms} atoms, the first frame ${expect?.atoms}`);
  if (avail < RAW_HEADER_BYTES) return fail('truncated', avail, `the file ends ${avail} bytes into an XTC frame header`);
  const again = view.getInt32(52);
  if (again !== atoms) return fail('field', 52, `corrupted XTC frame header: the atom count is ${atoms}, and ${again} where it is repeated`);
  const step = view.getInt32(8);
  const time = view.getFloat32(12);
  const box = Array.from({ length: 9 }, (_, i) => view.getFloat32(16 + 4 * i));
  if (atoms <= XTC_MAX_RAW_ATOMS) {
    return {
      ok: true,
      header: { magic, atoms, step, time, box, precision: 0, minint: [0, 0, 0], maxint: [0, 0, 0], smallidx: 0, byteCount: 0, dataAt: RAW_HEADER_BYTES, frameBytes: RAW_HEADER_BYTES + 12 * atoms },
    };
  }
  const dataAt = magic === XTC_LARGE_MAGIC ? COMPRESSED_HEADER_BYTES + 4 : COMPRESSED_HEADER_BYTES;
  if (avail < dataAt) return fail('truncated', avail, `the file ends ${avail} bytes into an XTC frame header`);
  const precision = view.getFloat32(56);
  if (!(precision > 0 && Number.isFinite(precision))) return fail('field', 56, `corrupted XTC frame header: precision ${precision}`);
  const minint: [number, number, number] = [view.getInt32(60), view.getInt32(64), view.getInt32(68)];
  const maxint: [number, number, number] = [view.getInt32(72), view.getInt32(76), view.getInt32(80)];
  for (let k = 0; k < 3; k++) {
    if (maxint[k]! < minint[k]! || maxint[k]! - minint[k]! >= 2 ** 31) return fail('field', 60 + 4 * k, `corrupted XTC frame header: coordinate range [${minint[k]}, ${maxint[k]}]`);
  }
  const smallidx = view.getInt32(84);
  if (smallidx < FIRST_SMALL_IDX || smallidx > LAST_SMALL_IDX) return fail('field', 84, `corrupted XTC frame header: smallidx ${smallidx}`);
  const byteCount = magic === XTC_LARGE_MAGIC ? view.getUint32(88) * 2 ** 32 + view.getUint32(92) : view.getInt32(88);
  // At most 3 x 32 bits for an atom in full plus a flag and a run length: 13 bytes an atom.
  if (byteCount < 0 || byteCount > atoms * 13 + 16) return fail('field', 88, `corrupted XTC frame header: a byte count of ${byteCount} for ${atoms} atoms`);
  return {
    ok: true,
    header: { magic, atoms, step, time, box, precision, minint, maxint, smallidx, byteCount, dataAt, frameBytes: dataAt + Math.ceil(byteCount / 4) * 4 },
  };
}

/** True when the bytes start like an XTC frame: the magic, then a positive atom count, repeated at byte 52. */
export function isXtcMagic(head: Uint8Array): boolean {
  if (head.length < 8) return false;
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  const magic = view.getInt32(0);
  const atoms = view.getInt32(4);
  return (magic === XTC_MAGIC || magic === XTC_LARGE_MAGIC) && atoms > 0 && (head.length < 56 || view.getInt32(52) === atoms);
}

const DEG = 180 / Math.PI;

/** Lengths and angles of a box given as three row vectors (a, b, c). */
export function boxFromVectors(m: readonly number[]): Box {
  const va = m.slice(0, 3);
  const vb = m.slice(3, 6);
  const vc = m.slice(6, 9);
  const dot = (u: number[], v: number[]): number => u[0]! * v[0]! + u[1]! * v[1]! + u[2]! * v[2]!;
  const a = Math.sqrt(dot(va, va));
  const b = Math.sqrt(dot(vb, vb));
  const c = Math.sqrt(dot(vc, vc));
  const angle = (u: number[], v: number[], lu: number, lv: number): number => (lu > 0 && lv > 0 ? Math.acos(Math.max(-1, Math.min(1, dot(u, v) / (lu * lv)))) * DEG : 90);
  return { a, b, c, alpha: angle(vb, vc, b, c), beta: angle(va, vc, a, c), gamma: angle(va, vb, a, b) };
}

function frameInfo(h: XtcFrameHeader): XtcFrameInfo {
  return { step: h.step, timePs: h.time };
}

export interface XtcHeader {
  layout: XtcLayout;
  info: XtcInfo;
}

/** Parses frame 0 (from the first bytes) and finds the last frame from the end of the file, for the box and times. */
export async function readXtcHeader(source: ByteSource, head: Uint8Array): Promise<XtcHeader> {
  const check = checkXtcHeader(head, 0, source.size);
  if (!check.ok) throw new InputError(source.name, check.field, check.kind === 'truncated' ? `truncated XTC file: ${check.problem}` : check.problem);
  const h = check.header;
  const layout: XtcLayout = { kind: 'xtc', atoms: h.atoms, columns: 3, magic: h.magic, dataOffset: 0, dataEnd: source.size };
  const precision = h.atoms > XTC_MAX_RAW_ATOMS ? h.precision : null;
  const info: XtcInfo = { format: 'xtc', atoms: h.atoms, magic: h.magic, lengthUnit: 'nm', precision, first: frameInfo(h), warnings: [] };
  const last = await findLastFrame(source, xtcFrames(layout), h.frameBytes);
  if (last) {
    info.last = frameInfo(last);
    info.box = { first: boxFromVectors(h.box), last: boxFromVectors(last.box) };
  }
  return { layout, info };
}

/** The chain of XTC frames of one job: its magic and atom count, and how a frame decodes. */
export function xtcFrames(layout: Pick<XtcLayout, 'magic' | 'atoms'>): FrameFormat<XtcFrameHeader> {
  const expect = { magic: layout.magic, atoms: layout.atoms };
  const natom = layout.atoms;
  return {
    label: 'XTC',
    maxHeaderBytes: XTC_MAX_HEADER_BYTES,
    magic: layout.magic,
    atoms: natom,
    check: (bytes, at, rest) => checkXtcHeader(bytes, at, rest, expect),
    decode(frame, header, frameAt, out, outAt, scale) {
      if (natom <= XTC_MAX_RAW_ATOMS) {
        const view = new DataView(frame.buffer, frame.byteOffset + header.dataAt, 12 * natom);
        for (let i = 0; i < 3 * natom; i++) out[outAt + i] = view.getFloat32(4 * i) * scale;
        return natom;
      }
      const data = frame.subarray(header.dataAt, header.dataAt + header.byteCount);
      let used: number;
      try {
        used = decodeCompressed(data, header, out, outAt, scale);
      } catch (e) {
        if (e instanceof XtcDecodeError) throw new FrameError(frameAt + header.dataAt + Math.min(e.at, header.byteCount), `corrupted compressed coordinates in the XTC frame at byte ${frameAt}: ${e.message}`);
        throw e;
      }
      // Writers give the exact bytes of the bit stream (every one derives from GROMACS'
      // encoder), so any other count means damaged data.
      if (used !== header.byteCount) {
        throw new FrameError(frameAt + header.dataAt, `corrupted compressed coordinates in the XTC frame at byte ${frameAt}: decoding its ${natom} atoms takes ${used} bytes, its byte count says ${header.byteCount}`);
      }
      return natom;
    },
    time: (header) => header.time,
    box: (_frame, header) => header.box,
    recognisable: (bytes) => bytes.length >= 8 && new DataView(bytes.buffer, bytes.byteOffset, 8).getInt32(4) === natom,
    sizeNote: (at, header) => (natom <= XTC_MAX_RAW_ATOMS ? ` (${natom} atoms, stored uncompressed)` : ` (its byte count, at byte ${at + 88}, says ${header.byteCount})`),
    sizeField: (at) => (natom <= XTC_MAX_RAW_ATOMS ? at + 4 : at + 88),
  };
}

/**
 * Scans the frames that start in [start, end) into the sink, as `atoms` rows of
 * (x, y, z) per frame, in nm times options.lengthScale. Reads past `end` to finish its last frame and to check
 * the header after it.
 */
export async function scanXtc(source: ByteSource, layout: XtcLayout, start: number, end: number, sink: RowSink, options: ScanOptions = {}): Promise<ScanStats> {
  return scanFrameChain(source, xtcFrames(layout), start, end, sink, options);
}
