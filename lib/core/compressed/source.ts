/**
 * A compressed input seen as its decompressed bytes: a ByteSource whose offsets are
 * offsets in the decompressed data, so the text reader and its record rule work on it
 * unchanged. Decompression restarts at a seek point: the compressed offset `c` of a
 * member (a BGZF block, a gzip member) whose data starts at decompressed offset `d`.
 * `chunks(start, end)` inflates from the last seek point at or before `start`.
 *
 * Framed (BGZF): members are cut by the sizes their headers declare and inflated one at
 * a time, synchronously (on a worker thread, that thread is the parallelism); an error
 * names the compressed offset of its member. Stream (plain gzip, one member or many):
 * one zlib stream, which inflates on libuv's pool while the caller parses what came out.
 */
import { createGunzip, gunzipSync } from 'node:zlib';
import { InputError } from '../errors.ts';
import type { ByteSource } from '../source.ts';
import { bgzfBlockSize } from './detect.ts';

export interface CompressionSpec {
  codec: 'gzip' | 'bgzf';
  /** decompressed bytes; null when unknown without inflating everything (plain gzip) */
  bytes: number | null;
  /** seek points, flat: [c0, d0, c1, d1, ...], d ascending, c0 = d0 = 0 */
  points: number[];
}

/** Size of a view whose decompressed size is unknown: its chunks end where the data does. */
export const UNKNOWN_SIZE = Number.MAX_SAFE_INTEGER;

// The first raw read of a framed scan asks for this much past the compressed span it
// expects to need; further reads double (a record may run on for many members).
const RAW_WINDOW_BYTES = 1 << 20;

export class DecompressedSource implements ByteSource {
  readonly name: string;
  readonly size: number;

  constructor(
    readonly raw: ByteSource,
    readonly spec: CompressionSpec,
  ) {
    this.name = `${raw.name} (decompressed)`;
    this.size = spec.bytes ?? UNKNOWN_SIZE;
  }

  /** Inflates everything a stream holds, for its checksums; framed members are checked before their data is handed out. */
  async verify(signal?: AbortSignal): Promise<void> {
    if (this.spec.codec !== 'gzip') return;
    for await (const _ of inflateStream(this.raw, 0, signal));
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
    // The compressed bytes up to the seek point after `end`, if any: what a framed scan expects to read.
    const after = this.pointFor(end) + 1;
    const expect = 2 * after < this.spec.points.length ? this.spec.points[2 * after]! - c : this.raw.size - c;
    const out = this.spec.codec === 'bgzf' ? inflateMembers(this.raw, c, expect + RAW_WINDOW_BYTES, signal) : inflateStream(this.raw, c, signal);
    // A read to the end of known data inflates what follows it too (bgzip's empty end
    // marker): data there would mean the member sizes lied, and must not go unread.
    const toTheEnd = this.spec.bytes !== null && end >= this.spec.bytes;
    for await (const data of out) {
      const from = d;
      d += data.length;
      if (from >= this.size) throw new InputError(this.raw.name, this.raw.size, `more data than the BGZF member headers declare (${this.size} bytes): the file is damaged`);
      if (d <= start) continue;
      yield data.subarray(Math.max(0, start - from), Math.min(data.length, end - from));
      if (d >= end && !toTheEnd) return;
    }
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

/**
 * The members of a BGZF file from compressed offset `from`, each whole (copied out of
 * the raw chunks, which may be reused buffers) with its offset. The empty member
 * bgzip writes as an end marker is a member like any other.
 */
export async function* bgzfMembers(raw: ByteSource, from: number, window: number, signal?: AbortSignal): AsyncIterable<{ offset: number; bytes: Uint8Array }> {
  let buf = new Uint8Array(1 << 17);
  let len = 0;
  let offset = from;
  const take = function* (): Generator<{ offset: number; bytes: Uint8Array }> {
    let at = 0;
    for (;;) {
      const size = bgzfBlockSize(buf, at, len - at);
      if (size === undefined) throw new InputError(raw.name, offset, 'not a BGZF block: a file that starts with BGZF blocks must be BGZF to its end (bgzip writes such files)');
      if (size < 0 || len - at < size) break;
      if (size < 26) throw new InputError(raw.name, offset, `corrupt BGZF block: it declares ${size} bytes`);
      yield { offset, bytes: buf.subarray(at, at + size) };
      at += size;
      offset += size;
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
  if (len > 0) {
    const size = bgzfBlockSize(buf, 0, len);
    throw new InputError(raw.name, offset, size !== undefined && size > 0 ? `truncated BGZF block: it declares ${size} bytes, the file ends ${len} bytes after its start` : 'truncated BGZF block header');
  }
}

async function* inflateMembers(raw: ByteSource, from: number, window: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  for await (const { offset, bytes } of bgzfMembers(raw, from, window, signal)) {
    let data: Uint8Array;
    try {
      data = gunzipSync(bytes);
    } catch (e) {
      throw new InputError(raw.name, offset, `corrupt BGZF block: ${(e as Error).message}`);
    }
    if (data.length > 0) yield data;
  }
}

/** Plain gzip from compressed offset `from` (a member start): every member, in one zlib stream. */
async function* inflateStream(raw: ByteSource, from: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const dec = createGunzip({ chunkSize: 256 * 1024 });
  const stop = new AbortController();
  let fed = from;
  const feed = (async () => {
    for await (const chunk of raw.chunks(from, raw.size, signal)) {
      // A copy: the raw chunk may be a buffer the source reuses, and zlib holds it until inflated.
      const more = dec.write(Buffer.from(chunk));
      fed += chunk.length;
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
    if (e instanceof InputError || !(e instanceof Error) || !('code' in e) || typeof e.code !== 'string' || !e.code.startsWith('Z_')) throw e;
    // zlib says how many compressed bytes it had taken when it failed; a truncated stream ends where the file does.
    const at = e.code === 'Z_BUF_ERROR' ? raw.size : Math.min(fed, from + dec.bytesWritten);
    const what = e.code === 'Z_BUF_ERROR' ? 'truncated gzip data: the file ends inside a gzip member' : `corrupt gzip data (${e.message}) at or before this byte`;
    throw new InputError(raw.name, at, what);
  } finally {
    stop.abort(new Error('stopped'));
    dec.destroy();
    await feed;
  }
}
