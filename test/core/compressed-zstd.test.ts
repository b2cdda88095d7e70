/**
 * zstd input, with each decoder this Node has (Node 24: its built-in zstd and fzstd;
 * Node 20: fzstd): plain streams (one frame, concatenated frames, pzstd's) are one slice;
 * the seekable format is split into runs of whole frames, at every slicing giving the
 * result of the uncompressed file. A seek table that lies, and damaged frames, are
 * InputErrors at compressed offsets.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinAnalyses } from '../../lib/core/analyses/index.ts';
import type { Analysis } from '../../lib/core/analysis.ts';
import { sniffCompression } from '../../lib/core/compressed/detect.ts';
import { Xxh64 } from '../../lib/core/compressed/xxh64.ts';
import { useZstdDecoder, zstdDecoders } from '../../lib/core/compressed/zstd.ts';
import { progressBytes, resultDocument, scanSlice } from '../../lib/core/job.ts';
import { planJob } from '../../lib/core/plan.ts';
import { type ByteSource, MemorySource } from '../../lib/core/source.ts';
import { hasZstdCli, rawZstdFrame, seekable, seekTable, zstdCli } from '../helpers/zstd.ts';
import { runStats, statsFailure } from '../helpers/compressed-run.ts';
import { sampleCsv } from '../helpers/text-data.ts';

const stats = builtinAnalyses.stats as unknown as Analysis;

const csv = (rows: number, seed = 1): Uint8Array => sampleCsv(rows, seed, { every: 89, bytes: 2500 });

const run = runStats;
const failure = statsFailure;

const hasPzstd = spawnSync('sh', ['-c', 'command -v pzstd']).status === 0;
const plain = csv(4000);
const expected = run(plain, 'data.csv', { slices: 1 });

afterAll(() => useZstdDecoder(zstdDecoders[0]!));

describe.each(zstdDecoders.map((d) => [d]))('zstd input, decoded by %s', (decoder) => {
  const use = (): void => useZstdDecoder(decoder);

  it('seekable zstd of raw frames: every slicing gives the uncompressed result, in runs of whole frames', async () => {
    use();
    const want = await expected;
    const { file, entries } = seekable(plain, [1000, 1, 7000, 333, 0, 4096], rawZstdFrame);
    expect(sniffCompression(file)).toBe('zstd');
    let most = 0;
    for (const slices of [1, 2, 3, 5, 16, 77, 1000]) {
      const got = await run(file, 'data.csv.zst', { slices });
      expect(got.result, `${slices} slices`).toEqual(want.result);
      expect(got.records).toBe(want.records);
      expect(got.spec.compression?.codec).toBe('zstd-seekable');
      most = Math.max(most, got.slices);
    }
    expect(most).toBeGreaterThan(50);
    expect(entries.length).toBeGreaterThan(most);
  });

  it.skipIf(!hasZstdCli)('seekable zstd of frames the zstd CLI wrote (with and without checksums; a checksummed table)', async () => {
    use();
    const want = await expected;
    for (const [args, checksums] of [[[], false], [['--no-check', '-19'], true]] as const) {
      const { file } = seekable(plain, [20000, 3000, 50000], (part) => zstdCli(part, [...args]), { checksums });
      for (const slices of [1, 4, 9]) {
        const got = await run(file, 'data.csv.zst', { slices });
        expect(got.result).toEqual(want.result);
        expect(got.slices).toBeGreaterThan(slices === 1 ? 0 : 1);
      }
    }
  });

  it.skipIf(!hasZstdCli)('a zstd stream is one slice, whatever --slices says, and the result says why', async () => {
    use();
    const want = await expected;
    const cut = plain.indexOf(10, 30000) + 1;
    const files = [zstdCli(plain), zstdCli(plain, ['-19', '--no-check']), zstdCli(plain, ['--rsyncable', '-B20000']), Buffer.concat([zstdCli(plain.subarray(0, cut)), zstdCli(plain.subarray(cut))])];
    if (hasPzstd) files.push(execFileSync('pzstd', ['-c', '-q', '-p', '2', '-3'], { input: plain }));
    for (const file of files) {
      const got = await run(file, 'data.csv.zst', { slices: 8 });
      expect(got.result).toEqual(want.result);
      expect(got.slices).toBe(1);
      const doc = resultDocument(got.spec, { rows: 0, skipped: 0, skippedExamples: [] } as never, null, { resumedSlices: 0, elapsedMs: 0 });
      expect(doc.input.compression).toEqual({ codec: 'zstd', splittable: false, why: expect.stringMatching(/^a zstd stream without a seek table .*: one slice/) });
      // Progress counts the compressed bytes the decoder took: the size of a stream's data is unknown.
      expect(progressBytes(got.spec, 0)).toBe(file.length);
      let counted = 0;
      const partial = await scanSlice(new MemorySource(file, 'data.csv.zst', 4096), got.spec, 0, stats, { onProgress: (n) => (counted += n) });
      expect(counted).toBe(file.length);
      // The partial says where the data ended, not the "unknown" end of its plan.
      expect([partial.start, partial.end]).toEqual([0, plain.length]);
    }
  });

  it.skipIf(!hasZstdCli)('a damaged zstd stream: truncated, a flipped checksum, flipped data', async () => {
    use();
    const z = zstdCli(plain);
    const truncated = await failure(z.subarray(0, z.length - 100), 'data.csv.zst');
    expect(truncated.message).toBe(`data.csv.zst: at byte ${z.length - 100}: truncated zstd data: the file ends inside a zstd frame`);
    const badData = Buffer.from(z);
    badData[Math.floor(z.length / 2)]! ^= 0x55;
    // Both decoders check the content checksum (fzstd through our XXH64): garbage that
    // fails to parse first sends the stream to be decoded again for it.
    const damaged = (await failure(badData, 'data.csv.zst')).message;
    expect(damaged).toMatch(/^data\.csv\.zst: at byte \d+: (corrupt|truncated) zstd data/);
    const badCheck = Buffer.from(z);
    badCheck[z.length - 2]! ^= 1;
    expect((await failure(badCheck, 'data.csv.zst')).message).toMatch(/^data\.csv\.zst: at byte \d+: corrupt zstd data \(content checksum mismatch\)/);
    // Several frames, the second one's checksum flipped.
    const cut = plain.indexOf(10, 30000) + 1;
    const [a, b] = [zstdCli(plain.subarray(0, cut)), zstdCli(plain.subarray(cut))];
    const two = Buffer.concat([a, b]);
    two[two.length - 1]! ^= 0x80;
    expect((await failure(two, 'data.csv.zst')).message).toMatch(/corrupt zstd data \(content checksum mismatch\)/);
  });

  it.skipIf(!hasZstdCli)('a seekable frame whose checksum does not match its data', async () => {
    use();
    const { file, entries } = seekable(plain, [20000], (part) => zstdCli(part));
    const bad = Buffer.from(file);
    const third = entries[0]!.compressed + entries[1]!.compressed;
    bad[third + entries[2]!.compressed - 1]! ^= 1;
    for (const slices of [1, 3]) {
      const e = await failure(bad, 'data.csv.zst', { slices });
      expect(e.message).toBe(`data.csv.zst: at byte ${third}: corrupt zstd frame: content checksum mismatch`);
    }
  });

  it('a damaged seekable file: truncated frame, flipped block header, a frame that decodes to less than its header says', async () => {
    use();
    const { file, entries } = seekable(plain, [5000], rawZstdFrame);
    const second = entries[0]!.compressed;
    // The seek table says the file is longer than it is: its table is not found at the end, so it is read as a stream.
    const cut = await failure(file.subarray(0, second + 100), 'x.csv.zst');
    expect(cut.message).toMatch(/truncated zstd data|truncated zstd frame/);
    const badBlock = Buffer.from(file);
    badBlock[second + 13]! |= 6; // the first block header of the second frame: reserved block type
    for (const slices of [1, 3]) {
      const e = await failure(badBlock, 'x.csv.zst', { slices });
      expect(e.message).toBe(`x.csv.zst: at byte ${second}: corrupt zstd block at byte ${second + 13} (reserved block type)`);
    }
  });
});

describe('the seek table is checked, never trusted into a wrong answer', () => {
  const { file, entries } = seekable(plain, [3000], rawZstdFrame);
  const frames = Buffer.from(file.subarray(0, file.length - seekTable(entries).length));
  const withTable = (e: typeof entries, opts?: { checksums?: boolean }): Buffer => Buffer.concat([frames, seekTable(e, opts)]);

  it('compressed sizes that do not add up to where the table starts', async () => {
    const e = entries.map((x) => ({ ...x }));
    e[3]!.compressed += 1;
    const err = await failure(withTable(e), 'x.csv.zst', { slices: 4 });
    expect(err.message).toBe(`x.csv.zst: at byte ${frames.length}: corrupt zstd seek table: its ${e.length} frames add up to ${frames.length + 1} compressed bytes, and the table starts at byte ${frames.length}`);
  });

  it('compressed sizes that add up but put a frame boundary inside a frame', async () => {
    const e = entries.map((x) => ({ ...x }));
    e[3]!.compressed += 10;
    e[4]!.compressed -= 10;
    const err = await failure(withTable(e), 'x.csv.zst', { slices: e.length });
    expect(err.message).toMatch(/^x\.csv\.zst: at byte \d+: (the zstd seek table declares a frame at byte \d+, inside the one that starts here|not a zstd frame)/);
  });

  it('decompressed sizes that add up but shift a slice start: the slice before notices', async () => {
    const e = entries.map((x) => ({ ...x }));
    e[1]!.decompressed += 500;
    e[2]!.decompressed -= 500;
    const err = await failure(withTable(e), 'x.csv.zst', { slices: e.length });
    const third = e[0]!.compressed + e[1]!.compressed;
    expect(err.message).toBe(`x.csv.zst: at byte ${third}: the zstd seek table declares that the data of this frame starts at decompressed byte 6500, the frames before it hold 6000 bytes: the file is damaged`);
  });

  it('a total that is too large or too small', async () => {
    for (const delta of [1, -1]) {
      const e = entries.map((x) => ({ ...x }));
      e[e.length - 1]!.decompressed += delta;
      const err = await failure(withTable(e), 'x.csv.zst', { slices: 3 });
      expect(err.message).toMatch(delta > 0 ? /less data than the zstd seek table declares/ : /more data than the zstd seek table declares/);
    }
  });

  it('a table that lists more frames than the file can hold, a wrong skippable magic, reserved bits', async () => {
    const huge = withTable(entries);
    huge.writeUInt32LE(0x10000000, huge.length - 9);
    expect((await failure(huge, 'x.csv.zst')).message).toBe(
      `x.csv.zst: at byte ${huge.length - 9}: corrupt zstd seek table: it lists ${0x10000000} frames, ${8 + 0x10000000 * 8 + 9} bytes of table, and the file has ${huge.length} bytes`,
    );
    const magic = withTable(entries);
    magic[frames.length]! ^= 1;
    expect((await failure(magic, 'x.csv.zst')).message).toMatch(new RegExp(`^x\\.csv\\.zst: at byte ${frames.length}: corrupt zstd seek table: a table of ${entries.length} frames starts here`));
    const reserved = withTable(entries);
    reserved[reserved.length - 5] = 0x04;
    expect((await failure(reserved, 'x.csv.zst')).message).toMatch(/corrupt zstd seek table: its descriptor's reserved bits are set/);
  });

  it('a footer without the seekable magic: read as a plain stream, the right result in one slice', async () => {
    const want = await expected;
    const noMagic = withTable(entries);
    noMagic[noMagic.length - 1]! ^= 1;
    const got = await run(noMagic, 'x.csv.zst', { slices: 5 });
    expect(got.result).toEqual(want.result);
    expect(got.slices).toBe(1);
    expect(got.spec.compression?.codec).toBe('zstd');
  });

  it('an empty seekable file, and one whose data is all in one frame', async () => {
    const empty = await run(seekTable([]), 'e.csv.zst', { slices: 3 });
    expect(empty.records).toBe(0);
    const one = seekable(plain, [plain.length], rawZstdFrame).file;
    expect((await run(one, 'x.csv.zst', { slices: 3 })).result).toEqual((await expected).result);
  });
});

describe('planning a seekable file reads its head and its seek table, not its frames', () => {
  it('a 12 MB file of 64 KiB frames: four reads, about 2 MiB, whatever its size', async () => {
    const big = csv(200000, 3);
    const { file } = seekable(big, [64 * 1024], rawZstdFrame);
    const reads: [number, number][] = [];
    const inner = new MemorySource(file, 'big.csv.zst', 1 << 20);
    const counting: ByteSource = {
      name: inner.name,
      size: inner.size,
      async *chunks(start, end) {
        const read: [number, number] = [start, 0];
        reads.push(read);
        for await (const c of inner.chunks(start, end)) {
          read[1] += c.length;
          yield c;
        }
      },
    };
    const spec = await planJob(counting, { name: 'stats', options: {} }, { skipHeader: true, slices: 16 }, 'test');
    expect(spec.sliceCount).toBe(16);
    expect(file.length).toBeGreaterThan(8e6);
    // The first 64 KiB (the magic number), the last 32 KiB (the seek table), then the text's
    // first lines from the first frames (a window of 1 MiB; the text planner looks twice).
    expect(reads.slice(0, 2)).toEqual([[0, 64 * 1024], [file.length - 32 * 1024, 32 * 1024]]);
    expect(reads.length).toBeLessThanOrEqual(4);
    expect(reads.reduce((a, [, n]) => a + n, 0)).toBeLessThan(2.5 * 2 ** 20);
  });
});

describe('XXH64, for the checksums fzstd does not check', () => {
  it.skipIf(!hasZstdCli)('equals the content checksum zstd writes, for every length around the 8, 4 and 32-byte steps, fed whole or in pieces', () => {
    for (const n of [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 31, 32, 33, 39, 63, 64, 65, 100, 1000, 100003]) {
      const data = Buffer.alloc(n);
      for (let i = 0; i < n; i++) data[i] = (i * 7919 + 13) & 255;
      const z = zstdCli(data);
      const want = z.readUInt32LE(z.length - 4);
      const pieces = new Xxh64();
      for (let p = 0; p < n; p += 13) pieces.update(data.subarray(p, p + 13));
      expect([n, new Xxh64().update(data).digestLow32(), pieces.digestLow32()]).toEqual([n, want, want]);
    }
  });
});
