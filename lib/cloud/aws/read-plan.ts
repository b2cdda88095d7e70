/**
 * How S3Source cuts a read into ranged GETs, written once: the source reads by it, and
 * `fanout plan` counts a job's input GETs by it (lib/report/estimate.ts). Pure: no SDK.
 */

/** The read path's knobs, in one place. */
export const READ_DEFAULTS = {
  /** GETs in flight (or finished and waiting for the consumer) per read; env FANOUT_READ_CONCURRENCY */
  concurrency: 4,
  /** bytes per sub-range GET */
  subRangeBytes: 8 << 20,
  /** the first sub-range of a read that runs to the end of the object */
  firstTailBytes: 64 << 10,
} as const;

/**
 * A worker opens its slice's source for the slice's bytes and this much more (a text
 * record may run past the slice end): the largest single GET it wants.
 */
export const SLICE_READ_SLACK_BYTES = 1 << 20;

/**
 * The sub-ranges of a concurrent read of [start, end): `subRangeBytes` each, but a read
 * that runs to the end of the object (`size`) starts small and doubles, since such a
 * read usually stops a few bytes in.
 */
export function* subRanges(start: number, end: number, size: number, subRangeBytes: number): Generator<[number, number]> {
  let bytes = end === size ? Math.min(subRangeBytes, READ_DEFAULTS.firstTailBytes) : subRangeBytes;
  for (let at = start; at < end; ) {
    const to = Math.min(end, at + bytes);
    yield [at, to];
    at = to;
    bytes = Math.min(subRangeBytes, bytes * 2);
  }
}

/** The GETs a read of [start, end) makes when read to its end. */
export function getsOfRead(start: number, end: number, size: number, o: { subRangeBytes: number; concurrency: number }): number {
  if (end <= start) return 0;
  // One stream: parts of subRangeBytes, one after the other.
  if (end - start <= o.subRangeBytes || o.concurrency === 1) return Math.ceil((end - start) / o.subRangeBytes);
  let n = 0;
  for (const _ of subRanges(start, end, size, o.subRangeBytes)) n++;
  return n;
}
