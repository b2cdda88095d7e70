/**
 * Units of one size (frames, rows) in several runs of bytes: a trajectory in parts whose
 * files each have a header (DCD, AMBER NetCDF) is one layout whose frames sit in one
 * *segment* per part, each segment a header's `dataOffset`..`dataEnd` moved to where its
 * part starts in the parts' concatenation (lib/core/parts.ts). Unit k of the job is unit
 * k - (units of the segments before) of its segment, so slices are cut at units across
 * every segment (a slice may span a part boundary, or hold part of one part) and the
 * frame index runs on from part to part.
 *
 * A layout without `segments` is one segment, its own dataOffset..dataEnd: everything
 * here then computes what the single-file arithmetic did. The readers never see segments:
 * `scanSegments` hands each one the slice's piece of one segment as a layout of its own.
 */
import type { RowSink, ScanOptions, ScanStats } from './source.ts';
import { emptyStats } from './source.ts';

/** Where a segment's units lie in the input: absolute byte offsets. */
export interface Segment {
  dataOffset: number;
  dataEnd: number;
}

/** What a layout of fixed-size units has: its data, and for parts the segments it is made of (dataOffset is the first one's, dataEnd the last one's). */
export interface SegmentedLayout {
  dataOffset: number;
  dataEnd: number;
  segments?: Segment[];
}

export const segmentsOf = (layout: SegmentedLayout): readonly Segment[] => layout.segments ?? [layout];

/** Whole units of `unitBytes` in one segment (none when a unit holds no bytes). */
const unitsOf = (s: Segment, unitBytes: number): number => (unitBytes > 0 ? Math.floor((s.dataEnd - s.dataOffset) / unitBytes) : 0);

/** Whole units of `unitBytes` in the layout, every segment's. */
export function unitsIn(layout: SegmentedLayout, unitBytes: number): number {
  let n = 0;
  for (const s of segmentsOf(layout)) n += unitsOf(s, unitBytes);
  return n;
}

/** The byte offset where unit `unit` (0 ≤ unit < unitsIn) starts; past the last unit, the end of the last whole one. */
export function unitOffset(layout: SegmentedLayout, unit: number, unitBytes: number): number {
  if (!layout.segments) return layout.dataOffset + unit * unitBytes;
  let left = unit;
  let last = layout.dataOffset;
  for (const s of layout.segments) {
    const n = unitsOf(s, unitBytes);
    if (left < n) return s.dataOffset + left * unitBytes;
    left -= n;
    last = s.dataOffset + n * unitBytes;
  }
  return last + left * unitBytes;
}

/** The index of the unit that starts at `offset` (an offset on a unit boundary, or a segment's end): how many whole units start before it. */
export function unitIndex(layout: SegmentedLayout, offset: number, unitBytes: number): number {
  let n = 0;
  for (const s of segmentsOf(layout)) {
    if (offset >= s.dataEnd) n += unitsOf(s, unitBytes);
    else {
      if (offset > s.dataOffset) n += Math.ceil((offset - s.dataOffset) / unitBytes);
      break;
    }
  }
  return n;
}

/** The byte range of units [from, to): from the start of unit `from` to the end of unit to - 1 (empty at `from` when to ≤ from). */
export function unitRange(layout: SegmentedLayout, from: number, to: number, unitBytes: number): { start: number; end: number } {
  const start = unitOffset(layout, from, unitBytes);
  return { start, end: to > from ? unitOffset(layout, to - 1, unitBytes) + unitBytes : start };
}

/**
 * Scans [start, end) of a segmented layout: each segment's piece with `scan` over a layout
 * of that segment alone, rows numbered on from the segments before (so frame indices and
 * unit cells run on across parts). The bytes between segments (the next part's header)
 * count as progress without being read. A layout without segments is scanned as it is.
 */
export async function scanSegments<L extends SegmentedLayout>(
  layout: L,
  start: number,
  end: number,
  sink: RowSink,
  options: ScanOptions,
  scan: (layout: L, start: number, end: number, sink: RowSink, options: ScanOptions) => Promise<ScanStats>,
): Promise<ScanStats> {
  if (!layout.segments) return scan(layout, start, end, sink, options);
  const total = emptyStats();
  let at = start;
  for (const s of layout.segments) {
    const from = Math.max(start, s.dataOffset);
    const to = Math.min(end, s.dataEnd);
    if (to <= from) continue;
    if (from > at) options.onProgress?.(from - at);
    const before = total.rows;
    const shifted: RowSink = {
      rows: (values, rowCount, columns, firstRow) => sink.rows(values, rowCount, columns, firstRow + before),
      ...(sink.box ? { box: (firstRow: number, dims: Float64Array) => sink.box!(firstRow + before, dims) } : {}),
      ...(sink.time ? { time: (firstRow: number, ps: number) => sink.time!(firstRow + before, ps) } : {}),
    };
    const stats = await scan({ ...layout, dataOffset: s.dataOffset, dataEnd: s.dataEnd, segments: undefined }, from, to, shifted, options);
    total.rows += stats.rows;
    total.skipped += stats.skipped;
    total.bytesRead += stats.bytesRead;
    for (const e of stats.skippedExamples) if (total.skippedExamples.length < 5) total.skippedExamples.push(e);
    at = to;
  }
  return total;
}
