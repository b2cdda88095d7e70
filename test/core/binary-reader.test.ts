import { describe, expect, it } from 'vitest';
import { forEachUnitBlock } from '../../lib/core/binary-reader.ts';
import { MemorySource } from '../../lib/core/source.ts';

interface Block {
  bytes: Uint8Array;
  units: number;
  at: number;
  staged: boolean;
}

/** Every block forEachUnitBlock emits for [start, end) of `data` placed `shift` bytes into a buffer. */
async function blocks(data: Uint8Array, shift: number, chunk: number, unitBytes: number, alignment: number, start: number, end: number): Promise<Block[]> {
  const shifted = new Uint8Array(data.length + shift).subarray(shift);
  shifted.set(data);
  const out: Block[] = [];
  await forEachUnitBlock(new MemorySource(shifted, 'blocks', chunk), start, end, unitBytes, alignment, {}, (bytes, units, at) => {
    if (bytes.byteOffset % alignment !== 0) throw new Error(`block at ${at} is at byte offset ${bytes.byteOffset} of its buffer`);
    out.push({ bytes: bytes.slice(0, units * unitBytes), units, at, staged: bytes.buffer !== shifted.buffer });
  });
  return out;
}

describe('forEachUnitBlock', () => {
  const data = Uint8Array.from({ length: 50_000 }, (_, i) => (i * 7919) % 251);

  it.each([
    [12, 4],
    [12, 8],
    [72, 4],
    [12136, 4],
    [3, 1],
  ])('%i-byte units, %i-byte alignment: whole units, in order, every byte once, aligned, whatever the chunking', async (unitBytes, alignment) => {
    const start = 16;
    const units = Math.floor((data.length - start) / unitBytes);
    const end = start + units * unitBytes;
    for (const shift of [0, 1, 2, 4]) {
      for (const chunk of [5, 13, 4093, 4096, unitBytes, unitBytes * 2 + 4, 1 << 20]) {
        const got = await blocks(data, shift, chunk, unitBytes, alignment, start, end);
        let at = start;
        for (const b of got) {
          if (b.at !== at || b.units < 1) expect.fail(`chunk ${chunk}, shift ${shift}: a block of ${b.units} units at ${b.at}, expected one at ${at}`);
          at += b.units * unitBytes;
        }
        expect(at).toBe(end);
        expect(Buffer.concat(got.map((b) => b.bytes)).equals(data.subarray(start, end))).toBe(true);
      }
    }
  });

  it('stages only the unit that straddles two aligned chunks, not the whole chunk', async () => {
    const unitBytes = 72;
    const start = 276;
    const end = start + 600 * unitBytes;
    const chunk = 4096;
    const got = await blocks(data, 0, chunk, unitBytes, 4, start, end);
    const stagedUnits = got.filter((b) => b.staged).reduce((n, b) => n + b.units, 0);
    const chunks = Math.ceil((end - start) / chunk);
    expect(stagedUnits).toBeLessThanOrEqual(chunks);
    expect(got.reduce((n, b) => n + b.units, 0)).toBe(600);
  });

  it('fails at the byte where a short source stops', async () => {
    const source = new MemorySource(data.subarray(0, 1000), 'short', 64);
    await expect(forEachUnitBlock(source, 0, 1200, 12, 4, {}, () => {})).rejects.toMatchObject({ offset: 1000, problem: 'unexpected end of file: expected data up to byte 1200' });
  });
});
