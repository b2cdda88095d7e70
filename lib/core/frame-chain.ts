/**
 * Trajectories whose frames are a chain: every frame starts with a header that says how
 * long the frame is, and frames may differ in size (GROMACS XTC, and TRR, whose sizes
 * repeat only while the content does). A byte range is scanned with no index.
 *
 * A frame belongs to the slice that holds its first byte. A slice other than the first
 * scans its 4-byte-aligned words for the format's magic followed by a plausible header
 * (the job's atom count included), and accepts a candidate when the chain confirms it:
 * the next header sits where this one's sizes say, or the file ends there (GROMACS'
 * xtc_at_header_start uses the same idea). From there it follows the chain while frames
 * start before its end, and then applies the very same test to the frame that starts at
 * or after its end. So a frame that its own slice's search would pass over is reported by
 * the slice that owns the frame before it: a damaged frame is an error, never a frame
 * skipped. Slice 0 starts at byte 0 without searching.
 */
import { withScratch } from './binary-reader.ts';
import { dimensionsFromVectors, scaleDimensions } from './box.ts';
import { FrameProblemError, InputError } from './errors.ts';
import type { ByteSource, RowSink, ScanOptions, ScanStats } from './source.ts';
import { emptyStats } from './source.ts';

const BLOCK_BYTES = 1 << 20;

export type HeaderProblem = {
  ok: false;
  /** magic: the first word is not the magic; atoms: the atom count differs; truncated: the file ends inside the header; field: another field is impossible */
  kind: 'magic' | 'atoms' | 'truncated' | 'field';
  /** byte offset of the bad field from the frame start */
  field: number;
  problem: string;
};
export type HeaderCheck<H> = { ok: true; header: H } | HeaderProblem;

export const headerProblem = (kind: HeaderProblem['kind'], field: number, problem: string): HeaderProblem => ({ ok: false, kind, field, problem });

/** A problem inside a frame, thrown by a format's decode(): the scan names the file. */
export class FrameError extends Error {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** One format of chained frames, for one job (the magic and atom count of its first frame). */
export interface FrameFormat<H extends { frameBytes: number }> {
  /** "XTC", "TRR": for messages */
  label: string;
  /** bytes a header needs at most */
  maxHeaderBytes: number;
  /** the first word of every frame, big-endian */
  magic: number;
  atoms: number;
  /** Checks the header at bytes[at..], with `rest` bytes of file from there. */
  check(bytes: Uint8Array, at: number, rest: number): HeaderCheck<H>;
  /**
   * Writes the frame's positions as (x, y, z) rows into out from outAt and returns the
   * rows written: `atoms`, or 0 for a frame that holds no positions. `frameAt` is the
   * frame's file offset, for errors (FrameError). Every value is multiplied by `scale`
   * (ScanOptions.lengthScale: 10 for nm to Å), in float64, as the last operation.
   */
  decode(frame: Uint8Array, header: H, frameAt: number, out: Float64Array, outAt: number, scale: number): number;
  /** The frame's time in ps; called only for analyses that want frame times. */
  time?(header: H): number;
  /** The frame's box vectors (a, b, c: 9 values, a row each) when it has a box; called only for analyses that want boxes. */
  box?(frame: Uint8Array, header: H): ArrayLike<number> | undefined;
  /** True when the bytes at a header that failed check() are still a header of this format, damaged (not garbage). */
  recognisable(bytes: Uint8Array): boolean;
  /** Where the size the chain follows is written, for messages: " (its byte count, at byte N, says M)". */
  sizeNote(at: number, header: H): string;
  /** The offset to blame when the chain from the frame at `at` misses the next frame: its size field. */
  sizeField(at: number, header: H): number;
}

/**
 * Bytes of a source through one growing buffer. Sequential reads come from one open
 * stream over the rest of the slice (one ranged request on S3, which the source may split
 * into concurrent sub-ranges), not a request per block; a read elsewhere starts a new one.
 */
export class ByteWindow {
  private buf = new Uint8Array(0);
  private start = 0;
  private length = 0;
  private stream: AsyncIterator<Uint8Array> | undefined;
  /** file offset of the next byte the stream gives (after `pending`) */
  private streamAt = -1;
  private streamEnd = -1;
  /** the unread rest of the stream's last chunk: valid until the next one is requested */
  private pending: Uint8Array | undefined;
  bytesRead = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly readAheadEnd: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** The bytes [at, at + len), fewer where the file ends: a view valid until the next call to get. */
  async get(at: number, len: number): Promise<Uint8Array> {
    const want = Math.min(at + len, this.source.size);
    if (at >= this.start && want <= this.start + this.length) return this.buf.subarray(at - this.start, want - this.start);
    const kept = at >= this.start && at < this.start + this.length ? this.start + this.length - at : 0;
    const readEnd = Math.min(this.source.size, Math.max(want, Math.min(at + BLOCK_BYTES, this.readAheadEnd)));
    const need = readEnd - at;
    if (need > this.buf.length) {
      const grown = new Uint8Array(Math.max(need, 2 * this.buf.length));
      grown.set(this.buf.subarray(at - this.start, at - this.start + kept));
      this.buf = grown;
    } else if (kept > 0) {
      this.buf.copyWithin(0, at - this.start, at - this.start + kept);
    }
    this.start = at;
    this.length = kept;
    await this.fill(at + kept, readEnd);
    return this.buf.subarray(0, Math.min(want, this.start + this.length) - at);
  }

  /** Like get, but a read outside the window does not move it (a header far ahead). */
  async peek(at: number, len: number): Promise<Uint8Array> {
    const want = Math.min(at + len, this.source.size);
    if (at >= this.start && want <= this.start + this.length) return this.buf.subarray(at - this.start, want - this.start);
    const out = new Uint8Array(Math.max(0, want - at));
    let p = at;
    for await (const chunk of this.source.chunks(at, want, this.signal)) {
      const take = Math.min(chunk.length, want - p);
      out.set(chunk.subarray(0, take), p - at);
      p += take;
      if (p >= want) break;
    }
    this.bytesRead += p - at;
    return out.subarray(0, p - at);
  }

  /** Ends the open stream, if any (a source may hold a buffer or a request for it). */
  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    this.pending = undefined;
    await stream?.return?.();
  }

  private async fill(from: number, to: number): Promise<void> {
    let p = from;
    while (p < to) {
      if (!this.stream || this.streamAt !== p || (!this.pending?.length && this.streamAt >= this.streamEnd)) {
        await this.close();
        this.streamEnd = Math.min(this.source.size, Math.max(to, this.readAheadEnd));
        this.stream = this.source.chunks(p, this.streamEnd, this.signal)[Symbol.asyncIterator]();
        this.streamAt = p;
      }
      if (!this.pending || this.pending.length === 0) {
        const next = await this.stream.next();
        if (next.done) {
          // the file ended early: what was read is what there is
          this.streamEnd = this.streamAt;
          break;
        }
        this.pending = next.value;
        this.bytesRead += next.value.length;
      }
      const take = Math.min(this.pending.length, to - p);
      this.buf.set(this.pending.subarray(0, take), p - this.start);
      this.pending = this.pending.subarray(take);
      p += take;
      this.streamAt += take;
    }
    this.length = p - this.start;
  }
}

const isMagicAt = (bytes: Uint8Array, q: number, magic: number): boolean =>
  bytes[q + 3] === (magic & 0xff) && bytes[q + 2] === ((magic >>> 8) & 0xff) && bytes[q + 1] === ((magic >>> 16) & 0xff) && bytes[q] === magic >>> 24;

/**
 * The header of the frame that ends exactly at the end of the file, searched backwards
 * in a tail that grows until it holds one; undefined when none is found (a damaged end
 * of file, which the scan reports).
 */
export async function findLastFrame<H extends { frameBytes: number }>(source: ByteSource, format: FrameFormat<H>, firstFrameBytes: number): Promise<H | undefined> {
  const size = source.size;
  const win = new ByteWindow(source, size);
  try {
    return await lastFrameIn(win, size, format, firstFrameBytes);
  } finally {
    await win.close();
  }
}

async function lastFrameIn<H extends { frameBytes: number }>(win: ByteWindow, size: number, format: FrameFormat<H>, firstFrameBytes: number): Promise<H | undefined> {
  for (let tail = Math.max(BLOCK_BYTES, 4 * firstFrameBytes); ; tail *= 4) {
    const from = Math.max(0, size - tail) & ~3;
    const bytes = await win.get(from, size - from);
    for (let q = (size - from - 4) & ~3; q >= 0; q -= 4) {
      if (!isMagicAt(bytes, q, format.magic)) continue;
      const c = format.check(bytes, q, size - from - q);
      if (c.ok && from + q + c.header.frameBytes === size) return c.header;
    }
    if (from === 0 || tail > 64 * BLOCK_BYTES) return undefined;
  }
}

interface Placed<H> {
  at: number;
  header: H;
}

/**
 * Scans the frames that start in [start, end) into the sink, `atoms` rows of (x, y, z)
 * per frame. Reads past `end` to finish its last frame and to check the one after it.
 */
export async function scanFrameChain<H extends { frameBytes: number }>(
  source: ByteSource,
  format: FrameFormat<H>,
  start: number,
  end: number,
  sink: RowSink,
  options: ScanOptions = {},
): Promise<ScanStats> {
  if (end <= start) return emptyStats();
  const win = new ByteWindow(source, Math.min(source.size, end + format.maxHeaderBytes), options.signal);
  try {
    return await scanChain(win, source, format, start, end, sink, options);
  } finally {
    await win.close();
  }
}

async function scanChain<H extends { frameBytes: number }>(
  win: ByteWindow,
  source: ByteSource,
  format: FrameFormat<H>,
  start: number,
  end: number,
  sink: RowSink,
  options: ScanOptions,
): Promise<ScanStats> {
  const stats = emptyStats();
  const size = source.size;
  const natom = format.atoms;
  const name = source.name;
  let reported = start;
  const progress = (at: number): void => {
    const to = Math.min(end, at);
    if (to > reported) options.onProgress?.(to - reported);
    reported = Math.max(reported, to);
  };

  /** The header at `at`, checked; `prev` is the frame whose chain leads here, for the message. */
  const headerAt = async (at: number, prev: Placed<H> | undefined): Promise<H> => {
    const bytes = await win.peek(at, format.maxHeaderBytes);
    const c = format.check(bytes, 0, size - at);
    if (c.ok) return c.header;
    throw await chainError(win, name, size, format, at, c, prev);
  };
  const fitsInFile = (at: number, header: H): void => {
    if (at + header.frameBytes > size) {
      throw new InputError(name, at, `truncated ${format.label} frame: the frame at byte ${at} needs ${header.frameBytes} bytes${format.sizeNote(at, header)}, and the file ends ${size - at} bytes after its start`);
    }
  };
  /** The test a search applies: a header, and after it another header or the end of the file. */
  const checkFrame = async (at: number, prev: Placed<H> | undefined): Promise<void> => {
    const header = await headerAt(at, prev);
    fitsInFile(at, header);
    const next = at + header.frameBytes;
    if (next < size) await headerAt(next, { at, header });
  };

  let at = start === 0 ? 0 : await findFirstFrame(win, format, start, end, size);
  if (at < 0) {
    progress(end);
    stats.bytesRead = win.bytesRead;
    return stats;
  }
  let prev: Placed<H> | undefined;
  const frameValues = natom * 3;
  const blockFrames = Math.max(1, Math.floor(BLOCK_BYTES / 8 / frameValues));
  let firstRow = 0;
  const scale = options.lengthScale ?? 1;
  await withScratch(blockFrames * frameValues * 8, async (buffer) => {
    const values = new Float64Array(buffer, 0, blockFrames * frameValues);
    let inBlock = 0;
    // where each frame of the block starts: an analysis's problem with one frame (FrameProblemError) is reported there
    const starts: number[] = [];
    const flush = (): void => {
      if (inBlock === 0) return;
      try {
        sink.rows(values, inBlock * natom, 3, firstRow);
      } catch (e) {
        const k = e instanceof FrameProblemError ? e.frame - firstRow / natom : -1;
        if (k >= 0 && k < inBlock) throw new InputError(name, starts[k]!, (e as FrameProblemError).problem);
        throw e;
      }
      firstRow += inBlock * natom;
      inBlock = 0;
    };
    while (at < end) {
      // The same test as checkFrame, with the window moved along: the frame and the header after it.
      await win.get(at, format.maxHeaderBytes);
      const header = await headerAt(at, prev);
      fitsInFile(at, header);
      const bytes = await win.get(at, header.frameBytes + format.maxHeaderBytes);
      if (at + header.frameBytes < size) await headerAt(at + header.frameBytes, { at, header });
      let rows: number;
      try {
        rows = format.decode(bytes.subarray(0, header.frameBytes), header, at, values, inBlock * frameValues, scale);
      } catch (e) {
        if (e instanceof FrameError) throw new InputError(name, e.offset, e.problem);
        throw e;
      }
      if (rows > 0 && sink.box) {
        const vectors = format.box?.(bytes, header);
        if (vectors) sink.box(firstRow + inBlock * natom, scaleDimensions(dimensionsFromVectors(vectors), scale));
      }
      if (rows > 0 && sink.time && format.time) sink.time(firstRow + inBlock * natom, format.time(header));
      if (rows > 0) starts[inBlock] = at;
      if (rows > 0 && ++inBlock === blockFrames) flush();
      prev = { at, header };
      at += header.frameBytes;
      progress(at);
    }
    flush();
    // The frame after this slice's last one (or the end of the file): the check its own
    // slice's search makes, so that a frame that search would pass over is reported here.
    if (at < size) await checkFrame(at, prev);
  });
  progress(end);
  stats.rows = firstRow;
  stats.bytesRead = win.bytesRead;
  return stats;
}

/** The first frame that starts in [start, end) and that the chain confirms, or -1. */
async function findFirstFrame<H extends { frameBytes: number }>(win: ByteWindow, format: FrameFormat<H>, start: number, end: number, size: number): Promise<number> {
  let p = (start + 3) & ~3;
  while (p < end) {
    const span = Math.min(BLOCK_BYTES, end - p);
    const bytes = await win.get(p, span + format.maxHeaderBytes);
    const stop = Math.min(span, bytes.length - 3);
    for (let q = 0; q < stop; q += 4) {
      if (!isMagicAt(bytes, q, format.magic)) continue;
      const c = format.check(bytes, q, size - p - q);
      if (!c.ok) continue;
      const next = p + q + c.header.frameBytes;
      if (next === size) return p + q;
      if (next > size) continue;
      const after = await win.peek(next, format.maxHeaderBytes);
      if (format.check(after, 0, size - next).ok) return p + q;
    }
    p += span;
  }
  return -1;
}

/**
 * The error for a header that is not where the chain says: a damaged header (its magic
 * or atom count still recognisable), or no header at all, which means damaged sizes in
 * the frame before (found by looking for the real next header) or bytes that are not of
 * the format after the last frame.
 */
async function chainError<H extends { frameBytes: number }>(
  win: ByteWindow,
  name: string,
  size: number,
  format: FrameFormat<H>,
  at: number,
  c: HeaderProblem,
  prev: Placed<H> | undefined,
): Promise<InputError> {
  const where = prev ? `, where the frame at byte ${prev.at} ends` : '';
  if (c.kind === 'truncated') return new InputError(name, at, `truncated ${format.label} file: ${c.problem}${where}`);
  if (c.kind === 'field') return new InputError(name, at + c.field, `${c.problem} (the frame at byte ${at})`);
  if (c.kind === 'atoms') return new InputError(name, at + c.field, `${c.problem} (the frame at byte ${at}): every frame of a trajectory must hold the same atoms`);
  // A damaged magic in a header that is otherwise where it should be.
  if (!prev || format.recognisable(await win.peek(at, format.maxHeaderBytes))) return new InputError(name, at, `${c.problem}${where}`);
  // Where does the next frame really start?
  const limit = Math.min(size, prev.at + 2 * prev.header.frameBytes + BLOCK_BYTES);
  for (let p = prev.at + 4; p < limit; p += BLOCK_BYTES) {
    const block = await win.peek(p, Math.min(BLOCK_BYTES, limit - p) + format.maxHeaderBytes);
    for (let q = 0; q + 8 <= Math.min(block.length, limit - p); q += 4) {
      if (!isMagicAt(block, q, format.magic) || p + q === at) continue;
      if (format.check(block, q, size - p - q).ok) {
        return new InputError(
          name,
          format.sizeField(prev.at, prev.header),
          `corrupted frame size in the ${format.label} frame at byte ${prev.at}${format.sizeNote(prev.at, prev.header)}: the next frame would start at byte ${at}, but the next frame header is at byte ${p + q}`,
        );
      }
    }
  }
  return new InputError(name, at, `${c.problem}${where}: bytes that are not ${format.label} after the last frame, or a corrupted frame size at byte ${format.sizeField(prev.at, prev.header)}`);
}
