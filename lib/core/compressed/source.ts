/**
 * A compressed input seen as its decompressed bytes: a ByteSource whose offsets are
 * offsets in the decompressed data, so the text reader and its record rule work on it
 * unchanged. Decompression restarts at a seek point: the compressed offset `c` of a
 * member (a BGZF block, a gzip member, a zstd frame) whose data starts at decompressed
 * offset `d`. `chunks(start, end)` decompresses from the last seek point at or before `start`.
 *
 * Framed (BGZF, seekable zstd): members are cut by the sizes their headers declare and
 * decompressed one at a time, synchronously (on a worker thread, that thread is the
 * parallelism); an error names the compressed offset of its member. Where the plan put a
 * seek point, the member there must start at that decompressed offset (a seek table that
 * lies is an error, not a wrong answer). Stream (plain gzip or zstd, one member or many):
 * one decoder, which for zlib and Node's zstd runs on libuv's pool while the caller
 * parses what came out; fzstd (Node 20) decodes on the caller's thread.
 */
import type { Transform } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { InputError } from '../errors.ts';
import type { ByteSource } from '../source.ts';
import { bgzfBlockSize } from './detect.ts';
import { builtinZstdStream, decodeZstdFrame, FzstdStreamDecoder, type ZstdFrame, zstdErrorMessage, zstdFrameAt } from './zstd.ts';

export type Codec = 'gzip' | 'bgzf' | 'zstd' | 'zstd-seekable';

export interface CompressionSpec {
  codec: Codec;
  /** decompressed bytes; null when unknown without decompressing everything (plain gzip and zstd streams) */
  bytes: number | null;
  /** seek points, flat: [c0, d0, c1, d1, ...], d ascending, c0 = d0 = 0 */
  points: number[];
}

/** Codecs whose members a slice can start at: the file is split into runs of whole members. */
export function isFramed(codec: Codec): boolean {
  return codec === 'bgzf' || codec === 'zstd-seekable';
}

/** Size of a view whose decompressed size is unknown: its chunks end where the data does. */
export const UNKNOWN_SIZE = Number.MAX_SAFE_INTEGER;

// The first raw read of a framed scan asks for this much past the compressed span it
// expects to need; further reads double (a record may run on for many members).
const RAW_WINDOW_BYTES = 1 << 20;

export interface DecompressedSourceOptions {
  /** stream codecs: called with the compressed bytes consumed, as the decoder takes them */
  onCompressedBytes?: (bytes: number) => void;
}

export class DecompressedSource implements ByteSource {
  readonly name: string;
  readonly size: number;

  constructor(
    readonly raw: ByteSource,
    readonly spec: CompressionSpec,
    private readonly opts: DecompressedSourceOptions = {},
  ) {
    this.name = `${raw.name} (decompressed)`;
    this.size = spec.bytes ?? UNKNOWN_SIZE;
  }

  /** Inflates everything a stream holds, for its checksums; framed members are checked before their data is handed out. */
  async verify(signal?: AbortSignal): Promise<void> {
    if (isFramed(this.spec.codec)) return;
    for await (const _ of decodeStream(this.raw, this.spec.codec, 0, signal));
  }

  /** The index into points (in pairs) of the last seek point at or before `offset`. */
  private pointFor(offset: number): number {
    const p = this.spec.points;
    let lo = 0;
    let hi = p.length / 2 - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (p[2 * mid + 1]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  async *chunks(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    if (end <= start) return;
    const k = this.pointFor(start);
    const c = this.spec.points[2 * k]!;
    let d = this.spec.points[2 * k + 1]!;
    // A read to the end of known data decompresses what follows it too (bgzip's empty end
    // marker, the seek table): data there would mean the headers lied, and must not go unread.
    const toTheEnd = this.spec.bytes !== null && end >= this.spec.bytes;
    const what = this.spec.codec === 'bgzf' ? 'the BGZF member headers declare' : 'the zstd seek table declares';
    if (!isFramed(this.spec.codec)) {
      for await (const data of decodeStream(this.raw, this.spec.codec, c, signal, this.opts.onCompressedBytes)) {
        const from = d;
        d += data.length;
        if (d <= start) continue;
        yield data.subarray(Math.max(0, start - from), Math.min(data.length, end - from));
        if (d >= end) return;
      }
      return;
    }
    // The compressed bytes up to the seek point after `end`, if any: what a framed scan expects to read.
    const points = this.spec.points;
    const after = this.pointFor(end) + 1;
    const expect = 2 * after < points.length ? points[2 * after]! - c : this.raw.size - c;
    const members = this.spec.codec === 'bgzf' ? bgzfMembers(this.raw, c, expect + RAW_WINDOW_BYTES, signal) : zstdFrames(this.raw, c, expect + RAW_WINDOW_BYTES, signal);
    let next = k + 1;
    for await (const member of members) {
      // Seek points the plan took from the headers (or the seek table) this member reaches.
      for (; 2 * next < points.length && points[2 * next]! < member.offset + member.bytes.length; next++) {
        const [pc, pd] = [points[2 * next]!, points[2 * next + 1]!];
        if (pc !== member.offset) throw new InputError(this.raw.name, member.offset, `${what} a frame at byte ${pc}, inside the one that starts here (${member.bytes.length} bytes): the file is damaged`);
        if (pd !== d) throw new InputError(this.raw.name, pc, `${what} that the data of this frame starts at decompressed byte ${pd}, the frames before it hold ${d} bytes: the file is damaged`);
      }
      const data = member.decode();
      const from = d;
      d += data.length;
      if (d > this.size) throw new InputError(this.raw.name, member.offset, `more data than ${what} (${this.size} bytes): the file is damaged`);
      if (d <= start) continue;
      yield data.subarray(Math.max(0, start - from), Math.min(data.length, end - from));
      if (d >= end && !toTheEnd) return;
    }
    if (toTheEnd && d < this.size) throw new InputError(this.raw.name, this.raw.size, `less data than ${what} (${d} bytes, not ${this.size}): the file is damaged`);
  }
}

/** The raw bytes from `from` on, read in windows that start at `first` bytes and double. */
async function* rawFrom(raw: ByteSource, from: number, first: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  let window = Math.max(1, first);
  for (let at = from; at < raw.size; ) {
    const to = Math.min(raw.size, at + window);
    for await (const chunk of raw.chunks(at, to, signal)) {
      at += chunk.length;
      yield chunk;
    }
    if (at < to) return;
    window *= 2;
  }
}

/** A member of a framed file: its compressed offset and bytes, and how to decompress it (checked); valid until the next one is asked for. */
export interface Member {
  offset: number;
  bytes: Uint8Array;
  decode(): Uint8Array;
}

interface Cutter {
  /** the member at `at`: its size and how to decode it, -1 when more bytes are needed; throws when there is none */
  cut(buf: Uint8Array, at: number, avail: number, offset: number): { size: number; decode: (bytes: Uint8Array, offset: number) => Uint8Array } | -1;
  /** the error for a file that ends `len` bytes into a member at `offset` */
  truncated(buf: Uint8Array, len: number, offset: number): InputError;
}

/**
 * The members of a framed file from compressed offset `from`, each whole (gathered out of
 * the raw chunks, which may be reused buffers) with its offset. A member's bytes, and its
 * decode(), are valid until the next member is asked for.
 */
async function* membersOf(raw: ByteSource, from: number, window: number, cutter: Cutter, signal?: AbortSignal): AsyncIterable<Member> {
  let buf = new Uint8Array(1 << 17);
  let len = 0;
  let offset = from;
  const take = function* (): Generator<Member> {
    let at = 0;
    for (;;) {
      const m = cutter.cut(buf, at, len - at, offset);
      if (m === -1 || len - at < m.size) break;
      const bytes = buf.subarray(at, at + m.size);
      const memberAt = offset;
      yield { offset, bytes, decode: () => m.decode(bytes, memberAt) };
      at += m.size;
      offset += m.size;
    }
    buf.copyWithin(0, at, len);
    len -= at;
  };
  for await (const chunk of rawFrom(raw, from, window, signal)) {
    if (len + chunk.length > buf.length) {
      const bigger = new Uint8Array(Math.max(2 * buf.length, len + chunk.length));
      bigger.set(buf.subarray(0, len));
      buf = bigger;
    }
    buf.set(chunk, len);
    len += chunk.length;
    yield* take();
  }
  if (len > 0) throw cutter.truncated(buf, len, offset);
}

/**
 * The members of a BGZF file from compressed offset `from`. The empty member bgzip
 * writes as an end marker is a member like any other.
 */
export function bgzfMembers(raw: ByteSource, from: number, window: number, signal?: AbortSignal): AsyncIterable<Member> {
  return membersOf(raw, from, window, {
    cut(buf, at, avail, offset) {
      const size = bgzfBlockSize(buf, at, avail);
      if (size === undefined) throw new InputError(raw.name, offset, 'not a BGZF block: a file that starts with BGZF blocks must be BGZF to its end (bgzip writes such files)');
      if (size < 0) return -1;
      if (size < 26) throw new InputError(raw.name, offset, `corrupt BGZF block: it declares ${size} bytes`);
      return { size, decode: inflateMember };
    },
    truncated(buf, len, offset) {
      const size = bgzfBlockSize(buf, 0, len);
      return new InputError(raw.name, offset, size !== undefined && size > 0 ? `truncated BGZF block: it declares ${size} bytes, the file ends ${len} bytes after its start` : 'truncated BGZF block header');
    },
  }, signal);

  function inflateMember(bytes: Uint8Array, offset: number): Uint8Array {
    try {
      return gunzipSync(bytes);
    } catch (e) {
      throw new InputError(raw.name, offset, `corrupt BGZF block: ${(e as Error).message}`);
    }
  }
}

/** The frames of a zstd file from compressed offset `from` (a frame start), skippable frames (the seek table) among them. */
export function zstdFrames(raw: ByteSource, from: number, window: number, signal?: AbortSignal): AsyncIterable<Member> {
  const frameAt = (buf: Uint8Array, at: number, avail: number, offset: number): ZstdFrame | -1 => {
    const f = zstdFrameAt(buf, at, avail);
    if (typeof f === 'string') throw new InputError(raw.name, offset, f.replace(/at byte (\d+)/, (_, p: string) => `at byte ${offset + Number(p) - at}`));
    return f;
  };
  return membersOf(raw, from, window, {
    cut(buf, at, avail, offset) {
      const f = frameAt(buf, at, avail, offset);
      return f === -1
        ? -1
        : {
            size: f.size,
            decode(bytes, at) {
              try {
                return decodeZstdFrame(bytes, f);
              } catch (e) {
                throw new InputError(raw.name, at, `corrupt zstd frame: ${zstdErrorMessage(e) ?? (e as Error).message}`);
              }
            },
          };
    },
    truncated(_buf, len, offset) {
      return new InputError(raw.name, offset, `truncated zstd frame: the file ends ${len} bytes after its start`);
    },
  }, signal);
}

/** A stream codec's data from compressed offset `from` (a member start): every member, in one decoder. */
function decodeStream(raw: ByteSource, codec: Codec, from: number, signal?: AbortSignal, onCompressed?: (n: number) => void): AsyncIterable<Uint8Array> {
  if (codec === 'gzip') return zlibStream(raw, createGunzip({ chunkSize: 256 * 1024 }), 'gzip', from, signal, onCompressed);
  const builtin = builtinZstdStream();
  return builtin ? zlibStream(raw, builtin, 'zstd', from, signal, onCompressed) : fzstdStream(raw, from, signal, onCompressed);
}

/** One zlib stream (gunzip, or Node's zstd), fed from `from` on; it decompresses on libuv's pool. */
async function* zlibStream(raw: ByteSource, dec: Transform & { bytesWritten: number }, kind: 'gzip' | 'zstd', from: number, signal?: AbortSignal, onCompressed?: (n: number) => void): AsyncIterable<Uint8Array> {
  const stop = new AbortController();
  let fed = from;
  const feed = (async () => {
    for await (const chunk of raw.chunks(from, raw.size, signal)) {
      // A copy: the raw chunk may be a buffer the source reuses, and zlib holds it until decompressed.
      const more = dec.write(Buffer.from(chunk));
      fed += chunk.length;
      onCompressed?.(chunk.length);
      if (!more) await new Promise<void>((resolve, reject) => {
        const done = (): void => { stop.signal.removeEventListener('abort', abort); resolve(); };
        const abort = (): void => { dec.off('drain', done); reject(stop.signal.reason); };
        dec.once('drain', done);
        stop.signal.addEventListener('abort', abort, { once: true });
      });
    }
    dec.end();
  })().catch((e: unknown) => {
    if (!stop.signal.aborted) dec.destroy(e as Error);
  });
  try {
    for await (const out of dec as AsyncIterable<Buffer>) yield out;
  } catch (e) {
    if (e instanceof InputError || !(e instanceof Error) || !('code' in e) || typeof e.code !== 'string' || !/^(Z_|ZSTD_error_)/.test(e.code)) throw e;
    // zlib says how many compressed bytes it had taken when it failed; a truncated stream ends where the file does.
    const at = e.code === 'Z_BUF_ERROR' ? raw.size : Math.min(fed, from + dec.bytesWritten);
    const member = kind === 'gzip' ? 'gzip member' : 'zstd frame';
    const problem = kind === 'gzip' ? e.message : zstdErrorMessage(e) ?? e.message;
    const what = e.code === 'Z_BUF_ERROR' ? `truncated ${kind} data: the file ends inside a ${member}` : `corrupt ${kind} data (${problem}) at or before this byte`;
    throw new InputError(raw.name, at, what);
  } finally {
    stop.abort(new Error('stopped'));
    dec.destroy();
    await feed;
  }
}

/** zstd through fzstd (Node 20): decoded on this thread as the compressed chunks arrive, checksums checked. */
async function* fzstdStream(raw: ByteSource, from: number, signal?: AbortSignal, onCompressed?: (n: number) => void): AsyncIterable<Uint8Array> {
  const dec = new FzstdStreamDecoder(raw.name, from);
  for await (const chunk of raw.chunks(from, raw.size, signal)) {
    // A copy: fzstd keeps the chunk while a block is incomplete, and the source may reuse it.
    const out = dec.push(chunk.slice(), false);
    onCompressed?.(chunk.length);
    yield* out;
  }
  yield* dec.push(new Uint8Array(0), true);
}
