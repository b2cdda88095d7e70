/**
 * CHARMM / NAMD / X-PLOR DCD trajectories.
 *
 * A DCD is a Fortran unformatted file: every record sits between two 4-byte length
 * markers. The header is three records (84-byte "CORD" + 20 int32 ICNTRL, the title
 * lines, NATOM); each frame is an optional 6 x float64 unit-cell record, then X, Y and
 * Z (and, with the 4-D flag, W) records of NATOM float32. Without fixed atoms every
 * frame has the same size, so frame k starts at header + k * frameBytes and slices are
 * cut at frame boundaries, like .npy records.
 *
 * With fixed atoms (NAMNF > 0, CHARMM's CONS FIX), the header ends with a record of the
 * free atoms' 1-based indices, frame 0 holds every atom, and later frames only the free
 * ones, in that order; the fixed atoms keep frame 0's coordinates (as libdcd, and so
 * MDAnalysis, reads them). Frames 1.. have one size, so the layout stays one of units of
 * frameBytes: unit 0 is the last frameBytes bytes of frame 0 (dataOffset = where frame 1
 * starts, less frameBytes), and the reader reads frame 0 whole when its range starts
 * there. Every slice reads the free-atom list and frame 0 once (per thread and file).
 *
 * Coordinates are stored per axis (all X, then all Y, then all Z), so the reader
 * transposes every frame into NATOM rows of (x, y, z): the shape every analysis sees.
 */
import { forEachUnitBlock, withScratch } from './binary-reader.ts';
import { borrowValues } from './exact-sum-wasm.ts';
import { dimensionsFromDcdCell } from './box.ts';
import { InputError } from './errors.ts';
import { type Segment, unitOffset, unitsIn } from './segments.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from './source.ts';
import { emptyStats } from './source.ts';

export interface DcdLayout {
  kind: 'dcd';
  littleEndian: boolean;
  atoms: number;
  /** x, y, z */
  columns: 3;
  /** byte offset of frame 0 */
  dataOffset: number;
  /** byte offset just past the last whole frame */
  dataEnd: number;
  /** a trajectory in parts: each part's frames (lib/core/segments.ts) */
  segments?: Segment[];
  frameBytes: number;
  unitCell: boolean;
  fourD: boolean;
  /** ICNTRL[19], which says how the unit cell is stored (see cellToBox); absent in layouts made before it was kept */
  charmmVersion?: number;
  /** fixed atoms: where the free-atom index record's values start and how many free atoms, where frame 0 starts and its size (every atom); frameBytes is then a later frame's (free atoms only) */
  fixed?: { freeAt: number; free: number; frame0At: number; frame0Bytes: number };
}

/** Box lengths (Å) and angles (degrees): alpha between b and c, beta a-c, gamma a-b. */
export interface Box {
  a: number;
  b: number;
  c: number;
  alpha: number;
  beta: number;
  gamma: number;
}

/** What the header says, for the result document. */
export interface DcdInfo {
  /** "charmm" when ICNTRL[19] (the CHARMM version) is set, else "xplor" (X-PLOR, NAMD <= 2.0) */
  variant: 'charmm' | 'xplor';
  charmmVersion: number;
  endianness: 'little' | 'big';
  atoms: number;
  /** frames in the file, from its size */
  frames: number;
  /** frames the header claims (NSET); often stale in truncated or still-written files */
  framesInHeader: number;
  istart: number;
  nsavc: number;
  /** the integration step DELTA, in AKMA time units */
  delta: number;
  /** time between saved frames, DELTA * NSAVC in ps; null when NSAVC is 0 */
  timeStepPs: number | null;
  /** time of frame 0: (ISTART / NSAVC) * timeStepPs */
  firstFrameTimePs: number | null;
  unitCell: boolean;
  fourD: boolean;
  /** NAMNF: atoms fixed at their frame-0 coordinates, stored in frame 0 only (absent when none) */
  fixedAtoms?: number;
  title: string[];
  /** unit cell of the first and last frame, when the file has one */
  box?: { first: Box; last: Box };
  /** coordinates and box lengths: CHARMM and NAMD store Å */
  lengthUnit: 'Å';
  storedLengthUnit?: 'Å';
  warnings: string[];
}

/** ps per AKMA time unit (CHARMM's internal time unit). */
export const AKMA_PS = 0.04888821;

const HEADER_RECORD_BYTES = 84;
/** bytes before the title record: marker + "CORD" + 20 int32 + marker */
const TITLE_AT = 4 + HEADER_RECORD_BYTES + 4;
const CELL_RECORD_BYTES = 48;
const ICNTRL_AT = 8;
const icntrlOffset = (i: number): number => ICNTRL_AT + 4 * i;

/** True when the bytes start with an 84-byte record holding "CORD", in either byte order. */
export function isDcdMagic(head: Uint8Array): boolean {
  if (head.length < 8) return false;
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  const marker = view.getInt32(0, true) === HEADER_RECORD_BYTES || view.getInt32(0, false) === HEADER_RECORD_BYTES;
  return marker && head[4] === 0x43 && head[5] === 0x4f && head[6] === 0x52 && head[7] === 0x44;
}

function byteOrder(file: string, head: Uint8Array): boolean {
  if (head.length < 8) throw new InputError(file, head.length, 'not a DCD file: it is shorter than the first record marker');
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  // 8-byte markers: 84 as an int64, then "CORD" (a little-endian one also reads as the int32 84)
  if (head.length >= 12 && (view.getBigInt64(0, true) === 84n || view.getBigInt64(0, false) === 84n) && head[8] === 0x43 && head[9] === 0x4f && head[10] === 0x52 && head[11] === 0x44) {
    throw new InputError(file, 0, 'DCD with 8-byte record markers: only 4-byte markers are supported (MDAnalysis does not read them either)');
  }
  if (view.getInt32(0, true) === HEADER_RECORD_BYTES) return true;
  if (view.getInt32(0, false) === HEADER_RECORD_BYTES) return false;
  if ((view.getBigInt64(0, true) === 84n || view.getBigInt64(0, false) === 84n) && head.length >= 12) {
    throw new InputError(file, 0, 'DCD with 8-byte record markers: only 4-byte markers are supported');
  }
  throw new InputError(file, 0, `not a DCD file: the first record marker is ${view.getInt32(0, true)} (little-endian) / ${view.getInt32(0, false)} (big-endian), expected 84`);
}

/** NTITLE as a count of lines that could be (or -1), for the title record's size by it. */
const MAX_TITLE_LINES = 1 << 16;

/**
 * Bytes to read for the whole header (through the NATOM record), from its first 100
 * bytes: by the title record's marker, or by NTITLE when that makes more (the header
 * parse decides which one the file follows).
 */
export function dcdHeaderBytes(file: string, head: Uint8Array): number {
  const le = byteOrder(file, head);
  if (head.length < TITLE_AT + 4) throw new InputError(file, head.length, 'truncated DCD header');
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  const titleBytes = view.getInt32(TITLE_AT, le);
  if (titleBytes < 4 || titleBytes > 1 << 24) throw new InputError(file, TITLE_AT, `corrupted DCD title record marker: ${titleBytes}`);
  const ntitle = head.length >= TITLE_AT + 8 ? view.getInt32(TITLE_AT + 4, le) : -1;
  const byCount = ntitle >= 0 && ntitle <= MAX_TITLE_LINES ? 4 + 80 * ntitle : 0;
  return TITLE_AT + 4 + Math.max(titleBytes, byCount) + 4 + 12;
}

export interface DcdHeader {
  layout: DcdLayout;
  info: DcdInfo;
}

/** Parses the header (the first dcdHeaderBytes() bytes) and checks the file size against it. */
export function parseDcdHeader(file: string, header: Uint8Array, fileBytes: number): DcdHeader {
  const le = byteOrder(file, header);
  dcdHeaderBytes(file, header); // the title marker is sane
  const view = new DataView(header.buffer, header.byteOffset, header.length);
  const int = (at: number): number => view.getInt32(at, le);
  const expectMarker = (at: number, want: number, what: string): void => {
    const got = int(at);
    if (got !== want) throw new InputError(file, at, `corrupted DCD record marker after the ${what}: ${got}, expected ${want}`);
  };
  if (!isDcdMagic(header)) throw new InputError(file, 4, 'not a DCD file: the first record does not start with "CORD"');
  expectMarker(4 + HEADER_RECORD_BYTES, HEADER_RECORD_BYTES, 'CORD record');
  const icntrl = (i: number): number => int(icntrlOffset(i));

  const charmmVersion = icntrl(19);
  const charmm = charmmVersion !== 0;
  // X-PLOR files keep DELTA as a float64 over ICNTRL[9..10] and have neither a unit
  // cell nor a 4th dimension; CHARMM (and NAMD >= 2.1) store a float32 and two flags.
  const delta = charmm ? view.getFloat32(icntrlOffset(9), le) : view.getFloat64(icntrlOffset(9), le);
  const unitCell = charmm && icntrl(10) !== 0;
  const fourD = charmm && icntrl(11) === 1;
  const namnf = icntrl(8);

  const warnings: string[] = [];
  const markerBytes = int(TITLE_AT);
  if (header.length < TITLE_AT + 8) throw new InputError(file, header.length, `truncated DCD header: it ends ${header.length} bytes in, inside the title record`);
  const ntitle = int(TITLE_AT + 4);
  // The title record's size is what its markers say. libdcd (VMD's, MDAnalysis's) reads
  // NTITLE lines whatever the markers say, and some writers (MDAnalysis's own test.dcd)
  // put markers of fewer lines around NTITLE lines: read those as libdcd does, when both
  // markers agree with each other where NTITLE puts the end and not where they put it.
  let titleBytes = markerBytes;
  const byCount = 4 + 80 * ntitle;
  const intAt = (at: number): number | undefined => (at + 4 <= header.length ? int(at) : undefined);
  if (ntitle >= 0 && ntitle <= MAX_TITLE_LINES && byCount !== markerBytes && intAt(TITLE_AT + 4 + markerBytes) !== markerBytes && intAt(TITLE_AT + 4 + byCount) === markerBytes) {
    titleBytes = byCount;
    warnings.push(`the title record markers say ${markerBytes} bytes but NTITLE ${ntitle} makes ${byCount}: read as NTITLE says, as libdcd (VMD, MDAnalysis) does`);
  }
  const total = TITLE_AT + 4 + titleBytes + 4 + 12;
  if (header.length < total || fileBytes < total) throw new InputError(file, Math.min(header.length, fileBytes), `truncated DCD header: it needs ${total} bytes`);
  expectMarker(TITLE_AT + 4 + titleBytes, markerBytes, 'title record');
  const titleText = new TextDecoder('latin1').decode(header.subarray(TITLE_AT + 8, TITLE_AT + 4 + titleBytes));
  const title: string[] = [];
  for (let i = 0; i < Math.max(0, ntitle) && i * 80 < titleText.length; i++) title.push(titleText.slice(i * 80, i * 80 + 80).trimEnd());

  const natomAt = TITLE_AT + 4 + titleBytes + 4;
  expectMarker(natomAt, 4, 'title record (the NATOM record must be 4 bytes)');
  const atoms = int(natomAt + 4);
  expectMarker(natomAt + 8, 4, 'NATOM record');
  if (atoms <= 0) throw new InputError(file, natomAt + 4, `NATOM is ${atoms}: a trajectory needs at least one atom`);
  if (namnf < 0 || namnf >= atoms) throw new InputError(file, icntrlOffset(8), `NAMNF is ${namnf} fixed atoms of ${atoms}: between 0 and NATOM - 1 expected`);

  const frameOf = (n: number): number => (unitCell ? CELL_RECORD_BYTES + 8 : 0) + (fourD ? 4 : 3) * (n * 4 + 8);
  // With fixed atoms, the free-atom list, then frame 0 with every atom; later frames hold the free ones.
  const free = atoms - namnf;
  const fixed = namnf > 0 ? { freeAt: total + 4, free, frame0At: total + 8 + 4 * free, frame0Bytes: frameOf(atoms) } : undefined;
  const frameBytes = frameOf(free);
  const firstEnd = fixed ? fixed.frame0At + fixed.frame0Bytes : total;
  if (fixed && fileBytes < firstEnd && fileBytes > total) {
    throw new InputError(file, Math.min(fileBytes, fixed.frame0At), `truncated first frame: ${namnf} fixed atoms (NAMNF) need the free-atom list and a frame 0 of every atom, up to byte ${firstEnd}; the file ends at byte ${fileBytes}`);
  }
  const later = Math.max(0, Math.floor((fileBytes - firstEnd) / frameBytes));
  const frames = fixed ? (fileBytes >= firstEnd ? 1 + later : 0) : later;
  const extra = fileBytes - firstEnd - later * frameBytes;
  if (extra > 0) {
    throw new InputError(file, firstEnd + later * frameBytes, `truncated last frame: ${extra} bytes of a ${frameBytes}-byte frame (${frames} whole frames before it)`);
  }
  // Frames 1.. at firstEnd + (k - 1) * frameBytes: unit k of the layout, unit 0 standing for frame 0.
  const dataOffset = !fixed ? total : frames > 0 ? firstEnd - frameBytes : total;
  const nset = icntrl(0);
  const istart = icntrl(1);
  const nsavc = icntrl(2);
  if (nset !== frames) warnings.push(`the header says ${nset} frames (NSET) but the file holds ${frames}: using ${frames}, from the file size`);
  const timeStepPs = nsavc !== 0 ? delta * nsavc * AKMA_PS : null;
  return {
    layout: { kind: 'dcd', littleEndian: le, atoms, columns: 3, dataOffset, dataEnd: dataOffset + frames * frameBytes, frameBytes, unitCell, fourD, charmmVersion, ...(fixed ? { fixed } : {}) },
    info: {
      variant: charmm ? 'charmm' : 'xplor',
      charmmVersion,
      endianness: le ? 'little' : 'big',
      atoms,
      frames,
      framesInHeader: nset,
      istart,
      nsavc,
      delta,
      timeStepPs,
      firstFrameTimePs: timeStepPs === null ? null : (istart / nsavc) * timeStepPs,
      unitCell,
      fourD,
      ...(fixed ? { fixedAtoms: namnf } : {}),
      title,
      lengthUnit: 'Å',
      warnings,
    },
  };
}

async function readRange(source: ByteSource, start: number, end: number): Promise<Uint8Array> {
  const out = new Uint8Array(end - start);
  let at = 0;
  for await (const chunk of source.chunks(start, end)) {
    out.set(chunk.subarray(0, out.length - at), at);
    at += chunk.length;
    if (at >= out.length) break;
  }
  if (at < out.length) throw new InputError(source.name, start + at, `unexpected end of file: expected data up to byte ${end}`);
  return out;
}

/** Reads and parses the header, then the unit cells of the first and last frame. */
export async function readDcdHeader(source: ByteSource, head: Uint8Array): Promise<DcdHeader> {
  const bytes = dcdHeaderBytes(source.name, head);
  const header = parseDcdHeader(source.name, bytes <= head.length ? head.subarray(0, bytes) : await readRange(source, 0, Math.min(bytes, source.size)), source.size);
  // The free-atom list checked now, so a damaged one is reported at planning.
  if (header.layout.fixed) await readFreeAtoms(source, header.layout);
  if (header.layout.unitCell && header.info.frames > 0) {
    const first = await readDcdCell(source, header.layout, 0);
    const last = await readDcdCell(source, header.layout, header.info.frames - 1);
    header.info.box = { first: cellToBox(first, header.info.charmmVersion), last: cellToBox(last, header.info.charmmVersion) };
  }
  return header;
}

/** The six raw float64 values of a frame's unit-cell record, markers checked. */
export async function readDcdCell(source: ByteSource, layout: DcdLayout, frame: number): Promise<number[]> {
  const at = dcdFrameOffset(layout, frame);
  const bytes = await readRange(source, at, at + CELL_RECORD_BYTES + 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const le = layout.littleEndian;
  for (const m of [0, CELL_RECORD_BYTES + 4]) {
    const got = view.getInt32(m, le);
    if (got !== CELL_RECORD_BYTES) throw new InputError(source.name, at + m, `corrupted DCD record marker in the unit cell of frame ${frame}: ${got}, expected ${CELL_RECORD_BYTES}`);
  }
  return Array.from({ length: 6 }, (_, i) => view.getFloat64(4 + 8 * i, le));
}

const DEG = 180 / Math.PI;

/** True when a unit-cell record holds a CHARMM box matrix rather than lengths and angles (see cellToBox). */
export function dcdCellIsMatrix(cell: ArrayLike<number>, charmmVersion: number): boolean {
  if (charmmVersion < 22 || charmmVersion === 24) {
    const slots = [cell[4]!, cell[3]!, cell[1]!];
    const cosines = slots.every((x) => x >= -1 && x <= 1);
    const degrees = slots.every((x) => x > 0 && x <= 180);
    if ((cosines || degrees) && cell[0]! >= 0 && cell[2]! >= 0 && cell[5]! >= 0) return false;
  }
  return true;
}

/**
 * The six unit-cell numbers as lengths and angles. CHARMM since c22 stores the lower
 * triangle of the symmetric box matrix [h11, h21, h22, h31, h32, h33]; NAMD, VMD,
 * OpenMM and MDTraj write version 24 with [A, gamma, B, beta, alpha, C], the angles as
 * cosines (or, from some writers, in degrees). So version 24 and versions before 22
 * are read as lengths and angles, unless the angles are impossible (negative or past
 * 180 degrees), which only a box matrix gives; every other CHARMM version as a matrix.
 */
export function cellToBox(cell: readonly number[], charmmVersion: number): Box {
  const [c0, c1, c2, c3, c4, c5] = cell as [number, number, number, number, number, number];
  if (!dcdCellIsMatrix(cell, charmmVersion)) {
    const slots = [c4, c3, c1];
    const cosines = slots.every((x) => x >= -1 && x <= 1);
    const [alpha, beta, gamma] = slots.map((x) => (cosines ? 90 - Math.asin(x) * DEG : x)) as [number, number, number];
    return { a: c0, b: c2, c: c5, alpha, beta, gamma };
  }
  const ra = [c0, c1, c3];
  const rb = [c1, c2, c4];
  const rc = [c3, c4, c5];
  const dot = (u: number[], v: number[]): number => u[0]! * v[0]! + u[1]! * v[1]! + u[2]! * v[2]!;
  const a = Math.sqrt(dot(ra, ra));
  const b = Math.sqrt(dot(rb, rb));
  const c = Math.sqrt(dot(rc, rc));
  const angle = (u: number[], v: number[], lu: number, lv: number): number => (lu > 0 && lv > 0 ? Math.acos(Math.max(-1, Math.min(1, dot(u, v) / (lu * lv)))) * DEG : 90);
  return { a, b, c, alpha: angle(rb, rc, b, c), beta: angle(ra, rc, a, c), gamma: angle(ra, rb, a, b) };
}

/** Where frame `frame` starts in the file (frame 0 of a file with fixed atoms is not where its unit is: see the top). */
export function dcdFrameOffset(layout: DcdLayout, frame: number): number {
  if (layout.fixed && frame === 0) return layout.fixed.frame0At;
  return unitOffset(layout, frame, layout.frameBytes);
}

/** The free atoms' 0-based indices, from the record after NATOM (markers and values checked). */
async function readFreeAtoms(source: ByteSource, layout: DcdLayout): Promise<Int32Array> {
  const { freeAt, free } = layout.fixed!;
  const bytes = await readRange(source, freeAt - 4, freeAt + 4 * free + 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const le = layout.littleEndian;
  for (const m of [0, 4 + 4 * free]) {
    const got = view.getInt32(m, le);
    if (got !== 4 * free) throw new InputError(source.name, freeAt - 4 + m, `corrupted DCD record marker of the free atom list: ${got}, expected ${4 * free} (${free} free atoms: NATOM ${layout.atoms} less NAMNF ${layout.atoms - free})`);
  }
  const out = new Int32Array(free);
  for (let k = 0; k < free; k++) {
    const index = view.getInt32(4 + 4 * k, le);
    if (index < 1 || index > layout.atoms) throw new InputError(source.name, freeAt + 4 * k, `free atom index ${index} in the free atom list: atoms are numbered 1 to NATOM ${layout.atoms}`);
    out[k] = index - 1;
  }
  return out;
}

export function frameCount(layout: DcdLayout): number {
  return unitsIn(layout, layout.frameBytes);
}

const BLOCK_BYTES = 1 << 20;
const HOST_LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Where the record markers of a frame sit (in 4-byte words from the frame's start), what
 * each must hold, and which record it belongs to: in file order, so the first bad one
 * found is the first in the file.
 */
interface FrameMarkers {
  words: Int32Array;
  want: Int32Array;
  what: string[];
}

function frameMarkers(layout: DcdLayout): FrameMarkers {
  const words: number[] = [];
  const want: number[] = [];
  const what: string[] = [];
  const record = (at: number, bytes: number, name: string): number => {
    words.push(at >> 2, (at + 4 + bytes) >> 2);
    want.push(bytes, bytes);
    what.push(name, name);
    return at + bytes + 8;
  };
  let at = layout.unitCell ? record(0, CELL_RECORD_BYTES, 'unit cell') : 0;
  for (const axis of layout.fourD ? ['X', 'Y', 'Z', 'W'] : ['X', 'Y', 'Z']) at = record(at, layout.atoms * 4, axis);
  return { words: Int32Array.from(words), want: Int32Array.from(want), what };
}

/** Word index (from the block start) of the first marker of `frames` frames that is not what it must be, or -1. */
function firstBadMarker(block: Int32Array, frames: number, frameWords: number, markers: FrameMarkers): number {
  const { words, want } = markers;
  for (let f = 0, base = 0; f < frames; f++, base += frameWords) {
    for (let m = 0; m < words.length; m++) if (block[base + words[m]!] !== want[m]) return base + words[m]!;
  }
  return -1;
}

/** Reverses the bytes of every 4-byte word of `from` into `to`: a big-endian file on a little-endian host, or the reverse. */
function swapWords(from: Int32Array, to: Int32Array): Int32Array {
  for (let i = 0; i < from.length; i++) {
    const w = from[i]!;
    to[i] = (w >>> 24) | ((w >>> 8) & 0xff00) | ((w & 0xff00) << 8) | (w << 24);
  }
  return to;
}

/**
 * Writes frames of per-axis float32 records (X at xWord, Y and Z one record further each)
 * as rows of (x, y, z): three sequential reads and one sequential write per atom, two
 * atoms a turn (a fifth faster than one: fewer loop and bounds-check instructions).
 */
function transposeFrames(coords: Float32Array, frames: number, frameWords: number, xWord: number, recordWords: number, natom: number, out: Float64Array): void {
  let o = 0;
  for (let f = 0, base = xWord; f < frames; f++, base += frameWords) {
    let x = base;
    let y = base + recordWords;
    let z = y + recordWords;
    for (const stop = base + (natom & ~1); x < stop; x += 2, y += 2, z += 2, o += 6) {
      out[o] = coords[x]!;
      out[o + 1] = coords[y]!;
      out[o + 2] = coords[z]!;
      out[o + 3] = coords[x + 1]!;
      out[o + 4] = coords[y + 1]!;
      out[o + 5] = coords[z + 1]!;
    }
    if (natom & 1) {
      out[o] = coords[x]!;
      out[o + 1] = coords[y]!;
      out[o + 2] = coords[z]!;
      o += 3;
    }
  }
}

/**
 * Streams whole frames of [start, end) (both on frame boundaries) into the sink as
 * NATOM rows of (x, y, z) per frame. Every record marker is checked: a frame with a
 * wrong marker is corrupt or the layout is wrong, and either way the numbers would be.
 */
export async function scanDcd(source: ByteSource, layout: DcdLayout, start: number, end: number, sink: RowSink, options: ScanOptions = {}): Promise<ScanStats> {
  if (layout.fixed) return scanDcdFixed(source, layout, start, end, sink, options);
  const stats = emptyStats();
  const fb = layout.frameBytes;
  if ((start - layout.dataOffset) % fb !== 0 || (end - layout.dataOffset) % fb !== 0) {
    throw new RangeError(`slice [${start}, ${end}) is not aligned to ${fb}-byte frames`);
  }
  if (end <= start) return stats;
  const natom = layout.atoms;
  // A frame, its records and their markers are all whole 4-byte words, and blocks come
  // 4-byte aligned: the block is read through Int32/Float32 views, never a DataView.
  const frameWords = fb >> 2;
  const recordWords = natom + 2;
  const xWord = (layout.unitCell ? (CELL_RECORD_BYTES + 8) >> 2 : 0) + 1;
  const markers = frameMarkers(layout);
  // As many frames as forEachUnitBlock puts in one block.
  const blockFrames = Math.max(1, Math.min(Math.floor(BLOCK_BYTES / fb), (end - start) / fb));
  const valueCount = blockFrames * natom * 3;
  const swap = layout.littleEndian !== HOST_LITTLE;
  let firstRow = 0;
  // The values live in the exact-sum kernel's memory when it has room (borrowValues), so that
  // per-atom cells add them in WebAssembly; big-endian files on a little-endian host (or the
  // reverse) are byte-swapped into a scratch buffer first.
  stats.bytesRead = await withScratch(swap ? blockFrames * fb : 0, (buffer) => borrowValues(valueCount, (values) => {
    const swapped = swap ? new Int32Array(buffer, 0, blockFrames * frameWords) : undefined;
    // Kept small on purpose: V8 inlines the sink's analysis into this function, and an
    // analysis's inner loop is only fast when its own callees (ExactSum.add) fit the
    // inlining budget too. Marker checks written here as closures used it all up.
    const emit = (bytes: Uint8Array, frames: number, at: number): void => {
      const raw = new Int32Array(bytes.buffer, bytes.byteOffset, frames * frameWords);
      const block = swapped ? swapWords(raw, swapped.subarray(0, raw.length)) : raw;
      const bad = firstBadMarker(block, frames, frameWords, markers);
      if (bad >= 0) throw markerError(source.name, layout, markers, at, bad, block[bad]!);
      transposeFrames(new Float32Array(block.buffer, block.byteOffset, block.length), frames, frameWords, xWord, recordWords, natom, values);
      if (sink.box && layout.unitCell) emitBoxes(bytes, frames, layout, firstRow, sink);
      sink.rows(values, frames * natom, 3, firstRow);
      firstRow += frames * natom;
    };
    return forEachUnitBlock(source, start, end, fb, 4, options, emit);
  }));
  stats.rows = firstRow;
  return stats;
}

/** Hands every frame's unit cell (markers already checked) to the sink, for analyses that want them. */
function emitBoxes(bytes: Uint8Array, frames: number, layout: DcdLayout, firstRow: number, sink: RowSink): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const cell = new Float64Array(6);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < 6; i++) cell[i] = view.getFloat64(f * layout.frameBytes + 4 + 8 * i, layout.littleEndian);
    sink.box!(firstRow + f * layout.atoms, dimensionsFromDcdCell(cell, dcdCellIsMatrix(cell, layout.charmmVersion ?? 0)));
  }
}

/** The error for the marker at word `word` of the block that starts at file offset `at`. */
function markerError(file: string, layout: DcdLayout, markers: FrameMarkers, at: number, word: number, got: number): InputError {
  const frameWords = layout.frameBytes >> 2;
  const m = markers.words.indexOf(word % frameWords);
  const frame = (at - layout.dataOffset) / layout.frameBytes + Math.floor(word / frameWords);
  return new InputError(file, at + word * 4, `corrupted DCD record marker in frame ${frame} (${markers.what[m]}): ${got}, expected ${markers.want[m]}`);
}

// Fixed atoms: the free-atom list and frame 0 (every atom, as rows) of the last job this
// thread (or Lambda instance) scanned, under its id, which pins the input's version: every
// slice needs both, and a thread scans one job at a time.
let fixedCache: { key: string; free: Int32Array; frame0: Float64Array; cell0?: Float64Array } | undefined;

/** A frame of `n` atoms' records at bytes[at..], markers checked, as rows into out (free: the atom of each value; none: every atom in order). */
function readFixedFrame(file: string, bytes: Uint8Array, at: number, fileAt: number, frame: number, layout: DcdLayout, n: number, free: Int32Array | undefined, out: Float64Array, sink: RowSink, firstRow: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at);
  const le = layout.littleEndian;
  const marker = (o: number, want: number, what: string): void => {
    const got = view.getInt32(o, le);
    if (got !== want) throw new InputError(file, fileAt + o, `corrupted DCD record marker in frame ${frame} (${what}): ${got}, expected ${want}`);
  };
  let o = 0;
  if (layout.unitCell) {
    marker(0, CELL_RECORD_BYTES, 'unit cell');
    marker(4 + CELL_RECORD_BYTES, CELL_RECORD_BYTES, 'unit cell');
    if (sink.box) {
      const cell = Array.from({ length: 6 }, (_, i) => view.getFloat64(4 + 8 * i, le));
      sink.box(firstRow, dimensionsFromDcdCell(cell, dcdCellIsMatrix(cell, layout.charmmVersion ?? 0)));
    }
    o = CELL_RECORD_BYTES + 8;
  }
  const axes = layout.fourD ? ['X', 'Y', 'Z', 'W'] : ['X', 'Y', 'Z'];
  for (let axis = 0; axis < axes.length; axis++, o += 4 * n + 8) {
    marker(o, 4 * n, axes[axis]!);
    marker(o + 4 + 4 * n, 4 * n, axes[axis]!);
    if (axis === 3) continue;
    for (let k = 0; k < n; k++) out[3 * (free ? free[k]! : k) + axis] = view.getFloat32(o + 4 + 4 * k, le);
  }
}

/** scanDcd for a file with fixed atoms (see the top): frame 0 read whole when [start, end) holds unit 0, later frames over frame 0's fixed atoms. */
async function scanDcdFixed(source: ByteSource, layout: DcdLayout, start: number, end: number, sink: RowSink, options: ScanOptions): Promise<ScanStats> {
  const stats = emptyStats();
  const fb = layout.frameBytes;
  const fixed = layout.fixed!;
  if ((start - layout.dataOffset) % fb !== 0 || (end - layout.dataOffset) % fb !== 0) throw new RangeError(`slice [${start}, ${end}) is not aligned to ${fb}-byte frames`);
  if (end <= start) return stats;
  const natom = layout.atoms;
  const key = options.job === undefined ? undefined : `${options.job}\0${source.name}`;
  if (key === undefined || fixedCache?.key !== key) {
    const free = await readFreeAtoms(source, layout);
    const frame0 = new Float64Array(natom * 3);
    const bytes = await readRange(source, fixed.frame0At, fixed.frame0At + fixed.frame0Bytes);
    let cell0: Float64Array | undefined;
    const keepCell: RowSink = { rows() {}, box: (_row, dims) => (cell0 = Float64Array.from(dims)) };
    readFixedFrame(source.name, bytes, 0, fixed.frame0At, 0, layout, natom, undefined, frame0, keepCell, 0);
    fixedCache = { key: key ?? '', free, frame0, ...(cell0 ? { cell0 } : {}) };
    stats.bytesRead += bytes.length + 4 * fixed.free + 8;
  }
  const { free, frame0, cell0 } = fixedCache!;
  let firstRow = 0;
  let from = start;
  if (start === layout.dataOffset) {
    // Unit 0 is frame 0: its rows as read (and its cell, for analyses that want it).
    if (sink.box && cell0) sink.box(0, cell0.slice());
    sink.rows(frame0.slice(), natom, 3, 0);
    options.onProgress?.(fb);
    firstRow = natom;
    from += fb;
  }
  if (from < end) {
    const blockFrames = Math.max(1, Math.min(Math.floor(BLOCK_BYTES / fb), (end - from) / fb));
    const values = new Float64Array(blockFrames * natom * 3);
    stats.bytesRead += await forEachUnitBlock(source, from, end, fb, 1, options, (bytes, frames, at) => {
      for (let f = 0; f < frames; f++) {
        const out = values.subarray(f * natom * 3, (f + 1) * natom * 3);
        out.set(frame0);
        const frame = (at + f * fb - layout.dataOffset) / fb;
        readFixedFrame(source.name, bytes, f * fb, at + f * fb, frame, layout, fixed.free, free, out, sink, firstRow + f * natom);
      }
      sink.rows(values, frames * natom, 3, firstRow);
      firstRow += frames * natom;
    });
  }
  stats.rows = firstRow;
  return stats;
}
