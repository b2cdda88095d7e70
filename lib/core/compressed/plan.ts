/**
 * Planning a compressed input: recognise the compression, find the seek points (for BGZF,
 * by walking the member headers, which costs one read of the compressed bytes and no
 * inflating), and choose slices as runs of whole members. Plain gzip cannot be entered
 * anywhere but at its start without an inflate pass, so it is one slice.
 */
import { unsupportedCompression, sniffCompression } from './detect.ts';
import { bgzfMembers, type CompressionSpec, DecompressedSource } from './source.ts';
import type { ByteSource } from '../source.ts';

export interface OpenedCompression {
  /** the decompressed bytes, for planning */
  view: DecompressedSource;
  /** the compression part of the job spec for (at most) `slices` slices */
  forSlices(slices: number): CompressionSpec;
}

export async function openCompressed(raw: ByteSource, head: Uint8Array): Promise<OpenedCompression | undefined> {
  const kind = sniffCompression(head);
  if (kind === undefined) return undefined;
  if (kind === 'zstd' || kind === 'bzip2' || kind === 'xz') throw unsupportedCompression(raw.name, kind, 'fanout reads gzip (and BGZF) only');
  if (kind === 'gzip') {
    const spec: CompressionSpec = { codec: 'gzip', bytes: null, points: [0, 0] };
    return { view: new DecompressedSource(raw, spec), forSlices: () => spec };
  }
  // BGZF: every member with data is a place to start; the file's data ends where the last one's does.
  const points = [0, 0];
  let d = 0;
  for await (const { offset, bytes } of bgzfMembers(raw, 0, raw.size)) {
    const n = bytes.length;
    const isize = (bytes[n - 4]! | (bytes[n - 3]! << 8) | (bytes[n - 2]! << 16) | (bytes[n - 1]! << 24)) >>> 0;
    if (isize > 0 && d > 0) points.push(offset, d);
    d += isize;
  }
  const all: CompressionSpec = { codec: 'bgzf', bytes: d, points };
  return {
    view: new DecompressedSource(raw, all),
    forSlices(slices) {
      // Slice k starts at the first member whose data starts at or after k/slices of the data.
      const chosen = [0, 0];
      const members = points.length / 2;
      let m = 1;
      for (let k = 1; k < slices; k++) {
        const target = Math.floor((k * d) / slices);
        while (m < members && points[2 * m + 1]! < target) m++;
        if (m >= members) break;
        if (points[2 * m + 1]! > chosen[chosen.length - 1]!) chosen.push(points[2 * m]!, points[2 * m + 1]!);
      }
      return { codec: 'bgzf', bytes: d, points: chosen };
    },
  };
}

/**
 * Decompressed bounds of slice `index` of `count` (= points / 2). Slice k > 0 starts one
 * byte into its first member, so the byte it looks back at (to learn whether a record
 * starts there) is inflated from that member too; the record rule needs nothing else.
 */
export function compressedSliceBounds(spec: CompressionSpec, index: number): { start: number; end: number } {
  const n = spec.points.length / 2;
  const size = spec.bytes ?? Number.MAX_SAFE_INTEGER;
  return {
    start: index === 0 ? 0 : spec.points[2 * index + 1]! + 1,
    end: index === n - 1 ? size : spec.points[2 * index + 3]! + 1,
  };
}
