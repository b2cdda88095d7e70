/**
 * Atom index ranges: `0-213,500-599`, 0-based and inclusive, the syntax of `--atoms`,
 * `--fit-atoms` and `--atoms2` (and of the metadata fanout-atoms, ...). A parsed value is
 * a list of disjoint, ascending, non-adjacent inclusive runs, so one set of atoms has
 * one canonical text whatever order or overlap it was written in.
 */

/** Inclusive runs [first, last], ascending, disjoint and not touching. */
export type Ranges = readonly (readonly [number, number])[];

/** What a text is not, for an error message (the caller names the option). */
export class RangesSyntaxError extends Error {}

export const RANGES_SYNTAX = '0-based atom index ranges such as 0-213,500-599';

/** Parses `0-213,500-599` (spaces around numbers allowed; `a:b` too, as MDAnalysis writes ranges). */
export function parseRanges(text: string): Ranges {
  const runs: [number, number][] = [];
  const parts = text.split(',');
  for (const part of parts) {
    const m = /^\s*(\d+)\s*(?:[-:]\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new RangesSyntaxError(`takes ${RANGES_SYNTAX}, not ${JSON.stringify(text)}`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last)) throw new RangesSyntaxError(`${part.trim()}: an index too large`);
    if (last < first) throw new RangesSyntaxError(`${part.trim()}: a range runs from its smaller index to its larger one`);
    runs.push([first, last]);
  }
  return normalize(runs);
}

/** Sorts and joins runs that overlap or touch. */
export function normalize(runs: Iterable<readonly [number, number]>): Ranges {
  const sorted = [...runs].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** The canonical text: `0-213,500-599`, a single index alone; '' for no atom. */
export function formatRanges(ranges: Ranges): string {
  return ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(',');
}

/** How many indices the ranges hold. */
export const countOf = (ranges: Ranges): number => ranges.reduce((n, [a, b]) => n + b - a + 1, 0);

/** Ranges of the ascending indices given (a selection's result). */
export function rangesOfIndices(indices: ArrayLike<number>): Ranges {
  const out: [number, number][] = [];
  for (let i = 0; i < indices.length; i++) {
    const x = indices[i]!;
    const last = out[out.length - 1];
    if (last && x === last[1] + 1) last[1] = x;
    else if (!last || x > last[1]) out.push([x, x]);
  }
  return out;
}

/** The union of several sets of ranges. */
export const unionOf = (...sets: Ranges[]): Ranges => normalize(sets.flat());

/** Every index, ascending. */
export function indicesOf(ranges: Ranges): Int32Array {
  const out = new Int32Array(countOf(ranges));
  let k = 0;
  for (const [a, b] of ranges) for (let i = a; i <= b; i++) out[k++] = i;
  return out;
}

/**
 * Where the indices of `subset` sit among those of `within` (which holds them all): the
 * 0-based positions, ascending. `within` is what a frame delivers; positions index its rows.
 */
export function positionsWithin(within: Ranges, subset: Ranges): Int32Array {
  const out = new Int32Array(countOf(subset));
  let k = 0;
  let run = 0;
  let before = 0; // indices of `within` before run `run`
  for (const [a, b] of subset) {
    for (let i = a; i <= b; i++) {
      while (within[run]![1] < i) {
        before += within[run]![1] - within[run]![0] + 1;
        run++;
      }
      out[k++] = before + i - within[run]![0];
    }
  }
  return out;
}
