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
}

/**
 * The frame that starts at `at` in buf (of which `avail` bytes from `at` are present):
 * its size found by walking its block headers, or -1 when more bytes are needed. A string
 * says why the bytes there are not a zstd frame.
 */
export function zstdFrameAt(buf: Uint8Array, at: number, avail: number): ZstdFrame | -1 | string {
  if (avail < 8) return avail >= 4 && !isFrameMagic(buf, at) ? 'not a zstd frame (no frame magic number)' : -1;
  if ((buf[at]! & 0xf0) === 0x50 && buf[at + 1] === 0x2a && buf[at + 2] === 0x4d && buf[at + 3] === 0x18) {
    return { size: 8 + u32(buf, at + 4), skippable: true, contentSize: 0 };
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
  return p > at + avail ? -1 : { size: p - at, skippable: false, contentSize };
}

function isFrameMagic(buf: Uint8Array, at: number): boolean {
  return u32(buf, at) === ZSTD_MAGIC || ((buf[at]! & 0xf0) === 0x50 && buf[at + 1] === 0x2a && buf[at + 2] === 0x4d && buf[at + 3] === 0x18);
}

/** Decodes one whole frame (`bytes` is exactly the frame); skippable frames hold nothing. */
export function decodeZstdFrame(bytes: Uint8Array, frame: ZstdFrame): Uint8Array {
  if (frame.skippable) return new Uint8Array(0);
  const out = decoder === 'node:zlib' ? builtin.zstdDecompressSync!(bytes) : fzstdDecompress(bytes);
  if (frame.contentSize !== null && out.length !== frame.contentSize) throw new Error(`it decodes to ${out.length} bytes, its header declares ${frame.contentSize}`);
  return out;
}

/** A streaming decoder with zlib's stream interface, when the built-in one is used. */
export function builtinZstdStream(): (Transform & { bytesWritten: number }) | undefined {
  return decoder === 'node:zlib' ? builtin.createZstdDecompress!({ chunkSize: 256 * 1024 }) : undefined;
}

/** fzstd's streaming decoder: push compressed chunks, take what came out. Synchronous. */
export class FzstdStreamDecoder {
  private readonly out: Uint8Array[] = [];
  private readonly inner = new FzstdStream((data) => {
    if (data.length > 0) this.out.push(data);
  });

  push(chunk: Uint8Array, final: boolean): Uint8Array[] {
    this.inner.push(chunk, final);
    return this.out.splice(0);
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
