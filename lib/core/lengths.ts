/**
 * One length unit for every trajectory: Å. XTC and TRR store nm, DCD and AMBER NetCDF Å;
 * a result in nm for one format and Å for another would be read wrong sooner or later.
 *
 * The conversion is decided here and nowhere else: the planner passes the header facts
 * through `inAngstrom` (box lengths, and what the file stores), and `lengthScales` says
 * how every slice's rows reach Å before the analysis sees them (with each frame's unit
 * cell, for analyses that ask for it): the XTC and TRR readers multiply as they decode
 * (ScanOptions.lengthScale, no second pass over the rows), any other reader's rows go
 * through `angstromRows`. Scaling float32 values by 10 in float64 is exact (x * 10 needs
 * at most 24 + 4 significant bits), so XTC and single-precision TRR coordinates lose
 * nothing; double-precision TRR values are rounded once (the correctly rounded product).
 * Both ways give the same bits. Read with a scale of 1 (their default), the readers emit
 * what the file stores, bit for bit what MDAnalysis reads with convert_units=False.
 */
import { scaleDimensions } from './box.ts';
import type { Box } from './dcd.ts';
import type { RowSink } from './source.ts';

export const LENGTH_UNIT = 'Å';

/** What every trajectory's header facts (plan.ts's TrajectoryInfo) have that concerns lengths. */
export interface LengthFacts {
  lengthUnit: string;
  storedLengthUnit?: string;
  box?: { first: Box; last: Box };
  warnings: string[];
}

/** Å per stored unit, for the units fanout converts. */
const ANGSTROM_PER: Record<string, number> = { Å: 1, nm: 10 };

/**
 * The header facts in Å: `lengthUnit` becomes Å and `storedLengthUnit` says what the file
 * holds; box lengths are scaled (angles are not lengths). A unit fanout cannot convert
 * (a NetCDF file's own spelling) stays as it is, with a warning.
 */
export function inAngstrom<T extends LengthFacts>(info: T): T {
  const stored = info.lengthUnit;
  const scale = ANGSTROM_PER[stored];
  if (scale === undefined) {
    return { ...info, storedLengthUnit: stored, warnings: [...info.warnings, `coordinates are in ${JSON.stringify(stored)}, which fanout cannot convert to Å: lengths in the result are in the file's unit`] };
  }
  const out: T = { ...info, lengthUnit: LENGTH_UNIT, storedLengthUnit: stored };
  if (info.box) {
    const scaled = (b: Box): Box => ({ ...b, a: b.a * scale, b: b.b * scale, c: b.c * scale });
    out.box = { first: scaled(info.box.first), last: scaled(info.box.last) };
  }
  const xtc = out as T & { magic?: number; precision?: unknown; precisionMeaning?: string };
  if (xtc.magic !== undefined && typeof xtc.precision === 'number') {
    // XTC: the precision is per stored unit; said in words, so that nobody reads it per Å.
    xtc.precisionMeaning = `coordinates are stored rounded to multiples of 1/${xtc.precision} ${stored} (${Number((scale / xtc.precision).toPrecision(6))} Å)`;
  }
  return out;
}

/** What the rows of a job are multiplied by to be in Å: 1 for Å, for non-trajectories and for units left as they are. */
export function lengthScale(info: LengthFacts | undefined): number {
  if (!info || info.lengthUnit !== LENGTH_UNIT || info.storedLengthUnit === undefined) return 1;
  return ANGSTROM_PER[info.storedLengthUnit] ?? 1;
}

/** Layouts whose readers multiply lengths as they decode (ScanOptions.lengthScale). */
const SCALED_BY_READER: ReadonlySet<string> = new Set(['xtc', 'trr']);

/**
 * How the rows of a job of this layout reach Å: `reader` is the factor its reader applies
 * (ScanOptions.lengthScale), `rows` the one angstromRows applies after it; one of them is 1.
 */
export function lengthScales(info: LengthFacts | undefined, layoutKind: string): { reader: number; rows: number } {
  const scale = lengthScale(info);
  return SCALED_BY_READER.has(layoutKind) ? { reader: scale, rows: 1 } : { reader: 1, rows: scale };
}

/** `sink`, fed rows scaled by `scale` (a copy: the reader's buffer is its own). */
export function angstromRows(sink: RowSink, scale: number): RowSink {
  if (scale === 1) return sink;
  let scratch = new Float64Array(0);
  return {
    rows(values, rowCount, columns, firstRow) {
      const n = rowCount * columns;
      if (scratch.length < n) scratch = new Float64Array(n);
      for (let i = 0; i < n; i++) scratch[i] = values[i]! * scale;
      sink.rows(scratch.length === n ? scratch : scratch.subarray(0, n), rowCount, columns, firstRow);
    },
    // A frame's unit cell: its lengths by the same factor (lib/core/box.ts).
    ...(sink.box ? { box: (firstRow: number, dims: Float64Array) => sink.box!(firstRow, scaleDimensions(dims, scale)) } : {}),
    ...(sink.time ? { time: sink.time.bind(sink) } : {}),
  };
}
