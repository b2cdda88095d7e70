/**
 * Compressed input: gzip (one member and many), BGZF (written by bgzip, and by hand with
 * tiny members so that slices cut many of them), and the formats refused by name. The
 * oracle is the same analysis on the uncompressed bytes: every slicing of the compressed
 * file must give exactly its result. Damaged files give an InputError at a compressed offset.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { sniffCompression } from '../../lib/core/compressed/detect.ts';
import { runStats, statsFailure } from '../helpers/compressed-run.ts';
import { sampleCsv } from '../helpers/text-data.ts';

/** BGZF as the spec (SAMv1 §4.1) has it, with members of at most `block` input bytes. */
function bgzf(data: Uint8Array, block: number, endMarker = true): Uint8Array {
  const members: Uint8Array[] = [];
  const member = (part: Uint8Array): Uint8Array => {
    const body = deflateRawSync(part);
    const out = new Uint8Array(18 + body.length + 8);
    out.set([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 66, 67, 2, 0]);
    const bsize = out.length - 1;
    out[16] = bsize & 0xff;
    out[17] = bsize >> 8;
    out.set(body, 18);
    const dv = new DataView(out.buffer);
    dv.setUint32(18 + body.length, crc32(part), true);
    dv.setUint32(22 + body.length, part.length, true);
    return out;
  };
  for (let at = 0; at < data.length; at += block) members.push(member(data.subarray(at, at + block)));
  if (endMarker) members.push(member(new Uint8Array(0)));
  return Buffer.concat(members);
}

const csv = (rows: number, seed = 1): Uint8Array => sampleCsv(rows, seed);

/** The job's result, slices and records (the spec aside). */
const run = async (...args: Parameters<typeof runStats>) => {
  const { spec: _spec, ...r } = await runStats(...args);
  return r;
};
const failure = statsFailure;

const hasTool = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const tool = (cmd: string, args: string[], input: Uint8Array): Uint8Array => execFileSync(cmd, args, { input, maxBuffer: 1 << 28 });

describe('compressed input', () => {
  const plain = csv(3000);
  const expected = run(plain, 'data.csv', { slices: 1 });

  it('BGZF with small members: every slicing gives the result of the uncompressed file', async () => {
    const want = await expected;
    const file = bgzf(plain, 1000);
    expect(sniffCompression(file)).toBe('bgzf');
    let most = 0;
    for (const slices of [1, 2, 3, 7, 16, 61, 200, 10000]) {
      const got = await run(file, 'data.csv.gz', { slices });
      expect(got.result, `${slices} slices`).toEqual(want.result);
      expect(got.records).toBe(want.records);
      most = Math.max(most, got.slices);
    }
    expect(most).toBeGreaterThan(100);
  });

  it('BGZF members of one byte, with and without the end marker', async () => {
    const small = csv(40);
    const want = await run(small, 'x.csv', { slices: 1 });
    // (A slice reads a few KiB past its end, here thousands of members: few slicings.)
    for (const slices of [1, 5, 33]) expect((await run(bgzf(small, 1), 'x.csv.gz', { slices })).result).toEqual(want.result);
    for (const slices of [1, 33, 1000]) expect((await run(bgzf(small, 7, false), 'x.csv.gz', { slices })).result).toEqual(want.result);
  });

  it('gzip, one member and several (cat a.gz b.gz), is one slice with the whole result', async () => {
    const want = await expected;
    const got = await run(gzipSync(plain), 'data.csv.gz', { slices: 8 });
    expect(got).toEqual({ ...want, slices: 1 });
    const cut = plain.indexOf(10, 20000) + 1;
    const members = Buffer.concat([gzipSync(plain.subarray(0, cut)), gzipSync(plain.subarray(cut, 30000)), gzipSync(plain.subarray(30000))]);
    expect((await run(members, 'data.csv.gz', {})).result).toEqual(want.result);
  });

  it.skipIf(!hasTool('gzip'))('reads what gzip -9 and gzip -1 write', async () => {
    const want = await expected;
    for (const level of ['-1', '-9']) expect((await run(tool('gzip', [level, '-c'], plain), 'data.csv.gz', {})).result).toEqual(want.result);
  });

  // bgzip comes with Debian's tabix package (apt-get install tabix).
  it.skipIf(!hasTool('bgzip'))('reads what bgzip writes, at any slicing', async () => {
    const big = csv(60000, 7);
    const want = await run(big, 'big.csv', { slices: 1 });
    const file = tool('bgzip', ['-c'], big);
    expect(sniffCompression(file)).toBe('bgzf');
    for (const slices of [1, 4, 13]) {
      const got = await run(file, 'big.csv.gz', { slices });
      expect(got.result).toEqual(want.result);
      expect(got.slices).toBeGreaterThan(Math.min(slices, 2) - 1);
    }
  });

  it('a truncated gzip names the end of the file; a damaged member names its offset', async () => {
    const gz = gzipSync(plain);
    const truncated = await failure(gz.subarray(0, gz.length - 100), 'data.csv.gz');
    expect(truncated.offset).toBe(gz.length - 100);
    expect(truncated.message).toMatch(/truncated gzip data/);
    // A flipped byte in the CRC: the data inflates, the check fails (not a parse error on garbage).
    const badCrc = Buffer.from(gz);
    badCrc[gz.length - 6]! ^= 1;
    expect((await failure(badCrc, 'data.csv.gz')).message).toMatch(/^data\.csv\.gz: at byte \d+: corrupt gzip data \(incorrect data check\)/);
    // A flipped byte in the deflate data: garbage, found by the CRC if not by the parser first.
    const badData = Buffer.from(gz);
    badData[Math.floor(gz.length / 2)]! ^= 0x55;
    expect((await failure(badData, 'data.csv.gz')).message).toMatch(/^data\.csv\.gz: at byte \d+: (corrupt|truncated) gzip data/);

    const bg = bgzf(plain, 5000);
    const second = (bg[16]! | (bg[17]! << 8)) + 1; // the second member's offset: the first's BSIZE + 1
    const badMember = Buffer.from(bg);
    badMember[second + 30]! ^= 0x55;
    for (const slices of [1, 4]) {
      const e = await failure(badMember, 'data.csv.gz', { slices });
      expect(e.offset).toBe(second);
      expect(e.message).toMatch(/corrupt BGZF block/);
    }
    const cutBg = await failure(bg.subarray(0, second + 40), 'data.csv.gz');
    expect(cutBg.offset).toBe(second);
    expect(cutBg.message).toMatch(/truncated BGZF block/);
  });

  it('a BGZF member whose size field lies is an error, not lost data', async () => {
    const bg = Buffer.from(bgzf(csv(50), 400));
    // Claim 0 bytes for the last data member: the data it holds is still inflated and noticed.
    const last = bg.length - 28 - 8;
    bg.writeUInt32LE(0, last - 4);
    const e = await failure(bg, 'x.csv.gz', { slices: 3 });
    expect(e.message).toMatch(/corrupt BGZF block|more data than/);
  });

  it.skipIf(!hasTool('bzip2') || !hasTool('xz'))('bzip2 and xz are refused by name, saying what to do', async () => {
    for (const [cmd, kind, fix] of [['bzip2', 'bzip2', 'bunzip2 -k'], ['xz', 'xz', 'unxz -k']] as const) {
      const e = await failure(tool(cmd, ['-c'], plain), `dir/data.csv.${cmd}`);
      expect(e.message).toBe(`dir/data.csv.${cmd}: at byte 0: ${kind} compressed data: fanout reads gzip (and BGZF) and zstd only; decompress it first (${fix} data.csv.${cmd})`);
    }
  });

  it('compressed binary formats are refused', async () => {
    const npy = Buffer.concat([Buffer.from('\x93NUMPY\x01\x00v\x00', 'latin1'), Buffer.from(`{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }`.padEnd(117) + '\n'), Buffer.alloc(16)]);
    expect((await failure(gzipSync(npy), 'a.npy.gz')).message).toBe('a.npy.gz: at byte 0: gzip compressed data: fanout reads compressed text only, and this holds .npy data; decompress it first (gunzip -k a.npy.gz)');
  });
});
