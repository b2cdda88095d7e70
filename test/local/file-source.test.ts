import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../lib/local/file-source.ts';
import { tempDir } from '../helpers/cli.ts';

const tmp = tempDir('fanout-file-source-');
afterAll(() => tmp.cleanup());

describe('FileSource', () => {
  const data = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 131) % 253);
  const path = join(tmp.path, 'data.bin');
  writeFileSync(path, data);

  it('reads one range after another into its reused buffer, each range whole and right', async () => {
    const source = await FileSource.open(path, 1000);
    try {
      for (const [start, end] of [
        [0, 10_000],
        [17, 2_500],
        [9_990, 10_000],
        [3_000, 7_777],
      ] as const) {
        const parts: Uint8Array[] = [];
        for await (const chunk of source.chunks(start, end)) parts.push(chunk.slice());
        expect(Buffer.concat(parts).equals(data.subarray(start, end))).toBe(true);
      }
    } finally {
      await source.close();
    }
  });

  it('gives ranges read at the same time their own buffers', async () => {
    const source = await FileSource.open(path, 700);
    try {
      // A range abandoned half-way, then two ranges interleaved chunk by chunk.
      for await (const _ of source.chunks(0, 5_000)) break;
      const a = source.chunks(100, 6_100)[Symbol.asyncIterator]();
      const b = source.chunks(4_000, 10_000)[Symbol.asyncIterator]();
      // A chunk stays valid until its own range asks for the next one, whatever the other range reads.
      const got: [Uint8Array[], Uint8Array[]] = [[], []];
      for (;;) {
        const [ra, rb] = [await a.next(), await b.next()];
        if (!ra.done) got[0].push(ra.value.slice());
        if (!rb.done) got[1].push(rb.value.slice());
        if (ra.done && rb.done) break;
      }
      expect(Buffer.concat(got[0]).equals(data.subarray(100, 6_100))).toBe(true);
      expect(Buffer.concat(got[1]).equals(data.subarray(4_000, 10_000))).toBe(true);
    } finally {
      await source.close();
    }
  });
});
