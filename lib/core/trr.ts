/**
 * GROMACS TRR trajectories (full-precision positions, and optionally velocities and
 * forces), read by byte range with no index.
 *
 * A frame is big-endian XDR: magic 1993, the version string ("GMX_trn_file", as an int
 * 13, then an XDR string: its length 12 and the bytes), the sizes in bytes of the blocks
 * ir, e, box, vir, pres, top, sym, x, v, f, then natoms, step, nre, and the time and
 * lambda as reals; then the blocks box (3 x 3), vir, pres, x, v, f that have a size, of
 * float32 (single precision) or float64 (double precision, gmx_d). The precision is the
 * box size / 9 (or x, v, f size / (3 natoms) without a box). A frame's size follows
 * from its header, and repeats while its content does, but a trajectory may mix frames
 * with and without positions, velocities or forces: slices find their frames like XTC
 * slices do (frame-chain.ts).
 *
 * Analyses see positions only, in nm as stored: a frame without positions (only
 * velocities or forces, as mdrun writes when nstvout differs from nstxout) adds no rows
 * and is not counted as a frame. Double-precision positions are emitted as float64.
 */
import type { Box } from './dcd.ts';
import { InputError } from './errors.ts';
import { ByteWindow, findLastFrame, type FrameFormat, type HeaderCheck, headerProblem as fail, scanFrameChain } from './frame-chain.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from './source.ts';
import { boxFromVectors } from './xtc.ts';

export const TRR_MAGIC = 1993;
const VERSION = 'GMX_trn_file';
/** magic, 13, 12, the version string, 13 ints */
const INTS_BYTES = 24 + 13 * 4;
export const TRR_MAX_HEADER_BYTES = INTS_BYTES + 16;

export interface TrrLayout {
  kind: 'trr';
  atoms: number;
  columns: 3;
  /** frame 0 starts at byte 0; the data runs to the end of the file */
  dataOffset: 0;
  dataEnd: number;
}

export interface TrrFrameHeader {
  atoms: number;
  step: number;
  time: number;
  lambda: number;
  /** 4 (single) or 8 (double) */
  realBytes: number;
  boxBytes: number;
  virBytes: number;
  presBytes: number;
  xBytes: number;
  vBytes: number;
  fBytes: number;
  headerBytes: number;
  frameBytes: number;
}

export interface TrrFrameInfo {
  step: number;
  timePs: number;
  positions: boolean;
  velocities: boolean;
  forces: boolean;
}

/** What frame 0 (and the last frame, found from the end of the file) say, for the result document. */
export interface TrrInfo {
  format: 'trr';
  atoms: number;
  precision: 'single' | 'double';
  /** the unit of the result's lengths: the reader's nm, Å once planned (lengths.ts) */
  lengthUnit: 'nm' | 'Å';
  /** what the file stores: nm */
  storedLengthUnit?: 'nm';
  first: TrrFrameInfo;
  last?: TrrFrameInfo;
  box?: { first: Box; last: Box };
  warnings: string[];
}

const versionBytes = Uint8Array.from(VERSION, (c) => c.charCodeAt(0));

/** True when the bytes start with the TRR magic and version string. */
export function isTrrMagic(head: Uint8Array): boolean {
  if (head.length < 24) return false;
  const view = new DataView(head.buffer, head.byteOffset, 24);
  return view.getInt32(0) === TRR_MAGIC && view.getInt32(4) === 13 && view.getInt32(8) === 12 && versionBytes.every((b, i) => head[12 + i] === b);
}

/** Reads and checks the header at bytes[at..]; `rest` is how many bytes the file holds from there; `atoms` pins the atom count. */
export function checkTrrHeader(bytes: Uint8Array, at: number, rest: number, atoms?: number): HeaderCheck<TrrFrameHeader> {
  const avail = Math.min(rest, bytes.length - at);
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, Math.max(0, Math.min(avail, TRR_MAX_HEADER_BYTES)));
  if (avail < 4) return fail('truncated', 0, `the file ends ${avail} bytes into a TRR frame header`);
  const magic = view.getInt32(0);
  if (magic !== TRR_MAGIC) return fail('magic', 0, `not a TRR frame header: the magic number is ${magic}, expected ${TRR_MAGIC}`);
  if (avail < INTS_BYTES) return fail('truncated', avail, `the file ends ${avail} bytes into a TRR frame header`);
  if (view.getInt32(4) !== 13 || view.getInt32(8) !== 12 || !versionBytes.every((b, i) => view.getUint8(12 + i) === b)) {
    return fail('field', 4, 'corrupted TRR frame header: the version string is not "GMX_trn_file"');
  }
  const size = (i: number): number => view.getInt32(24 + 4 * i);
  const [ir, e, box, vir, pres, top, sym, x, v, f] = Array.from({ length: 10 }, (_, i) => size(i)) as [number, number, number, number, number, number, number, number, number, number];
  const natoms = view.getInt32(64);
  if (atoms !== undefined ? natoms !== atoms : natoms <= 0) return fail('atoms', 64, `the atom count changes: this frame has ${natoms} atoms, the first frame ${atoms}`);
  for (const [value, i, what] of [
    [ir, 0, 'ir'],
    [e, 1, 'e'],
    [top, 5, 'top'],
    [sym, 6, 'sym'],
  ] as const) {
    if (value !== 0) return fail('field', 24 + 4 * i, `a TRR frame with a ${what} block (${value} bytes): not written by GROMACS since 4.x, not supported`);
  }
  const realBytes = box ? box / 9 : x ? x / (3 * natoms) : v ? v / (3 * natoms) : f ? f / (3 * natoms) : 0;
  if (realBytes !== 4 && realBytes !== 8) return fail('field', 32, `corrupted TRR frame header: block sizes box ${box}, x ${x}, v ${v}, f ${f} for ${natoms} atoms are neither single nor double precision`);
  const blocks: [number, number, number][] = [
    [box, 2, 9],
    [vir, 3, 9],
    [pres, 4, 9],
    [x, 7, 3 * natoms],
    [v, 8, 3 * natoms],
    [f, 9, 3 * natoms],
  ];
  for (const [bytesOf, i, reals] of blocks) {
    if (bytesOf !== 0 && bytesOf !== reals * realBytes) return fail('field', 24 + 4 * i, `corrupted TRR frame header: a block of ${bytesOf} bytes where ${reals} reals of ${realBytes} bytes are expected`);
  }
  const headerBytes = INTS_BYTES + 2 * realBytes;
  if (avail < headerBytes) return fail('truncated', avail, `the file ends ${avail} bytes into a TRR frame header`);
  const real = (o: number): number => (realBytes === 4 ? view.getFloat32(o) : view.getFloat64(o));
  return {
    ok: true,
    header: {
      atoms: natoms,
      step: view.getInt32(68),
      time: real(INTS_BYTES),
      lambda: real(INTS_BYTES + realBytes),
      realBytes,
      boxBytes: box,
      virBytes: vir,
      presBytes: pres,
      xBytes: x,
      vBytes: v,
      fBytes: f,
      headerBytes,
      frameBytes: headerBytes + box + vir + pres + x + v + f,
    },
  };
}

/** The chain of TRR frames of one job: its atom count, and how a frame's positions decode. */
export function trrFrames(atoms: number): FrameFormat<TrrFrameHeader> {
  return {
    label: 'TRR',
    maxHeaderBytes: TRR_MAX_HEADER_BYTES,
    magic: TRR_MAGIC,
    atoms,
    check: (bytes, at, rest) => checkTrrHeader(bytes, at, rest, atoms),
    recognisable: (bytes) => isTrrMagic(Uint8Array.from([0, 0, TRR_MAGIC >> 8, TRR_MAGIC & 0xff, ...bytes.subarray(4, 24)])),
    decode(frame, h, _frameAt, out, outAt, scale) {
      if (h.xBytes === 0) return 0;
      const view = new DataView(frame.buffer, frame.byteOffset + h.headerBytes + h.boxBytes + h.virBytes + h.presBytes, h.xBytes);
      const n = 3 * atoms;
      if (h.realBytes === 4) for (let i = 0; i < n; i++) out[outAt + i] = view.getFloat32(4 * i) * scale;
      else for (let i = 0; i < n; i++) out[outAt + i] = view.getFloat64(8 * i) * scale;
      return atoms;
    },
    time: (h) => h.time,
    box(frame, h) {
      if (h.boxBytes === 0) return undefined;
      const view = new DataView(frame.buffer, frame.byteOffset + h.headerBytes, h.boxBytes);
      return Array.from({ length: 9 }, (_, i) => (h.realBytes === 4 ? view.getFloat32(4 * i) : view.getFloat64(8 * i)));
    },
    sizeNote: (at, h) => ` (its block sizes, from byte ${at + 32}, say box ${h.boxBytes}, x ${h.xBytes}, v ${h.vBytes}, f ${h.fBytes})`,
    sizeField: (at) => at + 24,
  };
}

function frameInfo(h: TrrFrameHeader): TrrFrameInfo {
  return { step: h.step, timePs: h.time, positions: h.xBytes > 0, velocities: h.vBytes > 0, forces: h.fBytes > 0 };
}

/** The 3 x 3 box of a frame that has one. */
async function readBox(source: ByteSource, at: number, h: TrrFrameHeader): Promise<number[] | undefined> {
  if (h.boxBytes === 0) return undefined;
  const bytes = new Uint8Array(h.boxBytes);
  let p = 0;
  for await (const chunk of source.chunks(at + h.headerBytes, at + h.headerBytes + h.boxBytes)) {
    bytes.set(chunk.subarray(0, h.boxBytes - p), p);
    p += chunk.length;
    if (p >= h.boxBytes) break;
  }
  const view = new DataView(bytes.buffer);
  return Array.from({ length: 9 }, (_, i) => (h.realBytes === 4 ? view.getFloat32(4 * i) : view.getFloat64(8 * i)));
}

export interface TrrHeader {
  layout: TrrLayout;
  info: TrrInfo;
}

/** Parses frame 0 (from the first bytes) and finds the last frame from the end of the file, for the box and times. */
export async function readTrrHeader(source: ByteSource, head: Uint8Array): Promise<TrrHeader> {
  const check = checkTrrHeader(head, 0, source.size);
  if (!check.ok) throw new InputError(source.name, check.field, check.kind === 'truncated' ? `truncated TRR file: ${check.problem}` : check.problem);
  const h = check.header;
  const layout: TrrLayout = { kind: 'trr', atoms: h.atoms, columns: 3, dataOffset: 0, dataEnd: source.size };
  const info: TrrInfo = { format: 'trr', atoms: h.atoms, precision: h.realBytes === 8 ? 'double' : 'single', lengthUnit: 'nm', first: frameInfo(h), warnings: [] };
  if (h.xBytes === 0) info.warnings.push('the first frame has no positions: frames without positions are not counted');
  const lastHeader = await findLastFrame(source, trrFrames(h.atoms), h.frameBytes);
  if (lastHeader) {
    info.last = frameInfo(lastHeader);
    const lastAt = source.size - lastHeader.frameBytes;
    // A frame may carry no box (box size 0). Read in order, MDAnalysis gives such a frame the
    // box of the frame before it, so the box of the nearest frame with one stands in, said in a warning.
    const first = h.boxBytes > 0 ? { at: 0, header: h } : await boxedFrameAfter(source, h);
    const last = lastHeader.boxBytes > 0 ? { at: lastAt, header: lastHeader } : await boxedFrameBefore(source, h.atoms, lastAt);
    const searched = `in the first ${BOX_SEARCH_BYTES / (1 << 20)} MiB`;
    if (h.boxBytes === 0) info.warnings.push(`the first frame has no unit cell: ${first ? `result.box.first is that of the frame at byte ${first.at}, the first frame with one` : `no frame ${searched} has one, so there is no result.box`}`);
    if (lastHeader.boxBytes === 0) info.warnings.push(`the last frame (at byte ${lastAt}) has no unit cell: ${last ? `result.box.last is that of the frame at byte ${last.at}, the last frame with one` : `no frame in the last ${BOX_SEARCH_BYTES / (1 << 20)} MiB has one, so there is no result.box`}`);
    const firstBox = first && (await readBox(source, first.at, first.header));
    const lastBox = last && (await readBox(source, last.at, last.header));
    if (firstBox && lastBox) info.box = { first: boxFromVectors(firstBox), last: boxFromVectors(lastBox) };
  }
  return { layout, info };
}

/** How far from the start or the end of a TRR its header read looks for a frame with a box, when the first or last frame has none. */
const BOX_SEARCH_BYTES = 64 << 20;

type PlacedFrame = { at: number; header: TrrFrameHeader };

/** The bytes [from, to) of the source (fewer where it ends). */
async function readRange(source: ByteSource, from: number, to: number): Promise<Uint8Array> {
  const win = new ByteWindow(source, to);
  try {
    return await win.peek(from, to - from);
  } finally {
    await win.close();
  }
}

/** The first frame with a box, following the chain from frame 0 (which has none) through the first BOX_SEARCH_BYTES; undefined when none is found there or the chain breaks (the scan reports that). */
async function boxedFrameAfter(source: ByteSource, first: TrrFrameHeader): Promise<PlacedFrame | undefined> {
  const bytes = await readRange(source, 0, Math.min(source.size, BOX_SEARCH_BYTES + TRR_MAX_HEADER_BYTES));
  for (let at = first.frameBytes; at < Math.min(source.size, BOX_SEARCH_BYTES); ) {
    const c = checkTrrHeader(bytes, at, source.size - at, first.atoms);
    if (!c.ok) return undefined;
    if (c.header.boxBytes > 0) return { at, header: c.header };
    at += c.header.frameBytes;
  }
  return undefined;
}

/**
 * The last frame with a box before the frame at `lastAt` (the last one, which has none):
 * in a tail of the file that grows to BOX_SEARCH_BYTES, the first magic whose chain of
 * headers reaches `lastAt` exactly gives every frame of the tail (frames are 4-byte aligned).
 */
async function boxedFrameBefore(source: ByteSource, atoms: number, lastAt: number): Promise<PlacedFrame | undefined> {
  for (let span = 1 << 20; ; span *= 4) {
    const from = Math.max(0, lastAt - Math.min(span, BOX_SEARCH_BYTES)) & ~3;
    const bytes = await readRange(source, from, lastAt + TRR_MAX_HEADER_BYTES);
    for (let q = 0; q < lastAt - from; q += 4) {
      if (bytes[q] !== 0 || bytes[q + 1] !== 0 || bytes[q + 2] !== TRR_MAGIC >> 8 || bytes[q + 3] !== (TRR_MAGIC & 0xff)) continue;
      const chain: PlacedFrame[] = [];
      let p = q;
      while (p < lastAt - from) {
        const c = checkTrrHeader(bytes, p, source.size - from - p, atoms);
        if (!c.ok) break;
        chain.push({ at: from + p, header: c.header });
        p += c.header.frameBytes;
      }
      if (p !== lastAt - from) continue;
      for (let i = chain.length - 1; i >= 0; i--) if (chain[i]!.header.boxBytes > 0) return chain[i];
      break;
    }
    if (from === 0 || span >= BOX_SEARCH_BYTES) return undefined;
  }
}

/** Scans the frames that start in [start, end) into the sink: `atoms` rows of (x, y, z) per frame with positions, in nm times options.lengthScale. */
export function scanTrr(source: ByteSource, layout: TrrLayout, start: number, end: number, sink: RowSink, options: ScanOptions = {}): Promise<ScanStats> {
  return scanFrameChain(source, trrFrames(layout.atoms), start, end, sink, options);
}
