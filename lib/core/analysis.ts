/**
 * An analysis is a monoid over rows: an empty state, a way to add rows, an associative
 * combine of two adjacent states, and a finish that turns the state into the result.
 *
 * Rows come in blocks (see RowSink). `firstRow` counts rows from the start of the slice,
 * not of the file: a slice does not know where it starts. combine() receives the number
 * of rows on its left, which is enough to put the right side's rows in place (row-sums
 * rotates its per-row-of-frame buckets by leftRows mod frameRows).
 *
 * States cross process boundaries (a worker thread, a Lambda, a file on disk) as JSON,
 * through encode/decode. Encoding must be deterministic: the same rows give the same
 * bytes, so a re-run slice writes an identical partial.
 */
import { IncompleteFrameError } from './errors.ts';
import { ExactSum } from './exact-sum.ts';

export interface AnalysisContext {
  /** values per row */
  columns: number;
  /** rows per frame, 0 when the input has no frames */
  frameRows: number;
  /** free-form options for the analysis (from the command line or object metadata) */
  options: Record<string, string>;
  /**
   * When the job selects atoms (the options atoms, fit-atoms, atoms2), the analysis sees
   * only the union of the selected rows of every frame, and frameRows counts them; these
   * are the positions (0-based, ascending) of each group among the rows delivered.
   * Undefined (or a group absent): all delivered rows.
   */
  groups?: {
    /** the atoms measured: `atoms` (all delivered rows when not given) */
    measure?: Int32Array;
    /** the atoms superposed before measuring (`fit-atoms`), for analyses that fit */
    fit?: Int32Array;
    /** a second group (`atoms2`), such as the other side of an rdf */
    other?: Int32Array;
  };
  /**
   * The reference structure of an analysis that declares `reference` (rmsd, rmsf): one
   * frame, frameRows rows of `columns` values, row-major, in the rows and unit the
   * analysis is delivered. Set while scanning a slice (see referenceStructure in job.ts).
   */
  reference?: Float64Array;
}

/** The groups beyond `measure` an analysis may take: the options fit-atoms and atoms2. */
export type AnalysisGroup = 'fit' | 'other';

export interface Analysis<S = unknown, R = unknown> {
  readonly name: string;
  /** Needs frames: the runtime refuses inputs without frameRows. */
  readonly needsFrames?: boolean;
  /**
   * Needs every frame whole inside one slice (a per-frame quantity such as a radius of
   * gyration): binary and DCD slices are then cut at frame boundaries, text is refused.
   */
  readonly wholeFrames?: boolean;
  /**
   * Its state holds a value per cell of a frame (mean-structure, row-sums), so a partial is
   * as big as a frame whatever the slice: the default plan then gives every slice at least
   * 16 frames, so that partials stay a small part of the input.
   */
  readonly frameSizedState?: boolean;
  /**
   * decode(encode(s)) holds the same numbers as s (exact cells), so a runtime may fold a
   * partial it has just made from its live state, not from its encoding (the local main
   * thread does: 24 MB not read back and decoded for a million atoms). Not for states
   * whose encoding loses anything (JSON turns -0 into 0).
   */
  readonly liveFold?: boolean;
  /** The groups it uses besides the measured atoms: fit-atoms (`fit`) and atoms2 (`other`) are refused for any other analysis. */
  readonly groups?: readonly AnalysisGroup[];
  /**
   * Needs every frame's unit cell: the readers then call addBox() before the rows of each
   * frame, and inputs without unit cells are refused (unless the analysis's `box` option
   * gives one). Other analyses cost nothing for it: readers decode boxes only for these.
   */
  readonly needsBox?: boolean;
  /**
   * The unit cell of the frame whose first row is `firstRow` (counted like addRows'),
   * given before the addRows call that carries that row: (a, b, c, alpha, beta, gamma),
   * see lib/core/box.ts. `dims` is only valid during the call.
   */
  addBox?(state: S, firstRow: number, dims: Float64Array, ctx: AnalysisContext): S;
  /**
   * The time (ps) of the frame whose first row is `firstRow` (counted like addRows'), given
   * before the addRows call that carries that row, for inputs that store one per frame.
   * Readers read times only for analyses that define it.
   */
  addTime?(state: S, firstRow: number, ps: number, ctx: AnalysisContext): S;
  /**
   * Needs a reference structure in ctx.reference when it scans: a frame of the input
   * (option ref-frame, default 0) or coordinates given with the job (option reference).
   */
  readonly reference?: boolean;
  /**
   * Runs after another analysis over the same input, whose result gives its reference
   * structure (rmsf: the fitted average structure): both runtimes run `first`, then this
   * one with the option `reference` set from the first result.
   */
  readonly chain?: Chain;
  empty(ctx: AnalysisContext): S;
  addRows(state: S, values: Float64Array, rowCount: number, columns: number, firstRow: number, ctx: AnalysisContext): S;
  combine(left: S, right: S, leftRows: number, ctx: AnalysisContext): S;
  finish(state: S, rows: number, ctx: AnalysisContext): R;
  /**
   * May hold Uint8Array values, which documents carry as bytes (see encodePartial): a
   * state of a million cells is then its float64 bytes, not JSON text.
   */
  encode(state: S): unknown;
  decode(json: unknown, ctx: AnalysisContext): S;
  /**
   * The state is no longer used (it was encoded, or combined into another): its memory
   * may serve the next state of this thread. Optional; the state must not be used after.
   */
  release?(state: S): void;
}

/** What a chained analysis needs first: the analysis whose result gives its reference structure. */
export interface Chain {
  first: string;
  /** the reference structure (frameRows rows of `columns` values, row-major) from the first job's result */
  reference(result: unknown): Float64Array;
}

/** What the planner needs to know of an analysis. */
export type AnalysisTraits = Pick<Analysis, 'needsFrames' | 'wholeFrames' | 'frameSizedState' | 'groups' | 'needsBox'>;

export const traitsOf = (a: AnalysisTraits): Required<AnalysisTraits> => ({
  needsFrames: a.needsFrames ?? false,
  wholeFrames: a.wholeFrames ?? false,
  frameSizedState: a.frameSizedState ?? false,
  needsBox: a.needsBox ?? false,
  groups: a.groups ?? [],
});

/** The shape users write: one row at a time. */
export interface AnalysisDefinition<S, R> {
  name: string;
  needsFrames?: boolean;
  wholeFrames?: boolean;
  frameSizedState?: boolean;
  /** Gets every frame's unit cell through addBox (see Analysis.needsBox). */
  needsBox?: boolean;
  addBox?(state: S, firstRow: number, dims: Float64Array, ctx: AnalysisContext): S | void;
  /** Gets every frame's time (ps) before its rows, for inputs that store one (see Analysis.addTime). */
  addTime?(state: S, firstRow: number, ps: number, ctx: AnalysisContext): S | void;
  groups?: readonly AnalysisGroup[];
  empty(ctx: AnalysisContext): S;
  /** `row` is only valid during the call; `rowIndex` counts from the start of the slice. */
  add(state: S, row: Float64Array, rowIndex: number, ctx: AnalysisContext): S | void;
  combine(left: S, right: S, leftRows: number, ctx: AnalysisContext): S;
  finish(state: S, rows: number, ctx: AnalysisContext): R;
  /** Defaults to JSON, with ExactSum values and non-finite numbers kept. */
  encode?(state: S): unknown;
  decode?(json: unknown, ctx: AnalysisContext): S;
}

/** Builds an Analysis from a row-at-a-time definition. */
export function defineAnalysis<S, R>(def: AnalysisDefinition<S, R>): Analysis<S, R> {
  return {
    name: def.name,
    needsFrames: def.needsFrames ?? false,
    wholeFrames: def.wholeFrames ?? false,
    frameSizedState: def.frameSizedState ?? false,
    needsBox: def.needsBox ?? false,
    ...(def.addBox ? { addBox: (state: S, firstRow: number, dims: Float64Array, ctx: AnalysisContext) => def.addBox!(state, firstRow, dims, ctx) ?? state } : {}),
    ...(def.addTime ? { addTime: (state: S, firstRow: number, ps: number, ctx: AnalysisContext) => def.addTime!(state, firstRow, ps, ctx) ?? state } : {}),
    ...(def.groups ? { groups: def.groups } : {}),
    empty: (ctx) => def.empty(ctx),
    addRows(state, values, rowCount, columns, firstRow, ctx) {
      let s = state;
      for (let r = 0; r < rowCount; r++) {
        const next = def.add(s, values.subarray(r * columns, (r + 1) * columns), firstRow + r, ctx);
        if (next !== undefined) s = next;
      }
      return s;
    },
    combine: (l, r, leftRows, ctx) => def.combine(l, r, leftRows, ctx),
    finish: (s, rows, ctx) => def.finish(s, rows, ctx),
    encode: def.encode ? (s) => def.encode!(s) : (s) => toPortable(s),
    decode: def.decode ? (j, ctx) => def.decode!(j, ctx) : (j) => fromPortable(j) as S,
  };
}

/**
 * JSON-safe copy of a value: ExactSum becomes {"$exact": ...}, NaN and infinities
 * become {"$num": "NaN"}, typed arrays become plain arrays.
 */
export function toPortable(value: unknown): unknown {
  if (typeof value === 'number') return Number.isFinite(value) ? value : { $num: String(value) };
  if (value instanceof ExactSum) return { $exact: value.toJSON() };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>, toPortable);
  if (Array.isArray(value)) return value.map(toPortable);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toPortable(v);
    return out;
  }
  return value;
}

export function fromPortable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromPortable);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if ('$exact' in o) return ExactSum.fromJSON(o.$exact as never);
    if ('$num' in o) return Number(o.$num);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = fromPortable(v);
    return out;
  }
  return value;
}

/** A finite number, or null where JSON has no number (NaN, infinities). */
export function jsonNumber(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** The number of whole frames in `rows` rows; a trailing incomplete frame is an error (the runtime adds its byte offset). */
export function wholeFrameCount(rows: number, frameRows: number): number {
  const extra = rows % frameRows;
  if (extra !== 0) throw new IncompleteFrameError(rows - extra, extra, frameRows);
  return rows / frameRows;
}

/**
 * Merges exact sums kept per row of a frame (`width` cells per row) from the right side
 * into the left one. A slice keys its cells by its own row index, so the right side's
 * cells move by the number of rows on the left, modulo the frame.
 */
export function mergeFrameCells(left: ExactSum[], right: readonly ExactSum[], leftRows: number, frameRows: number, width = 1): void {
  const cells = frameRows * width;
  const shift = (leftRows % frameRows) * width;
  right.forEach((s, k) => left[(k + shift) % cells]!.merge(s));
}
