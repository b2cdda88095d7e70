/**
 * The rows of a frame an analysis sees when a job selects atoms (`atoms`, `fitAtoms`,
 * `atoms2`): the union of the selected rows of every frame, in frame order. One place
 * filters (the sink of lib/core/job.ts's scanSlice); the analyses see a frame of
 * `count` rows, and `groups` says where each group's atoms sit among them.
 *
 * Filtering needs each row's place in its frame, so a selecting job's slices start on
 * frame boundaries (the planner makes sure: whole-frame slices for binary layouts, one
 * slice for text, whose slices cannot know their first row's place).
 */
import type { AnalysisContext } from '../analysis.ts';
import { UsageError } from '../errors.ts';
import type { RowSink } from '../source.ts';
import { countOf, formatRanges, parseRanges, positionsWithin, type Ranges, RangesSyntaxError, unionOf } from './ranges.ts';

/** A job's selection as the job spec holds it: canonical ranges (lib/core/selection/ranges.ts). */
export interface SelectionSpec {
  atoms?: string;
  fitAtoms?: string;
  atoms2?: string;
}

/** The option that sets each part of a selection, as a user writes it (flag, then metadata). */
export const SELECTION_OPTION_NAMES: Record<keyof SelectionSpec, string> = { atoms: '--atoms (fanout-atoms)', fitAtoms: '--fit-atoms (fanout-fit-atoms)', atoms2: '--atoms2 (fanout-atoms2)' };

export const hasSelection = (s: SelectionSpec | undefined): s is SelectionSpec => s !== undefined && (s.atoms !== undefined || s.fitAtoms !== undefined || s.atoms2 !== undefined);

/** What the result says of a selection: per group, the atom count and the canonical ranges. */
export type SelectionDoc = { [K in keyof SelectionSpec]?: { count: number; ranges: string } };

export class FrameSelection {
  /** the rows of a frame delivered: the union of the groups */
  readonly union: Ranges;
  /** rows delivered per frame */
  readonly count: number;
  private readonly runStart: Int32Array;
  private readonly runEnd: Int32Array; // exclusive
  private readonly runBefore: Int32Array; // delivered rows of a frame before the run
  private scratch = new Float64Array(0);
  private groupsMemo: NonNullable<AnalysisContext['groups']> | undefined;

  constructor(
    readonly spec: SelectionSpec,
    /** rows per frame of the input */
    readonly frameRows: number,
  ) {
    const all: Ranges = frameRows > 0 ? [[0, frameRows - 1]] : [];
    this.union = unionOf(this.ranges('atoms') ?? all, this.ranges('fitAtoms') ?? [], this.ranges('atoms2') ?? []);
    this.count = countOf(this.union);
    const n = this.union.length;
    this.runStart = new Int32Array(n);
    this.runEnd = new Int32Array(n);
    this.runBefore = new Int32Array(n);
    let before = 0;
    this.union.forEach(([a, b], i) => {
      this.runStart[i] = a;
      this.runEnd[i] = b + 1;
      this.runBefore[i] = before;
      before += b - a + 1;
    });
  }

  /** One part's ranges, checked against the frame: an index past it is a UsageError naming the index and the atom count. */
  ranges(part: keyof SelectionSpec): Ranges | undefined {
    const text = this.spec[part];
    if (text === undefined) return undefined;
    let ranges: Ranges;
    try {
      ranges = parseRanges(text);
    } catch (e) {
      if (e instanceof RangesSyntaxError) throw new UsageError(`${SELECTION_OPTION_NAMES[part]} ${e.message}`);
      throw e;
    }
    const last = ranges[ranges.length - 1]![1];
    if (last >= this.frameRows) {
      throw new UsageError(`${SELECTION_OPTION_NAMES[part]} ${text}: atom index ${last} is not in a frame of ${this.frameRows} atoms (indices are 0-based: 0 to ${this.frameRows - 1})`);
    }
    return ranges;
  }

  /** Delivered rows before input row `p` of a frame (0 <= p <= frameRows). */
  rank(p: number): number {
    // the last run starting before p
    let lo = 0;
    let hi = this.runStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.runStart[mid]! < p) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return 0;
    const r = lo - 1;
    return this.runBefore[r]! + Math.min(p, this.runEnd[r]!) - this.runStart[r]!;
  }

  /** Rows delivered out of `rows` input rows that start on a frame boundary. */
  delivered(rows: number): number {
    const frames = Math.floor(rows / this.frameRows);
    return frames * this.count + this.rank(rows - frames * this.frameRows);
  }

  /** Where each group's atoms sit among the delivered rows (AnalysisContext.groups). */
  groups(): NonNullable<AnalysisContext['groups']> {
    if (this.groupsMemo) return this.groupsMemo;
    const at = (part: keyof SelectionSpec) => {
      const r = this.ranges(part);
      return r === undefined ? undefined : positionsWithin(this.union, r);
    };
    const measure = at('atoms') ?? Int32Array.from({ length: this.count }, (_, i) => i);
    const fit = at('fitAtoms');
    const other = at('atoms2');
    this.groupsMemo = { measure, ...(fit ? { fit } : {}), ...(other ? { other } : {}) };
    return this.groupsMemo;
  }

  /** What the result document says of the selection. */
  describe(): SelectionDoc {
    const doc: SelectionDoc = {};
    for (const part of ['atoms', 'fitAtoms', 'atoms2'] as const) {
      const r = this.ranges(part);
      if (r) doc[part] = { count: countOf(r), ranges: formatRanges(r) };
    }
    return doc;
  }

  /**
   * A sink that hands `inner` only the selected rows, renumbered: input row `r` of a
   * slice (slices start on frame boundaries) is delivered as row
   * floor(r / frameRows) * count + its rank among the selected rows of its frame.
   */
  sink(inner: RowSink): RowSink {
    const F = this.frameRows;
    const starts = this.runStart;
    const ends = this.runEnd;
    return {
      rows: (values, rowCount, columns, firstRow) => {
        if (rowCount === 0) return;
        const need = rowCount * columns;
        if (this.scratch.length < need) this.scratch = new Float64Array(Math.max(need, this.scratch.length * 2));
        const out = this.scratch;
        let k = 0; // values written
        const end = firstRow + rowCount;
        let r = firstRow;
        let frame = Math.floor(r / F);
        const deliveredFirst = frame * this.count + this.rank(r - frame * F);
        while (r < end) {
          const base = frame * F;
          const p0 = r - base;
          const p1 = Math.min(end - base, F);
          // the first run that ends after p0
          let lo = 0;
          let hi = ends.length;
          while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (ends[mid]! <= p0) lo = mid + 1;
            else hi = mid;
          }
          for (let i = lo; i < starts.length && starts[i]! < p1; i++) {
            const a = Math.max(starts[i]!, p0);
            const b = Math.min(ends[i]!, p1);
            const from = (a - firstRow + base) * columns;
            const to = (b - firstRow + base) * columns;
            // A short run (one atom of a protein's CA) is cheaper copied than viewed: subarray allocates.
            if (to - from <= 48) for (let j = from; j < to; j++) out[k++] = values[j]!;
            else {
              out.set(values.subarray(from, to), k);
              k += to - from;
            }
          }
          r = base + p1;
          frame++;
        }
        if (k > 0) inner.rows(out.subarray(0, k), k / columns, columns, deliveredFirst);
      },
      // A frame's unit cell, for the delivered row its frame starts at.
      ...(inner.box ? { box: (firstRow: number, dims: Float64Array) => inner.box!(Math.floor(firstRow / F) * this.count, dims) } : {}),
      ...(inner.time ? { time: (firstRow: number, ps: number) => inner.time!(Math.floor(firstRow / F) * this.count, ps) } : {}),
    };
  }
}

const memo = new WeakMap<object, FrameSelection>();

/** The FrameSelection of a job (one per spec object), or undefined when it selects nothing. */
export function frameSelectionOf(spec: { selection?: SelectionSpec; frameRows: number }): FrameSelection | undefined {
  if (!hasSelection(spec.selection)) return undefined;
  let s = memo.get(spec);
  if (!s) memo.set(spec, (s = new FrameSelection(spec.selection, spec.frameRows)));
  return s;
}
