/**
 * Planning a compressed input: recognise the compression, find the seek points (for BGZF,
 * by walking the member headers, which costs one read of the compressed bytes and no
 * inflating; for seekable zstd, from the seek table at the end of the file, one read of a
 * few KiB), and choose slices as runs of whole members. Plain gzip and zstd streams cannot
 * be entered anywhere but at their start without decompressing what comes before (zstd
 * frame headers may declare their decompressed size, but not their compressed one), so
 * they are one slice.
 */
import type { ByteSource } from '../source.ts';
import { unsupportedCompression, sniffCompression } from './detect.ts';
import { bgzfMembers, type Codec, type CompressionSpec, DecompressedSource, type DecompressedSourceOptions, isFramed } from './source.ts';
import { parseSeekTable, type SeekTable } from './zstd.ts';

export interface OpenedCompression {
  /** the decompressed bytes, for planning */
  view: DecompressedSource;
  /** the compression part of the job spec for (at most) `slices` slices */
  forSlices(slices: number): CompressionSpec;
}

export async function openCompressed(raw: ByteSource, head: Uint8Array): Promise<OpenedCompression | undefined> {
  const kind = sniffCompression(head);
  if (kind === undefined) return undefined;
  if (kind === 'bzip2' || kind === 'xz') throw unsupportedCompression(raw.name, kind, 'fanout reads gzip (and BGZF) and zstd only');
  if (kind === 'zstd') {
    const table = await readSeekTable(raw);
    if (table) return framed('zstd-seekable', raw, seekPoints(table));
  }
  if (kind === 'gzip' || kind === 'zstd') {
    const spec: CompressionSpec = { codec: kind, bytes: null, points: [0, 0] };
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
  return framed('bgzf', raw, { points, bytes: d });
}

/** A framed file with these seek points: slices are runs of whole members. */
function framed(codec: Codec, raw: ByteSource, { points, bytes: d }: { points: number[]; bytes: number }): OpenedCompression {
  const all: CompressionSpec = { codec, bytes: d, points };
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
      return { codec, bytes: d, points: chosen };
    },
  };
}

/** The last `n` bytes of a source (fewer when it is shorter). */
async function readTail(raw: ByteSource, n: number): Promise<Uint8Array> {
  const from = Math.max(0, raw.size - n);
  const out = new Uint8Array(raw.size - from);
  let at = 0;
  for await (const chunk of raw.chunks(from, raw.size)) {
    out.set(chunk.subarray(0, out.length - at), at);
    at += chunk.length;
  }
  return out;
}

// One read of this much from the end finds the seek table of files up to about 4000 frames.
const SEEK_TABLE_READ_BYTES = 32 * 1024;

/** The seek table of a seekable zstd file, or undefined for a plain zstd stream. */
async function readSeekTable(raw: ByteSource): Promise<SeekTable | undefined> {
  const first = parseSeekTable(raw.name, await readTail(raw, SEEK_TABLE_READ_BYTES), raw.size);
  if (first === undefined || !('need' in first)) return first;
  const table = parseSeekTable(raw.name, await readTail(raw, first.need), raw.size);
  if (table === undefined || 'need' in table) throw new Error(`the seek table of ${raw.name} changed while it was read`);
  return table;
}

/** Seek points from a seek table: every frame with data, as BGZF members. */
function seekPoints(table: SeekTable): { points: number[]; bytes: number } {
  // (The frames themselves are checked by the workers that read them.)
  const points = [0, 0];
  let c = 0;
  let d = 0;
  for (const { compressed, decompressed } of table.frames) {
    if (decompressed > 0 && d > 0) points.push(c, d);
    c += compressed;
    d += decompressed;
  }
  return { points, bytes: d };
}

/** What the result says about a compressed input: whether slices split it, and if not why. */
export function describeCompression(spec: CompressionSpec): { codec: Codec; splittable: boolean; why?: string } {
  if (isFramed(spec.codec)) return { codec: spec.codec, splittable: true };
  const why =
    spec.codec === 'gzip'
      ? 'plain gzip can only be decompressed from its start: one slice (recompress with bgzip to split it)'
      : 'a zstd stream without a seek table can only be decompressed from its start: one slice (recompress to the seekable zstd format to split it)';
  return { codec: spec.codec, splittable: false, why };
}

export type { DecompressedSourceOptions };

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
