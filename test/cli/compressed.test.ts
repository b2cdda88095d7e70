/**
 * Compressed input through the real command: worker threads open the file themselves and
 * read their BGZF members or seekable zstd frames; streams are one slice and the summary
 * says why; damaged data is one line and exit 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../../lib/core/units.ts';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { hasZstdCli, seekable, zstdCli } from '../helpers/zstd.ts';

/** BGZF members of at most `block` bytes each (SAMv1 §4.1), with the empty end marker. */
function bgzf(data: Buffer, block: number): Buffer {
  const members: Buffer[] = [];
  for (let at = 0; at <= data.length; at += block) {
    // gzip with the BC extra field: built by hand, since zlib writes no extra fields.
    const part = data.subarray(at, at + block);
    const gz = gzipSync(part);
    const body = gz.subarray(10);
    const head = Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 66, 67, 2, 0, 0, 0]);
    head.writeUInt16LE(head.length + body.length - 1, 16);
    members.push(head, body);
  }
  return Buffer.concat(members);
}

describe('fanout run on compressed input', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  const lines = ['x,y'];
  for (let i = 0; i < 20000; i++) lines.push(`${i * 0.25},${(i % 13) - 6}`);
  const text = Buffer.from(`${lines.join('\n')}\n`);
  writeFileSync(join(dir.path, 'data.csv'), text);
  writeFileSync(join(dir.path, 'data.csv.gz'), bgzf(text, 4096));
  writeFileSync(join(dir.path, 'plain.csv.gz'), gzipSync(text));

  it('BGZF on worker threads, and plain gzip, give the uncompressed result', () => {
    const args = (f: string, slices: string) => [join(dir.path, f), '--analysis', 'stats', '--skip-header', '--slices', slices, '--workers', '2', '--state-dir', join(dir.path, 'state')];
    const want = runJson(args('data.csv', '1'));
    const bgz = runJson(args('data.csv.gz', '9'));
    expect(bgz.result).toEqual(want.result);
    expect(bgz.slices).toBe(9);
    expect(bgz.input).toMatchObject({ compression: { codec: 'bgzf', splittable: true }, format: 'text' });
    const gz = runJson(args('plain.csv.gz', '9'));
    expect(gz.result).toEqual(want.result);
    expect(gz.slices).toBe(1);
    expect(gz.input).toMatchObject({ compression: { codec: 'gzip', splittable: false } });
  });

  it.skipIf(!hasZstdCli)('seekable zstd on worker threads at many slicings, a zstd stream as one slice, each the uncompressed result', () => {
    writeFileSync(join(dir.path, 'seekable.csv.zst'), seekable(text, [1500, 6000, 700], (part) => zstdCli(part)).file);
    writeFileSync(join(dir.path, 'plain.csv.zst'), zstdCli(text, ['-19']));
    const args = (f: string, slices: string, workers: string) => [join(dir.path, f), '--analysis', 'stats', '--skip-header', '--slices', slices, '--workers', workers, '--state-dir', join(dir.path, 'state')];
    const want = runJson(args('data.csv', '1', '1'));
    for (const [slices, workers] of [['1', '1'], ['3', '2'], ['17', '3'], ['100', '2']] as const) {
      const got = runJson(args('seekable.csv.zst', slices, workers));
      expect(got.result, `${slices} slices on ${workers} workers`).toEqual(want.result);
      // Slices are runs of whole frames (here 1500, 6000 and 700 bytes of text, about 65 in all).
      expect(got.slices).toBeGreaterThanOrEqual(Math.min(Number(slices), 10));
      expect(got.input).toMatchObject({ compression: { codec: 'zstd-seekable', splittable: true } });
    }
    const plain = runJson(args('plain.csv.zst', '8', '2'));
    expect(plain.result).toEqual(want.result);
    expect(plain.slices).toBe(1);
    // Without --json the summary says why there is one slice.
    const r = fanout(['run', ...args('plain.csv.zst', '8', '2'), '--progress', '--state-dir', join(dir.path, 'fresh')]);
    expect(r.code).toBe(0);
    // Progress counts compressed bytes (the decompressed size is unknown), and says so.
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^\[#+\] 1\/1 slices {2}[\d.]+ [KM]?B\/s compressed {2}ETA 0:00$/);
    expect(r.stdout).toMatch(/\nzstd: a zstd stream without a seek table can only be decompressed from its start: one slice \(recompress to the seekable zstd format to split it\)\n/);
    // fanout plan counts the stream's one slice in compressed bytes, and says so.
    const plan = fanout(['plan', join(dir.path, 'plain.csv.zst'), '--skip-header']);
    expect(plan.code).toBe(0);
    const kB = formatBytes(zstdCli(text, ['-19']).length);
    expect(plan.stdout).toContain(`1 slice, ${kB} each\na zstd stream without a seek table can only be decompressed from its start: one slice (recompress to the seekable zstd format to split it) (sizes are compressed bytes)\n`);
  });

  it.skipIf(!hasZstdCli)('a truncated or damaged zstd file is one line, exit 2', () => {
    const z = zstdCli(text);
    writeFileSync(join(dir.path, 'cut.csv.zst'), z.subarray(0, z.length - 50));
    const cut = fanout(['run', join(dir.path, 'cut.csv.zst'), '--skip-header', '--state-dir', join(dir.path, 'state')]);
    expect(cut.code).toBe(2);
    expect(cut.stderr.trim().split('\n')).toEqual([`fanout: ${join(dir.path, 'cut.csv.zst')}: at byte ${z.length - 50}: truncated zstd data: the file ends inside a zstd frame`]);
    const { file, entries } = seekable(text, [10000], (part) => zstdCli(part));
    const bad = Buffer.from(file);
    bad[entries[0]!.compressed + entries[1]!.compressed + 2]! ^= 0xff; // the magic number of the third frame
    writeFileSync(join(dir.path, 'bad.csv.zst'), bad);
    const r = fanout(['run', join(dir.path, 'bad.csv.zst'), '--skip-header', '--slices', '4', '--workers', '2', '--state-dir', join(dir.path, 'state')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`fanout: ${join(dir.path, 'bad.csv.zst')}: at byte ${entries[0]!.compressed + entries[1]!.compressed}: not a zstd frame (no frame magic number)`]);
  });

  it('a truncated file is one line naming the compressed offset, exit 2', () => {
    const gz = gzipSync(text);
    writeFileSync(join(dir.path, 'cut.csv.gz'), gz.subarray(0, 5000));
    const r = fanout(['run', join(dir.path, 'cut.csv.gz'), '--skip-header', '--state-dir', join(dir.path, 'state')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`fanout: ${join(dir.path, 'cut.csv.gz')}: at byte 5000: truncated gzip data: the file ends inside a gzip member`]);
  });
});
