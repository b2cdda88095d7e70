/**
 * AMBER NetCDF trajectories (the AMBER convention, in NetCDF classic, 64-bit-offset or
 * CDF-5 files).
 *
 * A NetCDF classic file is a header (dimensions, attributes, variables with their type,
 * shape and file offset `begin`) followed by the data: fixed-size variables, then the
 * records. Variables along the unlimited dimension (here `frame`) are interleaved: record
 * i holds every record variable's values for frame i, so frame i of a variable is at its
 * begin + i x recordBytes. Frames are therefore found from the header alone, and slices
 * are cut at record boundaries, like DCD frames.
 *
 * The AMBER convention: `coordinates` (frame, atom, spatial) float32 in angstrom;
 * optional `time` (frame), `cell_lengths` and `cell_angles` (frame, 3) float64,
 * `velocities`, `forces`. Analyses see the coordinates, in Å as stored (times a
 * `scale_factor` attribute when there is one). NetCDF-4 files are HDF5 files: refused
 * with a message that says so.
 */
import { forEachUnitBlock, withScratch } from './binary-reader.ts';
import { dimensionsFromLengths } from './box.ts';
import type { Box } from './dcd.ts';
import { InputError } from './errors.ts';
import type { Segment } from './segments.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from './source.ts';
import { emptyStats } from './source.ts';

export interface NetcdfLayout {
  kind: 'netcdf';
  atoms: number;
  columns: 3;
  /** byte offset of record 0 (the first record variable's begin) */
  dataOffset: number;
  /** byte offset just past the last record */
  dataEnd: number;
  /** a trajectory in parts: each part's records (lib/core/segments.ts) */
  segments?: Segment[];
  /** one record: every record variable's values for one frame */
  frameBytes: number;
  /** where the coordinates sit in a record */
  coordinatesAt: number;
  /** 4 (float) or 8 (double) */
  coordinateBytes: number;
  /** multiplies the stored coordinates; 1 when the file has none */
  scaleFactor: number;
  /** where cell_lengths and cell_angles sit in a record, their value size and scale_factor (1 when none), when every frame has a cell */
  cell?: { lengthsAt: number; anglesAt: number; lengthBytes: number; angleBytes: number; lengthScale?: number; angleScale?: number };
  /** where `time` sits in a record, its value size, and what turns a value into ps (its scale_factor and unit), when every record has a time in a known unit */
  time?: { at: number; bytes: number; toPs: number };
}

export interface NetcdfInfo {
  format: 'netcdf';
  variant: 'classic' | '64-bit offset' | 'CDF-5';
  conventions: string;
  program?: string;
  title?: string;
  atoms: number;
  frames: number;
  /** the unit of the result's lengths: Å once planned (lengths.ts), unless the file's unit is one fanout cannot convert */
  lengthUnit: string;
  /** the coordinates' units attribute: "Å" for AMBER's "angstrom", "nm", or the file's own spelling */
  storedLengthUnit?: string;
  velocities: boolean;
  forces: boolean;
  first?: { timePs: number | null };
  last?: { timePs: number | null };
  box?: { first: Box; last: Box };
  warnings: string[];
}

const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when an HDF5 signature is at byte 0 (or 512, 1024, 2048: after a user block). */
export function isHdf5(head: Uint8Array): boolean {
  return [0, 512, 1024, 2048].some((at) => head.length >= at + 8 && HDF5_MAGIC.every((b, i) => head[at + i] === b));
}

/** True for the NetCDF classic magic: "CDF" and version 1, 2 or 5. */
export function isNetcdfMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x43 && head[1] === 0x44 && head[2] === 0x46 && (head[3] === 1 || head[3] === 2 || head[3] === 5);
}

export function hdf5Error(file: string): InputError {
  return new InputError(
    file,
    0,
    "this is an HDF5 file (H5MD, MDTraj's .h5 or NetCDF-4): only NetCDF classic and 64-bit-offset files (AMBER NetCDF trajectories) are supported; convert a NetCDF-4 file with `nccopy -k 64-bit-offset in.nc out.nc`, an MDTraj .h5 with `mdconvert -o out.xtc in.h5`",
  );
}

/** nc_type codes and their sizes in bytes. */
const TYPE_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8 };
const TYPE_NAMES: Record<number, string> = { 1: 'byte', 2: 'char', 3: 'short', 4: 'int', 5: 'float', 6: 'double', 7: 'ubyte', 8: 'ushort', 9: 'uint', 10: 'int64', 11: 'uint64' };

interface Dimension {
  name: string;
  length: number;
}
type AttrValue = string | number[];
interface Variable {
  name: string;
  dims: number[];
  attrs: Map<string, AttrValue>;
  type: number;
  begin: number;
  at: number;
}
interface Header {
  version: number;
  numrecs: number;
  dims: Dimension[];
  attrs: Map<string, AttrValue>;
  vars: Variable[];
}

/** The header ran past the bytes read: read more and parse again. */
class NeedMore extends Error {}

function parseHeader(file: string, bytes: Uint8Array, complete: boolean): Header {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = bytes[3]!;
  const wide = version === 5;
  let at = 4;
  const need = (n: number): void => {
    if (at + n > bytes.length) {
      if (complete) throw new InputError(file, bytes.length, 'truncated NetCDF header');
      throw new NeedMore();
    }
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(at);
    at += 4;
    return v;
  };
  const size = (): number => {
    if (!wide) return u32();
    need(8);
    const v = view.getUint32(at) * 2 ** 32 + view.getUint32(at + 4);
    at += 8;
    return v;
  };
  const offset = (): number => (version === 1 ? u32() : (need(8), (at += 8), view.getUint32(at - 8) * 2 ** 32 + view.getUint32(at - 4)));
  const name = (): string => {
    const n = size();
    need(n);
    const s = new TextDecoder().decode(bytes.subarray(at, at + n));
    at += Math.ceil(n / 4) * 4;
    return s;
  };
  const list = (tag: number, what: string): number => {
    const got = u32();
    const n = size();
    if (got === 0 && n === 0) return 0;
    if (got !== tag) throw new InputError(file, at - (wide ? 12 : 8), `corrupted NetCDF header: expected the ${what} list (tag ${tag}), found ${got}`);
    return n;
  };
  const attrs = (): Map<string, AttrValue> => {
    const out = new Map<string, AttrValue>();
    for (let i = 0, n = list(0x0c, 'attribute'); i < n; i++) {
      const key = name();
      const type = u32();
      const count = size();
      const tb = TYPE_BYTES[type];
      if (!tb) throw new InputError(file, at - 8, `corrupted NetCDF header: attribute ${key} has type ${type}`);
      need(count * tb);
      let value: AttrValue;
      if (type === 2) value = new TextDecoder().decode(bytes.subarray(at, at + count)).replace(/\0+$/, '');
      else {
        value = [];
        for (let k = 0; k < count; k++) {
          const o = at + k * tb;
          value.push(type === 5 ? view.getFloat32(o) : type === 6 ? view.getFloat64(o) : type === 4 ? view.getInt32(o) : type === 3 ? view.getInt16(o) : type === 1 ? view.getInt8(o) : tb === 8 ? Number(view.getBigInt64(o)) : tb === 4 ? view.getUint32(o) : tb === 2 ? view.getUint16(o) : view.getUint8(o));
        }
      }
      at += Math.ceil((count * tb) / 4) * 4;
      out.set(key, value);
    }
    return out;
  };
  need(4);
  const numrecs = wide ? size() : u32();
  const dims: Dimension[] = [];
  for (let i = 0, n = list(0x0a, 'dimension'); i < n; i++) dims.push({ name: name(), length: size() });
  const globals = attrs();
  const vars: Variable[] = [];
  for (let i = 0, n = list(0x0b, 'variable'); i < n; i++) {
    const varAt = at;
    const vname = name();
    const rank = size();
    const vdims: number[] = [];
    for (let k = 0; k < rank; k++) {
      const d = size();
      if (d >= dims.length) throw new InputError(file, at - 4, `corrupted NetCDF header: variable ${vname} uses dimension ${d} of ${dims.length}`);
      vdims.push(d);
    }
    const vattrs = attrs();
    const type = u32();
    size(); // vsize: recomputed from the shape, as it is wrong past 4 GiB
    const begin = offset();
    vars.push({ name: vname, dims: vdims, attrs: vattrs, type, begin, at: varAt });
  }
  // STREAMING: all bits set, for a file still being written
  return { version, numrecs: (!wide && numrecs === 0xffffffff) || numrecs >= 2 ** 53 ? -1 : numrecs, dims, attrs: globals, vars };
}

/** One spelling of a length unit for every format: Å or nm (as XTC, TRR and DCD say); anything else as the file says. */
function lengthUnit(units: string | undefined): string {
  if (units === undefined || /^(angstroms?|a|å)$/i.test(units)) return 'Å';
  if (/^(nanometers?|nanometres?|nm)$/i.test(units)) return 'nm';
  return units;
}

/** Picoseconds per unit of a time variable's units attribute (none: the AMBER convention's picoseconds); undefined for a unit not known. */
function timeToPs(units: string | undefined): number | undefined {
  if (units === undefined || /^(picoseconds?|ps)$/i.test(units)) return 1;
  if (/^(femtoseconds?|fs)$/i.test(units)) return 1e-3;
  if (/^(nanoseconds?|ns)$/i.test(units)) return 1e3;
  return undefined;
}

export interface NetcdfHeader {
  layout: NetcdfLayout;
  info: NetcdfInfo;
}

async function readRange(source: ByteSource, start: number, end: number): Promise<Uint8Array> {
  const out = new Uint8Array(end - start);
  let at = 0;
  for await (const chunk of source.chunks(start, end)) {
    const take = Math.min(chunk.length, out.length - at);
    out.set(chunk.subarray(0, take), at);
    at += take;
    if (at >= out.length) break;
  }
  if (at < out.length) throw new InputError(source.name, start + at, `unexpected end of file: expected data up to byte ${end}`);
  return out;
}

const text = (a: AttrValue | undefined): string | undefined => (typeof a === 'string' && a !== '' ? a : undefined);

/** Parses the header and reads the time and cell of the first and last frame. */
export async function readNetcdfHeader(source: ByteSource, head: Uint8Array): Promise<NetcdfHeader> {
  const file = source.name;
  if (isHdf5(head)) throw hdf5Error(file);
  if (!isNetcdfMagic(head)) {
    const got = Array.from(head.subarray(0, 4), (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
    throw new InputError(file, 0, `not a NetCDF file: it starts with "${got}", not "CDF" and version 1, 2 or 5`);
  }
  let bytes = head;
  let h: Header;
  for (;;) {
    try {
      h = parseHeader(file, bytes, bytes.length >= source.size);
      break;
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      bytes = await readRange(source, 0, Math.min(source.size, bytes.length * 4));
    }
  }
  const variant = h.version === 1 ? 'classic' : h.version === 2 ? '64-bit offset' : 'CDF-5';
  const recordDim = h.dims.findIndex((d) => d.length === 0);
  const isRecord = (v: Variable): boolean => v.dims.length > 0 && v.dims[0] === recordDim;
  const byName = new Map(h.vars.map((v) => [v.name, v]));
  const conventions = String(h.attrs.get('Conventions') ?? '');
  const coords = byName.get('coordinates');
  if (!coords) {
    throw new InputError(file, 0, `a NetCDF file without a "coordinates" variable${conventions ? ` (Conventions "${conventions}")` : ''}: only AMBER NetCDF trajectories are supported`);
  }
  const dimName = (i: number): string => h.dims[i]!.name;
  if (!isRecord(coords) || coords.dims.length !== 3 || h.dims[coords.dims[2]!]!.length !== 3) {
    throw new InputError(file, coords.at, `"coordinates" has dimensions (${coords.dims.map(dimName).join(', ')}): the AMBER convention is (frame, atom, spatial) with frame unlimited and spatial 3`);
  }
  if (coords.type !== 5 && coords.type !== 6) throw new InputError(file, coords.at, `"coordinates" are ${TYPE_NAMES[coords.type] ?? coords.type}: float or double expected`);
  const atoms = h.dims[coords.dims[1]!]!.length;
  if (atoms <= 0) throw new InputError(file, coords.at, 'the trajectory has no atoms');
  const warnings: string[] = [];
  if (conventions && !/\bAMBER\b/.test(conventions)) warnings.push(`the Conventions attribute is "${conventions}", not AMBER: reading its "coordinates" all the same`);

  // A record: every record variable, each padded to 4 bytes (not padded when it is the only one).
  const records = h.vars.filter(isRecord);
  const valueBytes = (v: Variable): number => v.dims.slice(1).reduce((n, d) => n * h.dims[d]!.length, TYPE_BYTES[v.type] ?? 0);
  const frameBytes = records.length === 1 ? valueBytes(records[0]!) : records.reduce((n, v) => n + Math.ceil(valueBytes(v) / 4) * 4, 0);
  const dataOffset = Math.min(...records.map((v) => v.begin));
  let frames = h.numrecs;
  if (frames < 0) {
    frames = Math.floor((source.size - dataOffset) / frameBytes);
    warnings.push(`the header does not give the number of frames (a file still being written): ${frames} whole frames from the file size`);
  }
  const dataEnd = dataOffset + frames * frameBytes;
  if (source.size < dataEnd) {
    const whole = Math.max(0, Math.floor((source.size - dataOffset) / frameBytes));
    throw new InputError(file, Math.max(dataOffset, dataOffset + whole * frameBytes), `truncated NetCDF file: the header says ${frames} frames of ${frameBytes} bytes from byte ${dataOffset}, up to byte ${dataEnd}; the file ends at byte ${source.size}, after ${whole} whole frames`);
  }
  const cellVar = (name: string): Variable | undefined => {
    const v = byName.get(name);
    return v && isRecord(v) && v.dims.length === 2 && h.dims[v.dims[1]!]!.length === 3 && (v.type === 5 || v.type === 6) ? v : undefined;
  };
  const cellLengths = cellVar('cell_lengths');
  const cellAngles = cellVar('cell_angles');
  // The AMBER convention lets any variable carry a scale_factor its values are multiplied by (LAMMPS writes them).
  const scaleOf = (v: Variable | undefined): number => {
    const a = v?.attrs.get('scale_factor');
    return Array.isArray(a) && a.length === 1 ? a[0]! : 1;
  };
  const scaleFactor = scaleOf(coords);
  const lengthScale = scaleOf(cellLengths);
  const angleScale = scaleOf(cellAngles);
  const timeVar = byName.get('time');
  const timeToPsFactor = scaleOf(timeVar) * (timeToPs(text(timeVar?.attrs.get('units'))) ?? NaN);
  const recordTime = timeVar && isRecord(timeVar) && timeVar.dims.length === 1 && (timeVar.type === 5 || timeVar.type === 6) && Number.isFinite(timeToPsFactor);
  const layout: NetcdfLayout = {
    kind: 'netcdf',
    atoms,
    columns: 3,
    dataOffset,
    dataEnd,
    frameBytes,
    coordinatesAt: coords.begin - dataOffset,
    coordinateBytes: TYPE_BYTES[coords.type]!,
    scaleFactor,
    ...(cellLengths && cellAngles
      ? {
          cell: {
            lengthsAt: cellLengths.begin - dataOffset,
            anglesAt: cellAngles.begin - dataOffset,
            lengthBytes: TYPE_BYTES[cellLengths.type]!,
            angleBytes: TYPE_BYTES[cellAngles.type]!,
            ...(lengthScale !== 1 ? { lengthScale } : {}),
            ...(angleScale !== 1 ? { angleScale } : {}),
          },
        }
      : {}),
    ...(recordTime ? { time: { at: timeVar.begin - dataOffset, bytes: TYPE_BYTES[timeVar.type]!, toPs: timeToPsFactor } } : {}),
  };
  const info: NetcdfInfo = {
    format: 'netcdf',
    variant,
    conventions,
    ...(text(h.attrs.get('program')) ? { program: text(h.attrs.get('program')) } : {}),
    ...(text(h.attrs.get('title')) ? { title: text(h.attrs.get('title')) } : {}),
    atoms,
    frames,
    lengthUnit: lengthUnit(text(coords.attrs.get('units'))),
    velocities: byName.has('velocities'),
    forces: byName.has('forces'),
    warnings,
  };
  if (scaleFactor !== 1) warnings.push(`coordinates are multiplied by their scale_factor ${scaleFactor}`);
  if (frames > 0) {
    const recordValue = async (v: Variable | undefined, frame: number, count: number): Promise<number[] | undefined> => {
      if (!v || !isRecord(v) || (v.type !== 5 && v.type !== 6)) return undefined;
      const tb = TYPE_BYTES[v.type]!;
      const at = v.begin + frame * frameBytes;
      const b = await readRange(source, at, at + count * tb);
      const dv = new DataView(b.buffer);
      return Array.from({ length: count }, (_, i) => (tb === 4 ? dv.getFloat32(4 * i) : dv.getFloat64(8 * i)));
    };
    const time = byName.get('time');
    const toPs = timeToPs(text(time?.attrs.get('units')));
    if (toPs === undefined) warnings.push(`time is in "${text(time?.attrs.get('units'))}", not a unit of time fanout knows: no times reported`);
    const timeScale = scaleOf(time) * (toPs ?? NaN);
    const t0 = await recordValue(time, 0, 1);
    const t1 = await recordValue(time, frames - 1, 1);
    const ps = (t: number[] | undefined): number | null => (t && toPs !== undefined ? (timeScale === 1 ? t[0]! : t[0]! * timeScale) : null);
    info.first = { timePs: ps(t0) };
    info.last = { timePs: ps(t1) };
    const scaled = (v: number[] | undefined, k: number): number[] | undefined => (v && k !== 1 ? v.map((x) => x * k) : v);
    const lengths = [0, frames - 1].map(async (f) => scaled(await recordValue(byName.get('cell_lengths'), f, 3), scaleOf(byName.get('cell_lengths'))));
    const angles = [0, frames - 1].map(async (f) => scaled(await recordValue(byName.get('cell_angles'), f, 3), scaleOf(byName.get('cell_angles'))));
    const [l0, l1, a0, a1] = await Promise.all([...lengths, ...angles]);
    if (l0 && l1 && a0 && a1) {
      const box = (l: number[], a: number[]): Box => ({ a: l[0]!, b: l[1]!, c: l[2]!, alpha: a[0]!, beta: a[1]!, gamma: a[2]! });
      info.box = { first: box(l0, a0), last: box(l1, a1) };
    }
  }
  return { layout, info };
}

/** Streams the records of [start, end) (on record boundaries) into the sink as `atoms` rows of (x, y, z) per frame. */
export async function scanNetcdf(source: ByteSource, layout: NetcdfLayout, start: number, end: number, sink: RowSink, options: ScanOptions = {}): Promise<ScanStats> {
  const stats = emptyStats();
  if (end <= start) return stats;
  const fb = layout.frameBytes;
  if ((start - layout.dataOffset) % fb !== 0 || (end - layout.dataOffset) % fb !== 0) throw new RangeError(`slice [${start}, ${end}) is not aligned to ${fb}-byte records`);
  const natom = layout.atoms;
  const n = natom * 3;
  let firstRow = 0;
  const blockFrames = Math.max(1, Math.min(Math.floor((1 << 20) / fb), (end - start) / fb));
  const scale = layout.scaleFactor;
  const cb = layout.coordinateBytes;
  const time = layout.time;
  stats.bytesRead = await withScratch(blockFrames * n * 8, (buffer) => {
    const out = new Float64Array(buffer, 0, blockFrames * n);
    return forEachUnitBlock(source, start, end, fb, 1, options, (bytes, frames) => {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      let o = 0;
      for (let f = 0, base = layout.coordinatesAt; f < frames; f++, base += fb) {
        if (cb === 4) for (let i = 0; i < n; i++) out[o++] = view.getFloat32(base + 4 * i);
        else for (let i = 0; i < n; i++) out[o++] = view.getFloat64(base + 8 * i);
        if (scale !== 1) for (let i = o - n; i < o; i++) out[i] = out[i]! * scale;
        if (sink.box && layout.cell) sink.box(firstRow + f * natom, cellOf(view, base - layout.coordinatesAt, layout.cell));
        if (sink.time && time) sink.time(firstRow + f * natom, timeOf(view, base - layout.coordinatesAt, time));
      }
      sink.rows(out, frames * natom, 3, firstRow);
      firstRow += frames * natom;
    });
  });
  stats.rows = firstRow;
  return stats;
}

/** A record's time in ps, as MDAnalysis reads it (times its scale_factor) and converted from fs or ns. */
function timeOf(view: DataView, record: number, time: NonNullable<NetcdfLayout['time']>): number {
  const t = time.bytes === 4 ? view.getFloat32(record + time.at) : view.getFloat64(record + time.at);
  return time.toPs === 1 ? t : t * time.toPs;
}

/** A record's cell_lengths and cell_angles as float32 dimensions (lib/core/box.ts). */
function cellOf(view: DataView, record: number, cell: NonNullable<NetcdfLayout['cell']>): Float64Array {
  const get = (at: number, bytes: number, i: number): number => (bytes === 4 ? view.getFloat32(record + at + 4 * i) : view.getFloat64(record + at + 8 * i));
  const ls = cell.lengthScale ?? 1;
  const as = cell.angleScale ?? 1;
  const l = (i: number): number => (ls === 1 ? get(cell.lengthsAt, cell.lengthBytes, i) : get(cell.lengthsAt, cell.lengthBytes, i) * ls);
  const a = (i: number): number => (as === 1 ? get(cell.anglesAt, cell.angleBytes, i) : get(cell.anglesAt, cell.angleBytes, i) * as);
  return dimensionsFromLengths(l(0), l(1), l(2), a(0), a(1), a(2));
}
