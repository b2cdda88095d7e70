/**
 * Compressed input through the real command: worker threads open the file themselves and
 * read their BGZF members; damaged data is one line and exit 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';

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
    expect(bgz.input).toMatchObject({ compression: 'bgzf', format: 'text' });
    const gz = runJson(args('plain.csv.gz', '9'));
    expect(gz.result).toEqual(want.result);
    expect(gz.slices).toBe(1);
  });

  it('a truncated file is one line naming the compressed offset, exit 2', () => {
    const gz = gzipSync(text);
    writeFileSync(join(dir.path, 'cut.csv.gz'), gz.subarray(0, 5000));
    const r = fanout(['run', join(dir.path, 'cut.csv.gz'), '--skip-header', '--state-dir', join(dir.path, 'state')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`fanout: ${join(dir.path, 'cut.csv.gz')}: at byte 5000: truncated gzip data: the file ends inside a gzip member`]);
  });
});
