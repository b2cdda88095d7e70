/**
 * A trajectory in parts (`traj.part0001.xtc traj.part0002.xtc ...`) read as one stream of
 * frames: a ByteSource over the parts' bytes one after the other, in the order given. XTC
 * and TRR files are nothing but frames, so their concatenation is itself a valid file and
 * every slice finds its frames by the same chain. DCD and NetCDF files have a header each:
 * `joinPartHeaders` reads every part's header (a small ranged read per part) and makes one
 * layout whose frames lie in one segment per part (lib/core/segments.ts), so slices of the
 * concatenation skip the headers between parts. (.npy, text with headers: not yet.)
 *
 * Offsets inside the concatenation mean nothing to a user: `partError` turns an error at
 * such an offset into one that names the part and the offset in it.
 */
import type { Box } from './dcd.ts';
import { InputError } from './errors.ts';
import type { SegmentedLayout } from './segments.ts';
import type { ByteSource } from './source.ts';

export class PartsSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  /** starts[i] is the offset of part i in the concatenation; starts[n] is its size */
  readonly starts: number[];

  /** `name`: what the whole is called (a job file's URL); by default the first part's, and how many follow. */
  constructor(
    readonly parts: readonly ByteSource[],
    name?: string,
  ) {
    if (parts.length === 0) throw new TypeError('PartsSource needs at least one part');
    this.starts = [0];
    for (const p of parts) this.starts.push(this.starts[this.starts.length - 1]! + p.size);
    this.size = this.starts[parts.length]!;
    this.name = name ?? `${parts[0]!.name} (+${parts.length - 1} more part${parts.length > 2 ? 's' : ''})`;
  }

  /** The part holding byte `offset` of the concatenation (the last part for the end), and the offset in it. */
  locate(offset: number): { part: number; offset: number } {
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { part: lo, offset: offset - this.starts[lo]! };
  }

  async *chunks(start: number, end: number, signal?: AbortSignal, into?: Uint8Array): AsyncIterable<Uint8Array> {
    for (let i = this.locate(start).part; i < this.parts.length && this.starts[i]! < end; i++) {
      const from = Math.max(start, this.starts[i]!) - this.starts[i]!;
      const to = Math.min(end, this.starts[i + 1]!) - this.starts[i]!;
      if (to > from) yield* this.parts[i]!.chunks(from, to, signal, into);
    }
  }

  /**
   * An error at an offset of the concatenation, told as the part and the offset in it; so
   * are the offsets its problem mentions ("the frame at byte N"), with the part's name when
   * one lies in another part.
   */
  partError(e: unknown): unknown {
    if (!(e instanceof InputError) || e.file !== this.name) return e;
    const at = this.locate(Math.min(e.offset, this.size));
    const problem = e.problem.replace(/\bbyte (\d+)/g, (text, digits: string) => {
      const offset = Number(digits);
      if (offset > this.size) return text;
      const there = this.locate(offset);
      return there.part === at.part ? `byte ${there.offset}` : `byte ${there.offset} of ${this.parts[there.part]!.name}`;
    });
    return new InputError(this.parts[at.part]!.name, at.offset, problem);
  }
}

/** What a part's header gives, as the DCD and NetCDF readers return it. */
export interface PartHeader {
  layout: SegmentedLayout & { kind: string; atoms: number; frameBytes: number };
  info: {
    atoms: number;
    frames: number;
    lengthUnit: string;
    warnings: string[];
    box?: { first: Box; last: Box };
    /** DCD: the frames its header claims */
    framesInHeader?: number;
    /** NetCDF: the time of the first and last frame */
    first?: unknown;
    last?: unknown;
  };
}

/** Part headers read at once (HEADs and small GETs on S3). */
const HEADERS_IN_FLIGHT = 16;

/**
 * One header for the parts: each part's read by `read` (which checks it as it checks a
 * single file: fixed atoms, a truncated last frame... name that part), all of them checked
 * to hold frames of one layout (atoms, unit cell, record variables, byte order, length
 * unit: an error names the part that differs), joined into a layout of one segment per
 * part and the header facts of the whole: every part's frames, the first frame's time
 * and unit cell from the first part that has frames, the last frame's from the last.
 */
export async function joinPartHeaders<H extends PartHeader>(parts: PartsSource, read: (part: ByteSource) => Promise<H>): Promise<H> {
  const headers: H[] = new Array(parts.parts.length);
  for (let from = 0; from < parts.parts.length; from += HEADERS_IN_FLIGHT) {
    await Promise.all(parts.parts.slice(from, from + HEADERS_IN_FLIGHT).map(async (part, k) => (headers[from + k] = await read(part))));
  }
  const lead = headers[0]!;
  // A DCD with fixed atoms has a frame 0 of its own size at the start of each part (dcd.ts): not one run of frames.
  headers.forEach((h, i) => {
    const fixed = (h.info as { fixedAtoms?: number }).fixedAtoms;
    if (fixed) throw new InputError(parts.parts[i]!.name, 40, `${fixed} fixed atoms (NAMNF): DCD files with fixed atoms are read one by one, not as the parts of one trajectory`);
  });
  headers.forEach((h, i) => i > 0 && checkSameFrames(parts.parts[i]!.name, h, parts.parts[0]!.name, lead));
  const segments = headers.map((h, i) => ({ dataOffset: parts.starts[i]! + h.layout.dataOffset, dataEnd: parts.starts[i]! + h.layout.dataEnd }));
  const layout = { ...lead.layout, dataOffset: segments[0]!.dataOffset, dataEnd: segments[segments.length - 1]!.dataEnd, segments };
  // Frame times (NetCDF) are read only where every part stores them alike; otherwise the job has none.
  const timeOf = (h: PartHeader): string => JSON.stringify((h.layout as { time?: unknown }).time);
  if (headers.some((h) => timeOf(h) !== timeOf(lead))) delete (layout as { time?: unknown }).time;
  const withFrames = headers.filter((h) => h.info.frames > 0).map((h) => h.info);
  const first = withFrames[0];
  const last = withFrames[withFrames.length - 1];
  const sum = (of: (info: H['info']) => number): number => headers.reduce((n, h) => n + of(h.info), 0);
  const { box: _box, ...facts } = lead.info;
  const info = {
    ...facts,
    frames: sum((i) => i.frames),
    ...(lead.info.framesInHeader !== undefined ? { framesInHeader: sum((i) => i.framesInHeader ?? 0) } : {}),
    ...(first?.first !== undefined ? { first: first.first } : {}),
    ...(last?.last !== undefined ? { last: last.last } : {}),
    ...(first?.box && last?.box ? { box: { first: first.box.first, last: last.box.last } } : {}),
    warnings: partWarnings(parts, headers),
  };
  return { ...lead, layout, info };
}

/** Every part's warnings, each said once with the parts it is about. */
function partWarnings(parts: PartsSource, headers: readonly PartHeader[]): string[] {
  const byText = new Map<string, string[]>();
  headers.forEach((h, i) => {
    for (const w of h.info.warnings) byText.set(w, [...(byText.get(w) ?? []), parts.parts[i]!.name]);
  });
  return [...byText].map(([w, names]) => `${names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more parts` : names.join(', ')}: ${w}`);
}

/** What each field of a frame's layout means, in the order a difference is reported. */
const FRAME_FIELDS: Record<string, string> = {
  littleEndian: 'little-endian',
  unitCell: 'a unit cell in every frame',
  fourD: 'a fourth coordinate (W) in every frame',
  charmmVersion: 'CHARMM version (ICNTRL[19], which says how a unit cell is stored)',
  coordinateBytes: 'bytes a coordinate',
  scaleFactor: "the coordinates' scale_factor",
  frameBytes: 'bytes a frame (a NetCDF record holds every record variable: coordinates, time, cell, velocities, forces...)',
  cell: 'cell_lengths and cell_angles in every record (where in it, bytes a value)',
  coordinatesAt: 'where the coordinates sit in a record',
};
/** Header facts that change the frames' layout (NetCDF record variables), checked before it: they say why a record differs. */
const FRAME_FACTS: Record<string, string> = { velocities: 'velocities in every record', forces: 'forces in every record' };
const NOT_FRAME_FIELDS = new Set(['kind', 'atoms', 'columns', 'dataOffset', 'dataEnd', 'segments', 'time']);

function checkSameFrames(name: string, h: PartHeader, leadName: string, lead: PartHeader): void {
  const differs = (problem: string) => new InputError(name, 0, `${problem}: the parts of one trajectory need frames of one layout`);
  if (h.info.atoms !== lead.info.atoms) throw differs(`the atom count changes: this part has ${h.info.atoms} atoms, ${leadName} ${lead.info.atoms}`);
  if (h.info.lengthUnit !== lead.info.lengthUnit) throw differs(`coordinates in ${h.info.lengthUnit}, and in ${leadName} in ${lead.info.lengthUnit}`);
  const said = (v: unknown): string => (v === undefined ? 'none' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : JSON.stringify(v));
  const facts = h.info as Record<string, unknown>;
  const leadFacts = lead.info as Record<string, unknown>;
  for (const [k, label] of Object.entries(FRAME_FACTS)) {
    if (facts[k] !== leadFacts[k]) throw differs(`${label}: ${said(facts[k])} here, ${said(leadFacts[k])} in ${leadName}`);
  }
  const a = h.layout as unknown as Record<string, unknown>;
  const b = lead.layout as unknown as Record<string, unknown>;
  const fields = [...Object.keys(FRAME_FIELDS), ...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k, i, all) => all.indexOf(k) === i && !NOT_FRAME_FIELDS.has(k));
  for (const k of fields) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) throw differs(`${FRAME_FIELDS[k] ?? k}: ${said(a[k])} here, ${said(b[k])} in ${leadName}`);
  }
}
