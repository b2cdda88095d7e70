/**
 * Recognising compressed input by its magic bytes (and naming what is refused). gzip is
 * 1f 8b; BGZF (bgzip, htslib) is gzip whose every member carries a `BC` extra field
 * holding the member's size, so its members can be found without inflating anything.
 */
import { InputError } from '../errors.ts';

export type Compression = 'gzip' | 'bgzf' | 'zstd' | 'bzip2' | 'xz';

/** The member size a BGZF header at `at` declares (BSIZE + 1), or undefined when it is not a BGZF header; -1: more bytes needed. */
export function bgzfBlockSize(buf: Uint8Array, at: number, avail: number): number | undefined {
  if (avail < 12) return -1;
  if (buf[at] !== 0x1f || buf[at + 1] !== 0x8b || buf[at + 2] !== 8 || (buf[at + 3]! & 4) === 0) return undefined;
  const xlen = buf[at + 10]! | (buf[at + 11]! << 8);
  if (avail < 12 + xlen) return -1;
  for (let p = at + 12; p + 4 <= at + 12 + xlen; ) {
    const slen = buf[p + 2]! | (buf[p + 3]! << 8);
    if (buf[p] === 66 && buf[p + 1] === 67 && slen === 2) return (buf[p + 4]! | (buf[p + 5]! << 8)) + 1;
    p += 4 + slen;
  }
  return undefined;
}

/** The compression of a file whose first bytes are `head`, or undefined for none. */
export function sniffCompression(head: Uint8Array): Compression | undefined {
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const bsize = bgzfBlockSize(head, 0, head.length);
    return bsize !== undefined && bsize > 0 ? 'bgzf' : 'gzip';
  }
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  // A seekable zstd file may start with a skippable frame (magic 0x184D2A50 to 5F, little-endian).
  if ((head[0]! & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) return 'zstd';
  if (head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && head[3]! >= 0x31 && head[3]! <= 0x39) return 'bzip2';
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0) return 'xz';
  return undefined;
}

/** The error for a compression fanout cannot read, saying what to do instead. */
export function unsupportedCompression(name: string, kind: Compression, why: string): InputError {
  const tool = { gzip: 'gunzip -k', bgzf: 'gunzip -k', zstd: 'zstd -d', bzip2: 'bunzip2 -k', xz: 'unxz -k' }[kind];
  return new InputError(name, 0, `${kind} compressed data: ${why}; decompress it first (${tool} ${name.replace(/^.*\//, '')})`);
}
