/**
 * zstd (RFC 8878): cutting a file into frames by their headers (no decoding), the seek
 * table of the seekable format (facebook/zstd contrib/seekable_format), and the decoder.
 *
 * The decoder is Node's built-in zstd (node:zlib, Node 22.15 and later: the zstd library,
 * about 700 MB/s here, checking each frame's content checksum) where present, else fzstd
 * (pure JavaScript, about 140 MB/s, which does not check content checksums). One choice
 * for the process, made here; tests may pick the other with useZstdDecoder.
 */
import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { decompress as fzstdDecompress, Decompress as FzstdStream } from 'fzstd';
import { InputError } from '../errors.ts';
import { Xxh64 } from './xxh64.ts';

interface BuiltinZstd {
  zstdDecompressSync(data: Uint8Array): Buffer;
  createZstdDecompress(options?: { chunkSize?: number }): Transform & { bytesWritten: number };
}
const builtin = zlib as unknown as Partial<BuiltinZstd>;
const hasBuiltin = typeof builtin.zstdDecompressSync === 'function' && typeof builtin.createZstdDecompress === 'function';

export type ZstdDecoder = 'node:zlib' | 'fzstd';
/** The decoders this Node has, the preferred first. */
export const zstdDecoders: readonly ZstdDecoder[] = hasBuiltin ? ['node:zlib', 'fzstd'] : ['fzstd'];
let decoder: ZstdDecoder = zstdDecoders[0]!;
export function zstdDecoder(): ZstdDecoder {
  return decoder;
}
/** For tests: decode with `d` from now on (it must be one of zstdDecoders). */
export function useZstdDecoder(d: ZstdDecoder): void {
  if (!zstdDecoders.includes(d)) throw new Error(`zstd decoder ${d} is not available on Node ${process.version}`);
  decoder = d;
}

export const ZSTD_MAGIC = 0xfd2fb528;
export const SEEKABLE_MAGIC = 0x8f92eab1;
export const SEEK_TABLE_SKIPPABLE_MAGIC = 0x184d2a5e;
const MAX_BLOCK_BYTES = 128 * 1024;

const u32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

export interface ZstdFrame {
  /** compressed bytes of the whole frame, header, blocks and checksum */
  size: number;
  /** a skippable frame: no data */
  skippable: boolean;
  /** the decompressed size its header declares, or null */
  contentSize: number | null;
  /** the frame ends with a content checksum (the low 32 bits of the data's XXH64) */
  checksum: boolean;
}

/**
 * The frame that starts at `at` in buf (of which `avail` bytes from `at` are present):
 * its size found by walking its block headers, or -1 when more bytes are needed. A string
 * says why the bytes there are not a zstd frame.
 */
export function zstdFrameAt(buf: Uint8Array, at: number, avail: number): ZstdFrame | -1 | string {
  if (avail < 8) return avail >= 4 && !isFrameMagic(buf, at) ? 'not a zstd frame (no frame magic number)' : -1;
  if ((buf[at]! & 0xf0) === 0x50 && buf[at + 1] === 0x2a && buf[at + 2] === 0x4d && buf[at + 3] === 0x18) {
    return { size: 8 + u32(buf, at + 4), skippable: true, contentSize: 0, checksum: false };
  }
  if (u32(buf, at) !== ZSTD_MAGIC) return 'not a zstd frame (no frame magic number)';
  const fhd = buf[at + 4]!;
  if (fhd & 0x08) return 'corrupt zstd frame header (its reserved bit is set)';
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const checksum = (fhd >> 2) & 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  const fcsBytes = fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag]!;
  let p = at + 5 + (single ? 0 : 1) + dictBytes;
  let contentSize: number | null = null;
  if (fcsBytes > 0) {
    if (p + fcsBytes > at + avail) return -1;
    if (fcsBytes === 1) contentSize = buf[p]!;
    else if (fcsBytes === 2) contentSize = (buf[p]! | (buf[p + 1]! << 8)) + 256;
    else if (fcsBytes === 4) contentSize = u32(buf, p);
    else contentSize = u32(buf, p) + u32(buf, p + 4) * 2 ** 32;
  }
  p += fcsBytes;
  for (;;) {
    if (p + 3 > at + avail) return -1;
    const bh = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16);
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) return `corrupt zstd block at byte ${p} (reserved block type)`;
    if (size > MAX_BLOCK_BYTES) return `corrupt zstd block at byte ${p} (it declares ${size} bytes, at most ${MAX_BLOCK_BYTES} are allowed)`;
    p += 3 + (type === 1 ? 1 : size);
    if (bh & 1) break;
  }
  p += checksum * 4;
  return p > at + avail ? -1 : { size: p - at, skippable: false, contentSize, checksum: checksum === 1 };
}

function isFrameMagic(buf: Uint8Array, at: number): boolean {
  return u32(buf, at) === ZSTD_MAGIC || ((buf[at]! & 0xf0) === 0x50 && buf[at + 1] === 0x2a && buf[at + 2] === 0x4d && buf[at + 3] === 0x18);
}

/** Decodes one whole frame (`bytes` is exactly the frame); skippable frames hold nothing. */
export function decodeZstdFrame(bytes: Uint8Array, frame: ZstdFrame): Uint8Array {
  if (frame.skippable) return new Uint8Array(0);
  if (decoder === 'node:zlib') return builtin.zstdDecompressSync!(bytes);
  const out = fzstdDecompress(bytes);
  if (frame.contentSize !== null && out.length !== frame.contentSize) throw new Error(`it decodes to ${out.length} bytes, its header declares ${frame.contentSize}`);
  // fzstd does not check the content checksum: check it here.
  if (frame.checksum && new Xxh64().update(out).digestLow32() !== u32(bytes, bytes.length - 4)) throw new Error('content checksum mismatch');
  return out;
}

/** A streaming decoder with zlib's stream interface, when the built-in one is used. */
export function builtinZstdStream(): (Transform & { bytesWritten: number }) | undefined {
  return decoder === 'node:zlib' ? builtin.createZstdDecompress!({ chunkSize: 256 * 1024 }) : undefined;
}

/**
 * fzstd's streaming decoder: push compressed chunks, take what came out. Synchronous.
 * fzstd does not check content checksums, so this follows the frame structure alongside
 * it (headers, block headers, checksums: no decoding) and hashes each frame's output.
 * A push is cut where a frame's last block ends, so that everything fzstd hands out
 * after that cut belongs to the next frame. Errors are InputErrors at compressed offsets.
 */
export class FzstdStreamDecoder {
  private readonly out: Uint8Array[] = [];
  private readonly inner = new FzstdStream((data) => {
    if (data.length > 0) {
      this.out.push(data);
      this.hash.update(data);
    }
  });
  private hash = new Xxh64();
  /** the frame's checksum as computed, once its data is complete */
  private digest = 0;
  // Where the walk is: reading a small structure into `small` (want bytes of it), or skipping `skip` bytes of a body.
  private state: 'frame' | 'header' | 'block' | 'body' | 'checksum' | 'skippable' = 'frame';
  private readonly small = new Uint8Array(18);
  private have = 0;
  private want = 5;
  private skip = 0;
  private lastBlock = false;
  private hasChecksum = false;
  /** compressed offset of the next byte pushed, and of the current frame */
  private at: number;
  private frameAt: number;

  constructor(
    private readonly name: string,
    from: number,
  ) {
    this.at = from;
    this.frameAt = from;
  }

  push(chunk: Uint8Array, final: boolean): Uint8Array[] {
    let fed = 0;
    let p = 0;
    for (;;) {
      if (this.state === 'body' || this.state === 'skippable') {
        const n = Math.min(this.skip, chunk.length - p);
        p += n;
        this.skip -= n;
        if (this.skip > 0) break;
        if (this.state === 'skippable') this.next('frame', 5);
        else if (!this.lastBlock) this.next('block', 3);
        else {
          // The frame's data is complete once fzstd has these bytes: cut the push here.
          this.feed(chunk.subarray(fed, p), false);
          fed = p;
          this.digest = this.hash.digestLow32();
          this.hash = new Xxh64();
          if (this.hasChecksum) this.next('checksum', 4);
          else this.next('frame', 5);
        }
        continue;
      }
      if (p >= chunk.length) break;
      const n = Math.min(this.want - this.have, chunk.length - p);
      this.small.set(chunk.subarray(p, p + n), this.have);
      this.have += n;
      p += n;
      if (this.have < this.want) break;
      this.parsed(this.at + p - fed);
    }
    this.feed(chunk.subarray(fed), final);
    if (final && !(this.state === 'frame' && this.have === 0)) throw new InputError(this.name, this.at, 'truncated zstd data: the file ends inside a zstd frame');
    return this.out.splice(0);
  }

  private feed(bytes: Uint8Array, final: boolean): void {
    try {
      this.inner.push(bytes, final);
    } catch (e) {
      const msg = zstdErrorMessage(e) ?? (e as Error).message;
      throw new InputError(this.name, this.at + bytes.length, msg === 'unexpected EOF' ? 'truncated zstd data: the file ends inside a zstd frame' : `corrupt zstd data (${msg}) at or before this byte`);
    } finally {
      this.at += bytes.length;
    }
  }

  private next(state: FzstdStreamDecoder['state'], want: number): void {
    this.state = state;
    this.have = 0;
    this.want = want;
  }

  /** A small structure is complete; `end` is the compressed offset just past it. */
  private parsed(end: number): void {
    const b = this.small;
    if (this.state === 'frame') {
      if (this.want === 5) this.frameAt = end - 5;
      if ((b[0]! & 0xf0) === 0x50 && b[1] === 0x2a && b[2] === 0x4d && b[3] === 0x18) {
        if (this.want === 5) return void (this.want = 8);
        this.state = 'skippable';
        this.skip = u32(b, 4);
        return;
      }
      const fhd = b[4]!;
      const single = (fhd >> 5) & 1;
      const fcsFlag = fhd >> 6;
      this.hasChecksum = ((fhd >> 2) & 1) === 1;
      // fzstd judges the header; the walk only needs its length.
      const length = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + (fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag]!);
      if (length > 5) return void this.next('header', length - 5);
      this.next('block', 3);
    } else if (this.state === 'header') {
      this.next('block', 3);
    } else if (this.state === 'block') {
      const bh = b[0]! | (b[1]! << 8) | (b[2]! << 16);
      this.lastBlock = (bh & 1) === 1;
      this.state = 'body';
      this.skip = ((bh >> 1) & 3) === 1 ? 1 : bh >>> 3;
    } else if (this.state === 'checksum') {
      if (u32(b, 0) !== this.digest) throw new InputError(this.name, end - 4, `corrupt zstd data (content checksum mismatch) in the frame at byte ${this.frameAt}`);
      this.next('frame', 5);
    }
  }
}

/** The error message of a zstd decoder (built-in: `ZSTD_error_*` codes; fzstd: its own). */
export function zstdErrorMessage(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ZSTD_error_')) return code === 'ZSTD_error_checksum_wrong' ? 'content checksum mismatch' : e.message;
  if (/^(invalid zstd data|window size too large|invalid block type|FSE accuracy too high|match distance too far back|unexpected EOF)/.test(e.message)) return e.message;
  return undefined;
}

export interface SeekTable {
  /** compressed offset of the seek table's skippable frame: the frames end there */
  tableAt: number;
  /** per frame: compressed size, decompressed size */
  frames: { compressed: number; decompressed: number }[];
}

/** Bytes of the seek table's footer: Number_Of_Frames (4), Seek_Table_Descriptor (1), Seekable_Magic_Number (4). */
export const SEEK_FOOTER_BYTES = 9;

/**
 * The seek table of a seekable zstd file of `fileSize` bytes, given its last bytes
 * (`tail`, ending at the end of the file); undefined when the file does not end with the
 * seekable magic number; `{ need }` when the table is longer than `tail`. A table that
 * contradicts the file is an InputError at its offset.
 */
export function parseSeekTable(name: string, tail: Uint8Array, fileSize: number): SeekTable | { need: number } | undefined {
  if (tail.length < SEEK_FOOTER_BYTES || fileSize < SEEK_FOOTER_BYTES) return undefined;
  const f = tail.length - SEEK_FOOTER_BYTES;
  if (u32(tail, f + 5) !== SEEKABLE_MAGIC) return undefined;
  const footerAt = fileSize - SEEK_FOOTER_BYTES;
  const count = u32(tail, f);
  const descriptor = tail[f + 4]!;
  if (descriptor & 0x7c) throw new InputError(name, footerAt + 4, `corrupt zstd seek table: its descriptor's reserved bits are set (0x${descriptor.toString(16)})`);
  const entryBytes = descriptor & 0x80 ? 12 : 8;
  const tableBytes = 8 + count * entryBytes + SEEK_FOOTER_BYTES;
  if (tableBytes > fileSize) throw new InputError(name, footerAt, `corrupt zstd seek table: it lists ${count} frames, ${tableBytes} bytes of table, and the file has ${fileSize} bytes`);
  if (tableBytes > tail.length) return { need: tableBytes };
  const tableAt = fileSize - tableBytes;
  const t = tail.length - tableBytes;
  if (u32(tail, t) !== SEEK_TABLE_SKIPPABLE_MAGIC || u32(tail, t + 4) !== tableBytes - 8) {
    throw new InputError(name, tableAt, `corrupt zstd seek table: a table of ${count} frames starts here with a skippable frame of ${tableBytes - 8} bytes (magic 0x184D2A5E), and the bytes here are not that`);
  }
  const frames: SeekTable['frames'] = [];
  let c = 0;
  for (let i = 0; i < count; i++) {
    const e = t + 8 + i * entryBytes;
    const compressed = u32(tail, e);
    frames.push({ compressed, decompressed: u32(tail, e + 4) });
    c += compressed;
  }
  if (c !== tableAt) {
    throw new InputError(name, tableAt, `corrupt zstd seek table: its ${count} frames add up to ${c} compressed bytes, and the table starts at byte ${tableAt}`);
  }
  return { tableAt, frames };
}
