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
 * A frame belongs to the slice that holds its first byte. A slice other than the first
 * scans its 4-byte-aligned words for the magic followed by the job's atom count and a
 * plausible header, and accepts a candidate when the chain confirms it: the next header
 * sits where the byte count says, or the file ends there (GROMACS' xtc_at_header_start
 * uses the same idea). From there it follows the chain frame by frame while frames start
 * before its end, and then checks the frame that starts at or after its end with the
 * very same test. So a frame no search would accept is always reported, by the slice
 * that owns the frame before it: a damaged frame is an error, never a frame skipped.
 * Slice 0 starts at byte 0 without searching.
 *
 * Coordinates are emitted as stored, in nm, as the float32 values every XTC reader gives.
 */
import { withScratch } from './binary-reader.ts';
import type { Box } from './dcd.ts';
import { InputError } from './errors.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from './source.ts';
import { emptyStats } from './source.ts';
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
const BLOCK_BYTES = 1 << 20;

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
  /** coordinates and box lengths are in the file's unit */
  lengthUnit: 'nm';
  /** coordinates are round(x * precision) / precision: 1000 stores 0.001 nm */
  precision: number | null;
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

type HeaderCheck =
  | { ok: true; header: XtcFrameHeader }
  | {
      ok: false;
      /** magic: the first word is not the magic; atoms: the atom count differs; truncated: the file ends inside the header; field: another field is impossible */
      kind: 'magic' | 'atoms' | 'truncated' | 'field';
      /** byte offset of the bad field from the frame start */
      field: number;
      problem: string;
    };

const fail = (kind: 'magic' | 'atoms' | 'truncated' | 'field', field: number, problem: string): HeaderCheck => ({ ok: false, kind, field, problem });

/**
 * Reads and checks the header at bytes[at..]: `rest` is how many bytes the file holds
 * from there. `expect` pins the magic and atom count (those of frame 0).
 */
export function checkXtcHeader(bytes: Uint8Array, at: number, rest: number, expect?: { magic: number; atoms: number }): HeaderCheck {
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

/**
 * Bytes of a source through one growing buffer: sequential reads are served from it and
 * read ahead up to `readAheadEnd` (the slice's end), never further than a call needs.
 */
export class ByteWindow {
  private buf = new Uint8Array(0);
  private start = 0;
  private length = 0;
  bytesRead = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly readAheadEnd: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** The bytes [at, at + len), fewer where the file ends: a view valid until the next call. */
  async get(at: number, len: number): Promise<Uint8Array> {
    const want = Math.min(at + len, this.source.size);
    if (at >= this.start && want <= this.start + this.length) return this.buf.subarray(at - this.start, want - this.start);
    const kept = at >= this.start && at < this.start + this.length ? this.start + this.length - at : 0;
    const readEnd = Math.min(this.source.size, Math.max(want, Math.min(at + BLOCK_BYTES, this.readAheadEnd)));
    const need = readEnd - at;
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.max(need, 2 * this.buf.length));
      grown.set(this.buf.subarray(at - this.start, at - this.start + kept));
      this.buf = grown;
    } else if (kept > 0) {
      this.buf.copyWithin(0, at - this.start, at - this.start + kept);
    }
    this.start = at;
    this.length = kept;
    await this.fill(at + kept, readEnd);
    return this.buf.subarray(0, Math.min(want, this.start + this.length) - at);
  }

  /** Like get, but a read outside the window does not move it (a header far ahead). */
  async peek(at: number, len: number): Promise<Uint8Array> {
    const want = Math.min(at + len, this.source.size);
    if (at >= this.start && want <= this.start + this.length) return this.buf.subarray(at - this.start, want - this.start);
    const out = new Uint8Array(Math.max(0, want - at));
    let p = at;
    for await (const chunk of this.source.chunks(at, want, this.signal)) {
      const take = Math.min(chunk.length, want - p);
      out.set(chunk.subarray(0, take), p - at);
      p += take;
      if (p >= want) break;
    }
    this.bytesRead += p - at;
    return out.subarray(0, p - at);
  }

  private async fill(from: number, to: number): Promise<void> {
    let p = from;
    if (p >= to) return;
    for await (const chunk of this.source.chunks(p, to, this.signal)) {
      const take = Math.min(chunk.length, to - p);
      this.buf.set(chunk.subarray(0, take), p - this.start);
      p += take;
      if (p >= to) break;
    }
    this.bytesRead += p - from;
    this.length = p - this.start;
  }
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
  const last = await findLastFrame(source, layout, h.frameBytes);
  if (last) {
    info.last = frameInfo(last);
    info.box = { first: boxFromVectors(h.box), last: boxFromVectors(last.box) };
  }
  return { layout, info };
}

/**
 * The header of the frame that ends exactly at the end of the file, searched backwards
 * in a tail that grows until it holds one; undefined when none is found (a damaged end
 * of file, which the scan reports).
 */
async function findLastFrame(source: ByteSource, layout: XtcLayout, frame0Bytes: number): Promise<XtcFrameHeader | undefined> {
  const size = source.size;
  const expect = { magic: layout.magic, atoms: layout.atoms };
  const win = new ByteWindow(source, size);
  for (let tail = Math.max(BLOCK_BYTES, 4 * frame0Bytes); ; tail *= 4) {
    const from = Math.max(0, size - tail) & ~3;
    const bytes = await win.get(from, size - from);
    for (let q = (size - from - RAW_HEADER_BYTES) & ~3; q >= 0; q -= 4) {
      if (bytes[q] !== 0 || bytes[q + 1] !== 0 || bytes[q + 2] !== layout.magic >> 8 || bytes[q + 3] !== (layout.magic & 0xff)) continue;
      const c = checkXtcHeader(bytes, q, size - from - q, expect);
      if (c.ok && from + q + c.header.frameBytes === size) return c.header;
    }
    if (from === 0 || tail > 64 * BLOCK_BYTES) return undefined;
  }
}

/**
 * Scans the frames that start in [start, end) into the sink, as `atoms` rows of
 * (x, y, z) per frame, in nm. Reads past `end` to finish its last frame and to check
 * the header after it.
 */
export async function scanXtc(source: ByteSource, layout: XtcLayout, start: number, end: number, sink: RowSink, options: ScanOptions = {}): Promise<ScanStats> {
  const stats = emptyStats();
  if (end <= start) return stats;
  const size = source.size;
  const natom = layout.atoms;
  const expect = { magic: layout.magic, atoms: natom };
  const win = new ByteWindow(source, Math.min(size, end + XTC_MAX_HEADER_BYTES), options.signal);
  const name = source.name;
  let reported = start;
  const progress = (at: number): void => {
    const to = Math.min(end, at);
    if (to > reported) options.onProgress?.(to - reported);
    reported = Math.max(reported, to);
  };

  /** The header at `at`, checked; with the frame it follows, for the error when it is not one. */
  const headerAt = async (at: number, prev: { at: number; header: XtcFrameHeader } | undefined): Promise<XtcFrameHeader> => {
    const bytes = await win.peek(at, XTC_MAX_HEADER_BYTES);
    const c = checkXtcHeader(bytes, 0, size - at, expect);
    if (c.ok) return c.header;
    throw await chainError(win, name, size, expect, at, c, prev);
  };
  /** The test a search applies: a header, and after it another header or the end of the file. */
  const fitsInFile = (at: number, header: XtcFrameHeader): void => {
    if (at + header.frameBytes > size) {
      throw new InputError(name, at, `truncated XTC frame: the frame at byte ${at} needs ${header.frameBytes} bytes (its byte count says ${header.byteCount}), and the file ends ${size - at} bytes after its start`);
    }
  };
  const checkFrame = async (at: number, prev: { at: number; header: XtcFrameHeader } | undefined): Promise<void> => {
    const header = await headerAt(at, prev);
    fitsInFile(at, header);
    const next = at + header.frameBytes;
    if (next < size) await headerAt(next, { at, header });
  };

  let at = start === 0 ? 0 : await findFirstFrame(win, layout, start, end, size);
  if (at < 0) {
    progress(end);
    stats.bytesRead = win.bytesRead;
    return stats;
  }
  let prev: { at: number; header: XtcFrameHeader } | undefined;
  const frameValues = natom * 3;
  const blockFrames = Math.max(1, Math.floor(BLOCK_BYTES / 8 / frameValues));
  let firstRow = 0;
  await withScratch(blockFrames * frameValues * 8, async (buffer) => {
    const values = new Float64Array(buffer, 0, blockFrames * frameValues);
    let inBlock = 0;
    const flush = (): void => {
      if (inBlock === 0) return;
      sink.rows(values, inBlock * natom, 3, firstRow);
      firstRow += inBlock * natom;
      inBlock = 0;
    };
    while (at < end) {
      // The same test as checkFrame, with the window moved along: the frame and the header after it.
      await win.get(at, XTC_MAX_HEADER_BYTES);
      const header = await headerAt(at, prev);
      fitsInFile(at, header);
      const bytes = await win.get(at, header.frameBytes + XTC_MAX_HEADER_BYTES);
      if (at + header.frameBytes < size) await headerAt(at + header.frameBytes, { at, header });
      const outAt = inBlock * frameValues;
      if (natom <= XTC_MAX_RAW_ATOMS) {
        const view = new DataView(bytes.buffer, bytes.byteOffset + header.dataAt, 12 * natom);
        for (let i = 0; i < frameValues; i++) values[outAt + i] = view.getFloat32(4 * i);
      } else {
        const data = bytes.subarray(header.dataAt, header.dataAt + header.byteCount);
        let used: number;
        try {
          used = decodeCompressed(data, header, values, outAt);
        } catch (e) {
          if (e instanceof XtcDecodeError) throw new InputError(name, at + header.dataAt + Math.min(e.at, header.byteCount), `corrupted compressed coordinates in the XTC frame at byte ${at}: ${e.message}`);
          throw e;
        }
        if (used > header.byteCount) {
          throw new InputError(name, at + header.dataAt, `corrupted compressed coordinates in the XTC frame at byte ${at}: decoding its ${natom} atoms needs ${used} bytes, its byte count says ${header.byteCount}`);
        }
      }
      if (++inBlock === blockFrames) flush();
      prev = { at, header };
      at += header.frameBytes;
      progress(at);
    }
    flush();
    // The frame after this slice's last one (or the end of the file): the check its own
    // slice's search makes, so that a frame that search would pass over is reported here.
    if (at < size) await checkFrame(at, prev);
  });
  progress(end);
  stats.rows = firstRow;
  stats.bytesRead = win.bytesRead;
  return stats;
}

/** The first frame that starts in [start, end) and that the chain confirms, or -1. */
async function findFirstFrame(win: ByteWindow, layout: XtcLayout, start: number, end: number, size: number): Promise<number> {
  const expect = { magic: layout.magic, atoms: layout.atoms };
  const m2 = layout.magic >> 8;
  const m3 = layout.magic & 0xff;
  let p = (start + 3) & ~3;
  while (p < end) {
    const span = Math.min(BLOCK_BYTES, end - p);
    const bytes = await win.get(p, span + XTC_MAX_HEADER_BYTES);
    const stop = Math.min(span, bytes.length - 3);
    for (let q = 0; q < stop; q += 4) {
      if (bytes[q + 3] !== m3 || bytes[q + 2] !== m2 || bytes[q] !== 0 || bytes[q + 1] !== 0) continue;
      const c = checkXtcHeader(bytes, q, size - p - q, expect);
      if (!c.ok) continue;
      const next = p + q + c.header.frameBytes;
      if (next === size) return p + q;
      if (next > size) continue;
      const after = await win.peek(next, XTC_MAX_HEADER_BYTES);
      if (checkXtcHeader(after, 0, size - next, expect).ok) return p + q;
    }
    p += span;
  }
  return -1;
}

/**
 * The error for a header that is not where the chain says: a damaged header (its magic
 * or atom count still recognisable), or no header at all, which means a damaged byte
 * count in the frame before (found by looking for the real next header) or bytes that
 * are not XTC after the last frame.
 */
async function chainError(
  win: ByteWindow,
  name: string,
  size: number,
  expect: { magic: number; atoms: number },
  at: number,
  c: Extract<HeaderCheck, { ok: false }>,
  prev: { at: number; header: XtcFrameHeader } | undefined,
): Promise<InputError> {
  const where = prev ? `, where the frame at byte ${prev.at} ends` : '';
  if (c.kind === 'truncated') return new InputError(name, at, `truncated XTC file: ${c.problem}${where}`);
  if (c.kind === 'field') return new InputError(name, at + c.field, `${c.problem} (the frame at byte ${at})`);
  const bytes = await win.peek(at, 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const atomsThere = bytes.length >= 8 ? view.getInt32(4) : -1;
  if (c.kind === 'atoms') return new InputError(name, at + 4, `${c.problem} (the frame at byte ${at}): every frame of a trajectory must hold the same atoms`);
  if (!prev || atomsThere === expect.atoms) return new InputError(name, at, `${c.problem}${where}`);
  // Neither the magic nor the atom count: where does the next frame really start?
  const from = prev.at + prev.header.dataAt;
  const limit = Math.min(size, prev.at + 2 * prev.header.frameBytes + BLOCK_BYTES);
  for (let p = from; p < limit; p += BLOCK_BYTES) {
    const block = await win.peek(p, Math.min(BLOCK_BYTES, limit - p) + XTC_MAX_HEADER_BYTES);
    for (let q = 0; q + 8 <= Math.min(block.length, limit - p); q += 4) {
      const h = checkXtcHeader(block, q, size - p - q, expect);
      if (h.ok && p + q !== at) {
        const countAt = prev.at + 88;
        return new InputError(
          name,
          countAt,
          `corrupted byte count in the XTC frame at byte ${prev.at}: it says ${prev.header.byteCount} bytes, so the next frame would start at byte ${at}, but the next frame header is at byte ${p + q}`,
        );
      }
    }
  }
  return new InputError(name, at, `${c.problem}${where}: bytes that are not XTC after the last frame, or a corrupted byte count at byte ${prev.at + 88}`);
}
