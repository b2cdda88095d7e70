/**
 * zstd files for tests: frames from the zstd CLI, frames of raw (stored) blocks built by
 * hand (valid zstd that needs no compressor, RFC 8878 §3.1.1), and the seekable format's
 * seek table (facebook/zstd contrib/seekable_format/zstd_seekable_compression_format.md):
 * a skippable frame (magic 0x184D2A5E) holding one entry per frame (compressed size,
 * decompressed size, each u32 LE, and a checksum when the descriptor's bit 7 says so),
 * then the footer: Number_Of_Frames (u32), Seek_Table_Descriptor (u8), 0x8F92EAB1 (u32).
 */
import { execFileSync, spawnSync } from 'node:child_process';

export const hasZstdCli = spawnSync('sh', ['-c', 'command -v zstd']).status === 0;

/** One or more zstd frames from the CLI (`args`: -19, -B..., --no-check, ...). */
export function zstdCli(data: Uint8Array, args: string[] = []): Buffer {
  return execFileSync('zstd', ['-c', '-q', ...args], { input: data, maxBuffer: 1 << 28 });
}

/** A zstd frame of raw blocks (at most 128 KiB each), its content size in the header. */
export function rawZstdFrame(data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  // Frame header: magic, descriptor (FCS field of 8 bytes, single segment: no window descriptor), content size.
  const head = Buffer.alloc(13);
  head.writeUInt32LE(0xfd2fb528, 0);
  head[4] = 0xe0;
  head.writeBigUInt64LE(BigInt(data.length), 5);
  parts.push(head);
  let at = 0;
  do {
    const n = Math.min(128 * 1024, data.length - at);
    const last = at + n >= data.length ? 1 : 0;
    const bh = Buffer.alloc(3);
    bh.writeUIntLE((n << 3) | last, 0, 3);
    parts.push(bh, Buffer.from(data.subarray(at, at + n)));
    at += n;
  } while (at < data.length);
  return Buffer.concat(parts);
}

export interface SeekEntry {
  compressed: number;
  decompressed: number;
}

/** The seek table frame for these frames (checksums: a 12-byte entry with 0 as its checksum). */
export function seekTable(frames: SeekEntry[], opts: { checksums?: boolean } = {}): Buffer {
  const entry = opts.checksums ? 12 : 8;
  const out = Buffer.alloc(8 + frames.length * entry + 9);
  out.writeUInt32LE(0x184d2a5e, 0);
  out.writeUInt32LE(out.length - 8, 4);
  frames.forEach((f, i) => {
    out.writeUInt32LE(f.compressed, 8 + i * entry);
    out.writeUInt32LE(f.decompressed, 12 + i * entry);
  });
  const footer = 8 + frames.length * entry;
  out.writeUInt32LE(frames.length, footer);
  out[footer + 4] = opts.checksums ? 0x80 : 0;
  out.writeUInt32LE(0x8f92eab1, footer + 5);
  return out;
}

/**
 * A seekable zstd file: `data` cut into frames of the given decompressed sizes (cycled),
 * each compressed by `frame`, then the seek table. Returns the file and its table entries.
 */
export function seekable(data: Uint8Array, sizes: number[], frame: (part: Uint8Array) => Uint8Array, opts: { checksums?: boolean } = {}): { file: Buffer; entries: SeekEntry[] } {
  const frames: Uint8Array[] = [];
  const entries: SeekEntry[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const part = data.subarray(at, at + sizes[i % sizes.length]!);
    const f = frame(part);
    frames.push(f);
    entries.push({ compressed: f.length, decompressed: part.length });
    at += part.length;
  }
  return { file: Buffer.concat([...frames, seekTable(entries, opts)]), entries };
}
