/**
 * Planning a job: recognise the input's format and layout, then cut it into slices.
 * Everything a slice needs to be scanned anywhere (a thread, a Lambda) is in the
 * JobSpec, which is plain JSON; slice bounds are computed from it, not stored.
 */
import type { AnalysisTraits } from './analysis.ts';
import { createHash } from 'node:crypto';
import type { BinaryLayout } from './binary-reader.ts';
import { rowBytes } from './binary-reader.ts';
import { type DcdInfo, type DcdLayout, isDcdMagic, readDcdHeader } from './dcd.ts';
import { sniffCompression, unsupportedCompression } from './compressed/detect.ts';
import { compressedSliceBounds, openCompressed } from './compressed/plan.ts';
import type { CompressionSpec } from './compressed/source.ts';
import { parseDType } from './dtype.ts';
import { InputError, UsageError } from './errors.ts';
import { inAngstrom } from './lengths.ts';
import { hdf5Error, isHdf5, isNetcdfMagic, type NetcdfInfo, type NetcdfLayout, readNetcdfHeader } from './netcdf.ts';
import { isNpyMagic, NPY_PREAMBLE_BYTES, npyHeaderBytes, parseNpyHeader } from './npy.ts';
import type { ByteSource } from './source.ts';
import { type TextLayout, textLayout, wideUnicodeBom } from './text/layout.ts';
import { scanText } from './text/scan.ts';
import { joinPartHeaders, type PartHeader, PartsSource } from './parts.ts';
import { unitOffset, unitRange, unitsIn } from './segments.ts';
import { FrameSelection, hasSelection, SELECTION_OPTION_NAMES, type SelectionSpec } from './selection/frame-filter.ts';
import { checkTrrHeader, isTrrMagic, readTrrHeader, type TrrInfo, type TrrLayout } from './trr.ts';
import { checkXtcHeader, isXtcMagic, readXtcHeader, type XtcInfo, type XtcLayout } from './xtc.ts';

/** The input formats fanout reads, written once: the CLI, metadata and the job documents' schema take them from here. */
export const INPUT_FORMATS = ['text', 'npy', 'raw', 'dcd', 'xtc', 'trr', 'netcdf'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];
export type Format = 'auto' | InputFormat;
/** The kinds of InputLayout (a .npy and a raw file share the binary layout). */
export const LAYOUT_KINDS = ['text', 'binary', 'dcd', 'xtc', 'trr', 'netcdf'] as const;

export interface PlanOptions {
  format?: Format;
  /** raw: element type, e.g. "<f8" */
  dtype?: string;
  /** raw: shape of one record, e.g. [50, 100] */
  recordShape?: number[];
  /** raw: bytes to skip at the start */
  headerBytes?: number;
  /** rows per frame, for inputs that do not carry frames themselves */
  frameRows?: number;
  /** text: "," "\t" ";" ..., "whitespace", or undefined to detect */
  delimiter?: string;
  /** text: header lines to skip (true: 1); undefined or false: a header line is detected */
  skipHeader?: boolean | number;
  /** text: a missing value (NA, an empty field, ...) is a bad record (fail), leaves its record out (skip) or reads as NaN (count) */
  missing?: 'fail' | 'skip' | 'count';
  /** text: the fields to read, by 0-based index or header name ("0,2", "x,y"); default: the numeric ones */
  columns?: string;
  slices?: number;
  sliceBytes?: number;
  onBadRecord?: 'fail' | 'skip';
  /** atom selections: 0-based index ranges of a frame's rows (lib/core/selection/ranges.ts) */
  atoms?: string;
  fitAtoms?: string;
  atoms2?: string;
  /** the topology file the selections were resolved on (`--topology`): its frames must have as many atoms */
  topology?: { name: string; atoms: number };
}

export interface AnalysisRef {
  /** a built-in name, or the name a module's analysis declares */
  name: string;
  /** path or bundle-relative specifier of a user module */
  module?: string;
  /** content hash of the module, so an edited analysis starts a new job */
  moduleHash?: string;
  options: Record<string, string>;
}

export interface JobSpec {
  version: 1;
  id: string;
  input: {
    name: string;
    bytes: number;
    /** what pins this exact content: an ETag or version id, or size+mtime+inode locally */
    identity: string;
    /** a trajectory in parts (lib/core/parts.ts): the files, in frame order; `bytes` is their sum */
    parts?: { name: string; bytes: number }[];
  };
  format: InputFormat;
  layout: InputLayout;
  /** compressed input: slices are in decompressed bytes, and start at these seek points */
  compression?: CompressionSpec;
  /** trajectories: what the header says (time step, title, unit cell of the first and last frame) */
  trajectory?: TrajectoryInfo;
  /** slices hold whole frames (the analysis asked for it); DCD slices always do */
  wholeFrames?: true;
  /** array shape, for .npy */
  shape?: number[];
  /** rows of the reader per record of the input (n for an (F, n, m) array) */
  rowsPerRecord: number;
  /** rows per frame, 0 without frames */
  frameRows: number;
  /** the atoms selected (canonical ranges): the analysis sees only their rows (lib/core/selection/frame-filter.ts) */
  selection?: SelectionSpec;
  analysis: AnalysisRef;
  onBadRecord: 'fail' | 'skip';
  sliceCount: number;
}

export type InputLayout = TextLayout | BinaryLayout | DcdLayout | XtcLayout | TrrLayout | NetcdfLayout;
// LAYOUT_KINDS names every kind of InputLayout and nothing else (checked when compiling).
const layoutKindsAreAll: [Exclude<InputLayout['kind'], (typeof LAYOUT_KINDS)[number]>, Exclude<(typeof LAYOUT_KINDS)[number], InputLayout['kind']>] extends [never, never] ? true : false = true;
void layoutKindsAreAll;
export type TrajectoryInfo = DcdInfo | XtcInfo | TrrInfo | NetcdfInfo;

/** Layouts whose frames differ in size: slices are byte ranges and each finds its first frame. */
const byteRangeLayout = (layout: InputLayout): layout is TextLayout | XtcLayout | TrrLayout => layout.kind === 'text' || layout.kind === 'xtc' || layout.kind === 'trr';

export interface SliceBounds {
  index: number;
  start: number;
  end: number;
}

const MiB = 1 << 20;
const TEXT_EXTENSIONS = /\.(csv|tsv|txt|dat|tab|xyz|ssv)(\.|$)/i;

/** Formats as their users spell them, in messages. */
const FORMAT_LABELS: Record<JobSpec['format'], string> = { text: 'text', npy: '.npy', raw: 'raw', dcd: 'DCD', xtc: 'XTC', trr: 'TRR', netcdf: 'NetCDF' };

/** Reads the first `bytes` bytes of a source into one buffer. */
export async function readHead(source: ByteSource, bytes: number): Promise<Uint8Array> {
  const want = Math.min(bytes, source.size);
  const out = new Uint8Array(want);
  let at = 0;
  for await (const chunk of source.chunks(0, want)) {
    out.set(chunk.subarray(0, want - at), at);
    at += chunk.length;
    if (at >= want) break;
  }
  // A stream that ends before its stated size (a compressed one's size is not its text's): what it held, no zeros after.
  return at < want ? out.subarray(0, at) : out;
}

export async function planJob(
  input: ByteSource,
  analysis: AnalysisRef & AnalysisTraits,
  opts: PlanOptions,
  identity: string,
): Promise<JobSpec> {
  if (!(input instanceof PartsSource)) return planInput(input, analysis, opts, identity);
  try {
    return await planInput(input, analysis, opts, identity);
  } catch (e) {
    throw input.partError(e);
  }
}

/**
 * Parts make one job only as a trajectory: XTC or TRR (frames and nothing else), when
 * every part starts with a frame of the first part's kind and atom count, checked here
 * before anything is scanned so that a wrong list of files fails at once; DCD or NetCDF,
 * whose parts' headers are read and checked by the planner (partHeader, joinPartHeaders).
 */
async function checkParts(parts: PartsSource, format: JobSpec['format'], head: Uint8Array, compressed: boolean): Promise<void> {
  const [first, ...rest] = parts.parts;
  if (!compressed && (format === 'dcd' || format === 'netcdf')) return;
  if (compressed || (format !== 'xtc' && format !== 'trr')) {
    throw new UsageError(
      `${parts.parts.length} inputs make one job only as trajectories (XTC, TRR, DCD or NetCDF); ${first!.name} is ${compressed ? 'compressed' : FORMAT_LABELS[format]}: run the files one by one, or join them into one file first`,
    );
  }
  const check = (bytes: Uint8Array, size: number, atoms?: number, magic?: number) =>
    format === 'xtc' ? checkXtcHeader(bytes, 0, size, atoms === undefined ? undefined : { atoms, magic: magic! }) : checkTrrHeader(bytes, 0, size, atoms);
  const lead = check(head, first!.size);
  // A first part that does not start with a frame is reported by the plan itself.
  if (!lead.ok) return;
  for (const part of rest) {
    const got = check(await readHead(part, 128), part.size, lead.header.atoms, 'magic' in lead.header ? lead.header.magic : undefined);
    if (!got.ok) throw new InputError(part.name, got.field, `${got.problem} (the parts of one trajectory: ${first!.name} starts with ${lead.header.atoms} atoms)`);
  }
}

/** A part's header read by `read`, once the part is seen to be of the job's format (the first part's). */
function partHeader<H>(format: InputFormat, opts: PlanOptions, leadName: string, read: (part: ByteSource, head: Uint8Array) => Promise<H>): (part: ByteSource) => Promise<H> {
  return async (part) => {
    const head = await readHead(part, 64 * 1024);
    const got = detectFormat(part, head, opts);
    if (got !== format) throw new InputError(part.name, 0, `this part is ${got === 'text' ? 'text' : got === 'npy' ? '.npy' : got}, and ${leadName} ${format}: the parts of one trajectory have one format`);
    return read(part, head);
  };
}

async function planInput(
  input: ByteSource,
  analysis: AnalysisRef & AnalysisTraits,
  opts: PlanOptions,
  identity: string,
): Promise<JobSpec> {
  // Compressed input is planned on its decompressed bytes (compressed/plan.ts).
  const rawHead = await readHead(input, 64 * 1024);
  const compressed = await openCompressed(input, rawHead);
  const source = compressed?.view ?? input;
  const head = compressed ? await readHead(source, 64 * 1024) : rawHead;
  const format = detectFormat(source, head, opts);
  if (input instanceof PartsSource) await checkParts(input, format, head, compressed !== undefined);
  if (compressed && format !== 'text') throw unsupportedCompression(input.name, sniffCompression(rawHead)!, `fanout reads compressed text only, and this holds ${FORMAT_LABELS[format]} data`);
  // A binary format's header is never empty: say so rather than how its first field is cut short.
  if (source.size === 0 && format !== 'text' && format !== 'raw') {
    throw new InputError(source.name, 0, `the file is empty (0 bytes), not ${format === 'npy' ? 'a .npy file' : `${/^[AEIOUX]/.test(FORMAT_LABELS[format]) ? 'an' : 'a'} ${FORMAT_LABELS[format]} trajectory`}`);
  }
  // A header as one file's reader gives it; for DCD or NetCDF parts, every part's, joined (parts.ts).
  const headerOf = <H extends PartHeader>(read: (part: ByteSource, head: Uint8Array) => Promise<H>): Promise<H> =>
    input instanceof PartsSource ? joinPartHeaders(input, partHeader(format, opts, input.parts[0]!.name, read)) : read(source, head);
  let layout: InputLayout;
  let shape: number[] | undefined;
  let trajectory: TrajectoryInfo | undefined;
  let rowsPerRecord = 1;
  let frameRows = opts.frameRows ?? 0;

  if (format === 'npy') {
    const headerBytes = npyHeaderBytes(source.name, head.subarray(0, NPY_PREAMBLE_BYTES));
    const header = parseNpyHeader(source.name, headerBytes <= head.length ? head.subarray(0, headerBytes) : await readHead(source, headerBytes), source.size);
    shape = header.shape;
    const dataEnd = header.dataOffset + header.dataBytes;
    if (source.size < dataEnd) {
      throw new InputError(source.name, source.size, `truncated .npy file: shape (${shape.join(', ')}) needs ${dataEnd} bytes, the file has ${source.size}`);
    }
    if (source.size > dataEnd) {
      throw new InputError(source.name, dataEnd, `${source.size - dataEnd} unexpected bytes after the array data`);
    }
    const columns = shape.length >= 2 ? shape[shape.length - 1]! : 1;
    const frameSize = shape.length >= 3 ? shape.slice(1, -1).reduce((a, b) => a * b, 1) : 1;
    if (frameSize === 0 && analysis.needsFrames) {
      throw new UsageError(`${analysis.name} works on frames, and ${source.name} holds frames of 0 rows (shape (${shape.join(', ')})): there is no row to sum`);
    }
    // An array with a 0 in its shape holds no values, whatever its other dimensions.
    rowsPerRecord = Math.max(1, frameSize);
    if (shape.length >= 3 && opts.frameRows === undefined) frameRows = frameSize;
    layout = { kind: 'binary', dtype: header.dtype, dataOffset: header.dataOffset, dataEnd, columns };
  } else if (format === 'dcd') {
    const dcd = await headerOf(readDcdHeader);
    layout = dcd.layout;
    trajectory = dcd.info;
    shape = [dcd.info.frames, dcd.info.atoms, 3];
    rowsPerRecord = dcd.info.atoms;
    if (opts.frameRows !== undefined && opts.frameRows !== dcd.info.atoms) {
      throw new UsageError(`--frame-rows ${opts.frameRows}: a frame of ${source.name} is its ${dcd.info.atoms} atoms`);
    }
    frameRows = dcd.info.atoms;
  } else if (format === 'xtc' || format === 'trr' || format === 'netcdf') {
    const md = format === 'xtc' ? await readXtcHeader(source, head) : format === 'trr' ? await readTrrHeader(source, head) : await headerOf(readNetcdfHeader);
    layout = md.layout;
    trajectory = md.info;
    if (md.layout.kind === 'netcdf') shape = [(md.info as NetcdfInfo).frames, md.info.atoms, 3];
    rowsPerRecord = md.info.atoms;
    if (opts.frameRows !== undefined && opts.frameRows !== md.info.atoms) {
      throw new UsageError(`--frame-rows ${opts.frameRows}: a frame of ${source.name} is its ${md.info.atoms} atoms`);
    }
    frameRows = md.info.atoms;
  } else if (format === 'raw') {
    if (!opts.dtype) throw new UsageError('--format raw needs --dtype (for example f8, <f4, >i2)');
    const dtype = parseDType(opts.dtype);
    const recordShape = opts.recordShape ?? [1];
    if (recordShape.some((d) => !Number.isInteger(d) || d < 1)) throw new UsageError('--record-shape takes positive integers, e.g. 50,100');
    const columns = recordShape[recordShape.length - 1]!;
    rowsPerRecord = recordShape.slice(0, -1).reduce((a, b) => a * b, 1);
    if (recordShape.length >= 2 && opts.frameRows === undefined) frameRows = rowsPerRecord;
    const dataOffset = opts.headerBytes ?? 0;
    if (dataOffset > source.size) throw new InputError(source.name, source.size, `the file is shorter than --header-bytes ${dataOffset}`);
    const recordBytes = rowsPerRecord * columns * dtype.bytes;
    const extra = (source.size - dataOffset) % recordBytes;
    if (extra !== 0) {
      throw new InputError(source.name, source.size - extra, `truncated last record: ${extra} bytes left over, a record is ${recordBytes} bytes`);
    }
    layout = { kind: 'binary', dtype, dataOffset, dataEnd: source.size, columns };
    shape = [(source.size - dataOffset) / recordBytes, ...recordShape];
  } else {
    layout = await planText(source, head, opts);
  }

  if (frameRows < 0 || !Number.isInteger(frameRows)) throw new UsageError('--frame-rows takes a positive integer');
  // Before asking for --frame-rows: with text, it would only lead to this.
  if (analysis.wholeFrames && layout.kind === 'text') {
    throw new UsageError(
      `${analysis.name} needs whole frames in every slice, and text input cannot be cut at frame boundaries: convert ${source.name} to .npy (frames, rows, columns) or raw binary`,
    );
  }
  if (analysis.needsFrames && frameRows === 0) {
    throw new UsageError(
      `${analysis.name} works on frames, and ${source.name} does not say how many rows make a frame: pass --frame-rows N` +
        (format === 'npy' ? ' (or save the array with shape (frames, rows, columns))' : ''),
    );
  }

  if (analysis.needsFrames && layout.kind === 'binary' && layout.columns === 0) {
    // Rows of no bytes: the scan, which counts rows by their bytes, would see no frame at all.
    throw new UsageError(
      `${analysis.name} works on frames, and ${source.name} holds rows of 0 values${shape ? ` (shape (${shape.join(', ')}))` : ''}: there are no values to analyse, and its frames cannot be counted`,
    );
  }
  if (analysis.needsBox && !hasUnitCells(layout) && analysis.options.box === undefined) {
    throw new UsageError(
      `${analysis.name} needs the unit cell of every frame, and ${source.name} (${format}) has none: give one with --option box=a,b,c or box=a,b,c,alpha,beta,gamma (lengths in the coordinates' unit, angles in degrees)`,
    );
  }
  const selection = checkSelection(opts, analysis, frameRows, source.name);
  // Filtering rows needs each row's place in its frame: slices start on frame boundaries.
  const wholeFrames = ((analysis.wholeFrames ?? false) || selection !== undefined) && frameRows > 0;
  let sliceCount = chooseSliceCount(source.size, layout, opts, wholeFrames ? frameRows : 1);
  // A text slice cannot know where its first row sits in a frame: a selection reads text in one slice.
  if (selection && layout.kind === 'text') sliceCount = 1;
  // A frame-sized state: every slice gets at least 16 frames by default, or the partials
  // (one frame's worth of sums each) would be a large part of the input (16 slices of a
  // 40-frame million-atom file wrote 80 % of its bytes again).
  if (analysis.frameSizedState && frameRows > 0 && opts.slices === undefined && opts.sliceBytes === undefined && layout.kind !== 'text' && !byteRangeLayout(layout)) {
    sliceCount = Math.min(sliceCount, Math.max(1, Math.floor(unitCount(layout, frameRows) / 16)));
  }
  const compression = compressed?.forSlices(sliceCount);
  if (compression) sliceCount = compression.points.length / 2;
  const spec: Omit<JobSpec, 'id'> = {
    version: 1,
    input: { name: input.name, bytes: input.size, identity, ...(input instanceof PartsSource ? { parts: input.parts.map((p) => ({ name: p.name, bytes: p.size })) } : {}) },
    format,
    layout,
    ...(compression ? { compression } : {}),
    ...(shape ? { shape } : {}),
    // Lengths in Å for every format (lengths.ts): the id changes with it, so no job mixes partials of two units.
    ...(trajectory ? { trajectory: inAngstrom(trajectory) } : {}),
    ...(wholeFrames ? { wholeFrames: true as const } : {}),
    rowsPerRecord,
    frameRows,
    ...(selection ? { selection } : {}),
    analysis: { name: analysis.name, ...(analysis.module ? { module: analysis.module, moduleHash: analysis.moduleHash } : {}), options: analysis.options },
    onBadRecord: opts.onBadRecord ?? 'fail',
    sliceCount,
  };
  return { id: jobId(spec), ...spec };
}

/** Inputs whose frames carry a unit cell (TRR frames may lack one: the analysis is told per frame). */
function hasUnitCells(layout: InputLayout): boolean {
  return layout.kind === 'xtc' || layout.kind === 'trr' || (layout.kind === 'dcd' && layout.unitCell) || (layout.kind === 'netcdf' && layout.cell !== undefined);
}

/** The job's selection, canonical and checked against the frame and the analysis; undefined without one. */
function checkSelection(opts: PlanOptions, analysis: AnalysisRef & AnalysisTraits, frameRows: number, name: string): SelectionSpec | undefined {
  const given: SelectionSpec = {
    ...(opts.atoms !== undefined ? { atoms: opts.atoms } : {}),
    ...(opts.fitAtoms !== undefined ? { fitAtoms: opts.fitAtoms } : {}),
    ...(opts.atoms2 !== undefined ? { atoms2: opts.atoms2 } : {}),
  };
  if (!hasSelection(given)) return undefined;
  if (opts.topology && opts.topology.atoms !== frameRows) {
    throw new UsageError(`--topology ${opts.topology.name} has ${opts.topology.atoms} atoms, and a frame of ${name} has ${frameRows} rows`);
  }
  const groups = analysis.groups ?? [];
  const refuse = (part: keyof SelectionSpec, group: string) => {
    if (given[part] !== undefined && !groups.includes(group as never)) {
      throw new UsageError(`${SELECTION_OPTION_NAMES[part]}: ${analysis.name} takes no ${part === 'fitAtoms' ? 'atoms to fit on' : 'second group of atoms'} (only --atoms)`);
    }
  };
  refuse('fitAtoms', 'fit');
  refuse('atoms2', 'other');
  if (frameRows === 0) {
    const flag = Object.keys(given).map((k) => SELECTION_OPTION_NAMES[k as keyof SelectionSpec])[0];
    throw new UsageError(`${flag} selects rows of a frame, and ${name} does not say how many rows make a frame: pass --frame-rows N`);
  }
  const selection = new FrameSelection(given, frameRows);
  // Canonical text, so that one set of atoms is one job whatever order it was written in.
  return Object.fromEntries(Object.entries(selection.describe()).map(([k, v]) => [k, v.ranges])) as SelectionSpec;
}

/** AMBER's binpos starts with "fxyz". */
function isBinpos(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x66 && head[1] === 0x78 && head[2] === 0x79 && head[3] === 0x7a;
}

/** A TNG file starts with its GENERAL INFO block: three int64 (sizes, id) and a 16-byte hash before the block's name. */
function isTng(head: Uint8Array): boolean {
  const name = 'GENERAL INFO\0';
  return head.length >= 40 + name.length && [...name].every((c, i) => head[40 + i] === c.charCodeAt(0));
}

function detectFormat(source: ByteSource, head: Uint8Array, opts: PlanOptions): JobSpec['format'] {
  const f = opts.format ?? 'auto';
  if (f !== 'auto') {
    // --format names one file format and the magic number another: say which (raw and text read any bytes).
    const byMagic = isNpyMagic(head) ? 'npy' : isDcdMagic(head) ? 'dcd' : isXtcMagic(head) ? 'xtc' : isTrrMagic(head) ? 'trr' : isNetcdfMagic(head) ? 'netcdf' : undefined;
    if (byMagic && f !== byMagic && f !== 'raw' && f !== 'text') {
      throw new InputError(source.name, 0, `--format ${f}, but this is ${FORMAT_LABELS[byMagic]} data (by its magic number): use --format ${byMagic}, or leave --format out`);
    }
    if (f === 'npy' && !isNpyMagic(head)) throw new InputError(source.name, 0, 'not a .npy file: the magic string \\x93NUMPY is missing');
    return f;
  }
  if (isNpyMagic(head)) return 'npy';
  // A .dcd that fails the magic check still goes to the DCD parser, whose error says what is wrong.
  if (isDcdMagic(head) || /\.dcd$/i.test(source.name)) return 'dcd';
  if (isXtcMagic(head) || /\.xtc$/i.test(source.name)) return 'xtc';
  if (isTrrMagic(head) || /\.trr$/i.test(source.name)) return 'trr';
  if (isNetcdfMagic(head) || /\.(nc|ncdf|netcdf)$/i.test(source.name)) return 'netcdf';
  if (isHdf5(head)) throw hdf5Error(source.name);
  if (isTng(head) || /\.tng$/i.test(source.name)) {
    const name = source.name.slice(source.name.lastIndexOf('/') + 1);
    throw new InputError(source.name, 0, `this is a TNG file (GROMACS' compressed trajectory format), which fanout does not read; convert it: gmx trjconv -f ${name} -o ${name.replace(/\.\w+$/, '')}.xtc`);
  }
  if (opts.dtype) return 'raw';
  const amber = /\.mdcrd(\.\w+)?( \(decompressed\))?$/i.test(source.name) ? 'an AMBER ASCII trajectory (mdcrd)' : isBinpos(head) || /\.binpos$/i.test(source.name) ? 'an AMBER binpos trajectory' : undefined;
  if (amber) {
    // Ten numbers a line whatever the atom count, so no --frame-rows makes a line an atom.
    const name = source.name.slice(source.name.lastIndexOf('/') + 1).replace(/ \(decompressed\)$/, '');
    throw new InputError(source.name, 0, `this is ${amber}, which fanout does not read: convert it to NetCDF: cpptraj -p TOPOLOGY -y ${name} -x ${name.replace(/\.(mdcrd|binpos)(\.\w+)?$/i, '')}.nc`);
  }
  if (/\.npy$/i.test(source.name)) throw new InputError(source.name, 0, 'not a .npy file: the magic string \\x93NUMPY is missing');
  if (wideUnicodeBom(head)) return 'text'; // which the text planner refuses by name
  const structure = structureFileKind(source.name, head);
  if (structure) {
    throw new InputError(
      source.name,
      0,
      `a ${structure} file, not a trajectory: give it with --topology ${source.name.replace(/^.*\//, '')} (atom names for --select)${structure === 'PSF topology' ? '' : ' or --reference (rmsd)'}, and the trajectory (XTC, TRR, DCD or NetCDF) as the input`,
    );
  }
  if (!TEXT_EXTENSIONS.test(source.name) && head.includes(0)) {
    const at = head.indexOf(0);
    throw new InputError(source.name, at, 'a NUL byte: this looks like binary data; use --format raw --dtype ... or --format npy, or for a trajectory --format dcd, xtc, trr or netcdf');
  }
  return 'text';
}

/** A topology or structure file given where the trajectory goes: by its extension, or a PSF by its first word. */
function structureFileKind(name: string, head: Uint8Array): string | undefined {
  if (/\.psf$/i.test(name) || new TextDecoder().decode(head.subarray(0, 4)) === 'PSF') return 'PSF topology';
  if (/\.(pdb|ent)$/i.test(name)) return 'PDB structure';
  if (/\.gro$/i.test(name)) return 'GRO structure';
  return undefined;
}

async function planText(source: ByteSource, head: Uint8Array, opts: PlanOptions): Promise<TextLayout> {
  const layout = textLayout(source.name, head, source.size, opts);
  // Learn the column count from the first record (the first good one under --on-bad-record skip).
  try {
    const learned = await scanText(source, layout, 0, source.size, { rows() {} }, { maxRecords: 1, onBadRecord: opts.onBadRecord ?? 'fail' });
    layout.columns = learned.columnsSeen;
  } catch (e) {
    // The first record has a field that is not a number: a header that was not detected
    // (the line after it is not all numbers either), or a column of text such as dates.
    if (e instanceof InputError && e.problem.startsWith('not a number')) {
      // 1,5;2,5 read with commas between fields: the ';' shows what the file is.
      const token = /^not a number: "(.*)"$/.exec(e.problem)?.[1];
      if (token !== undefined && opts.delimiter === undefined && /^[-+]?\d*;[-+]?\d/.test(token)) {
        throw new InputError(source.name, e.offset, `${e.problem} (decimal commas, with ; between fields? fanout reads decimal points only: convert them first, e.g. sed 's/,/./g; s/;/,/g')`);
      }
      const headerHint = (opts.skipHeader === undefined || opts.skipHeader === false) && layout.headerAt < 0 ? 'a header? --skip-header N skips N lines' : undefined;
      const columnsHint = opts.columns === undefined ? 'a column of text? --columns picks the columns to read' : undefined;
      const hints = [headerHint, columnsHint].filter(Boolean);
      if (hints.length > 0) throw new InputError(source.name, e.offset, `${e.problem} (${hints.join('; ')})`);
    }
    throw e;
  }
  return layout;
}

/** Bytes of the unit a slice holds a whole number of: a row, a frame of rows, a DCD frame, a NetCDF record. */
function unitBytes(layout: BinaryLayout | DcdLayout | NetcdfLayout, rowsPerUnit: number): number {
  return layout.kind === 'dcd' || layout.kind === 'netcdf' ? layout.frameBytes : rowBytes(layout) * rowsPerUnit;
}

/** Whole units (rows, or frames) in the data, every part's (segments.ts); none when a unit holds no bytes (an empty array such as shape (1000, 0)). */
function unitCount(layout: BinaryLayout | DcdLayout | NetcdfLayout, rowsPerUnit: number): number {
  return unitsIn(layout, unitBytes(layout, rowsPerUnit));
}

function chooseSliceCount(size: number, layout: InputLayout, opts: PlanOptions, rowsPerUnit: number): number {
  const units = byteRangeLayout(layout) ? size : unitCount(layout, rowsPerUnit);
  let count: number;
  if (opts.slices !== undefined) count = opts.slices;
  else if (opts.sliceBytes !== undefined) count = Math.max(1, Math.ceil(size / opts.sliceBytes));
  else {
    // 16 slices, each between 1 MiB and 64 MiB (so more for inputs over 1 GiB), whatever
    // --workers says, so that a run can be resumed with other workers. Not more: two
    // workers on 64 slices of a 300 MB CSV took 5-10 % more CPU than on 16 (A/B in turns;
    // one worker, and one thread in-process, showed no difference), cause not found.
    const target = Math.min(64 * MiB, Math.max(MiB, size / 16));
    count = Math.max(1, Math.ceil(size / target));
  }
  if (!Number.isInteger(count) || count < 1) throw new UsageError('--slices takes a positive integer');
  return Math.max(1, Math.min(count, Math.max(1, units)));
}

/** Byte bounds of slice `index`: text slices split bytes evenly, binary slices split rows. */
export function sliceBounds(spec: JobSpec, index: number): SliceBounds {
  const n = spec.sliceCount;
  const layout = spec.layout;
  if (spec.compression) return { index, ...compressedSliceBounds(spec.compression, index) };
  if (byteRangeLayout(layout)) {
    const size = spec.input.bytes;
    return { index, start: mulDiv(index, size, n), end: mulDiv(index + 1, size, n) };
  }
  const ub = unitBytes(layout, spec.wholeFrames ? spec.frameRows : 1);
  const units = unitCount(layout, spec.wholeFrames ? spec.frameRows : 1);
  const from = mulDiv(index, units, n);
  // Rows after the last whole frame (an incomplete frame) go to the last slice, whose analysis reports them.
  if (index === n - 1) return { index, start: unitOffset(layout, from, ub), end: layout.dataEnd };
  // Units of every part one after the other: a slice may start in one part and end in another (segments.ts).
  return { index, ...unitRange(layout, from, mulDiv(index + 1, units, n), ub) };
}

/** floor(a * b / c) without losing precision when a * b passes 2^53. */
function mulDiv(a: number, b: number, c: number): number {
  const p = a * b;
  if (p <= Number.MAX_SAFE_INTEGER) return Math.floor(p / c);
  return Number((BigInt(a) * BigInt(b)) / BigInt(c));
}

/** A stable id for (input identity, layout, analysis, options, slicing). */
export function jobId(spec: Omit<JobSpec, 'id'>): string {
  return createHash('sha256').update(stableStringify(spec)).digest('hex').slice(0, 20);
}

export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
