import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { angstromRows, inAngstrom, lengthScale, lengthScales } from '../../lib/core/lengths.ts';
import type { TrajectoryInfo } from '../../lib/core/plan.ts';
import { MemorySource, type RowSink, type ScanOptions } from '../../lib/core/source.ts';
import { readTrrHeader, scanTrr } from '../../lib/core/trr.ts';
import { readXtcHeader, scanXtc, type XtcInfo } from '../../lib/core/xtc.ts';
import { MD_DATA, mdDataMissing, missing, skipNote } from '../helpers/md.ts';

const box = (a: number) => ({ a, b: a, c: a, alpha: 60, beta: 60, gamma: 90 });
const xtc: XtcInfo = { format: 'xtc', atoms: 10, magic: 1995, lengthUnit: 'nm', precision: 1000, first: { step: 0, timePs: 0 }, box: { first: box(8), last: box(8.5) }, warnings: [] };

describe('inAngstrom', () => {
  it('states Å and the stored nm, scales box lengths but not angles, and says what the XTC precision means', () => {
    const got = inAngstrom(xtc) as XtcInfo;
    expect(got).toMatchObject({ lengthUnit: 'Å', storedLengthUnit: 'nm', precision: 1000, box: { first: box(80), last: box(85) } });
    expect(got.precisionMeaning).toBe('coordinates are stored rounded to multiples of 1/1000 nm (0.01 Å)');
    expect(lengthScale(got)).toBe(10);
  });
  it('leaves Å as it is (scale 1)', () => {
    const dcd = { lengthUnit: 'Å', box: { first: box(30), last: box(31) }, warnings: [] } as unknown as TrajectoryInfo;
    const got = inAngstrom(dcd);
    expect(got).toMatchObject({ lengthUnit: 'Å', storedLengthUnit: 'Å', box: { first: box(30) } });
    expect(lengthScale(got)).toBe(1);
  });
  it('keeps a unit it cannot convert, says so, and does not scale', () => {
    const nc = { format: 'netcdf', lengthUnit: 'bohr', warnings: [] } as unknown as TrajectoryInfo;
    const got = inAngstrom(nc);
    expect(got).toMatchObject({ lengthUnit: 'bohr', storedLengthUnit: 'bohr' });
    expect(got.warnings.join(' ')).toContain('cannot convert');
    expect(lengthScale(got)).toBe(1);
  });
  it('does not scale a spec planned before units were converted (no storedLengthUnit)', () => {
    expect(lengthScale({ ...xtc })).toBe(1);
    expect(lengthScale(undefined)).toBe(1);
  });
});

describe('angstromRows', () => {
  it('multiplies every float32 value by 10 exactly, into its own buffer', () => {
    // x = m * 2^e with a 24-bit m: 10x = (10m) * 2^e, and 10m fits in 28 bits, so the float64 product is exact.
    const f32 = new Float32Array(4096);
    let seed = 7;
    for (let i = 0; i < f32.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      f32[i] = ((seed / 2 ** 32) - 0.5) * 2 ** ((seed % 40) - 20);
    }
    const values = Float64Array.from(f32);
    const got: number[] = [];
    const sink = angstromRows({ rows: (v, n, c) => got.push(...v.subarray(0, n * c)) }, 10);
    sink.rows(values, values.length / 4, 4, 0);
    got.forEach((y, i) => {
      const x = values[i]!;
      const e = Math.floor(Math.log2(Math.abs(x))) - 23;
      const m = BigInt(Math.round(x / 2 ** e));
      expect(Number(m) * 2 ** e).toBe(x);
      expect(y).toBe(Number(m * 10n) * 2 ** e);
    });
    expect(values[0]).toBe(Float64Array.from(f32)[0]);
  });
});

describe('lengthScales', () => {
  it('lets the XTC and TRR readers scale as they decode, and angstromRows every other layout', () => {
    const planned = inAngstrom(xtc);
    expect(lengthScales(planned, 'xtc')).toEqual({ reader: 10, rows: 1 });
    expect(lengthScales(planned, 'trr')).toEqual({ reader: 10, rows: 1 });
    expect(lengthScales(planned, 'netcdf')).toEqual({ reader: 1, rows: 10 });
    expect(lengthScales(undefined, 'xtc')).toEqual({ reader: 1, rows: 1 });
  });

  it.skipIf(missing(mdDataMissing))(skipNote('XTC and TRR rows and boxes scaled by the reader are bit for bit those angstromRows gives', mdDataMissing), async () => {
    const collect = () => {
      const rows: number[] = [];
      const boxes: number[] = [];
      const sink: RowSink = {
        rows: (values, rowCount, columns) => {
          for (let i = 0; i < rowCount * columns; i++) rows.push(values[i]!);
        },
        box: (_firstRow, dims) => boxes.push(...dims),
      };
      return { rows, boxes, sink };
    };
    for (const name of ['adk_oplsaa.xtc', 'cobrotoxin.xtc', 'cobrotoxin.trr']) {
      const bytes = new Uint8Array(readFileSync(join(MD_DATA, name)));
      const source = new MemorySource(bytes, name);
      const head = bytes.subarray(0, 4096);
      const scan = async (sink: RowSink, options: ScanOptions) =>
        name.endsWith('.xtc') ? scanXtc(source, (await readXtcHeader(source, head)).layout, 0, bytes.length, sink, options) : scanTrr(source, (await readTrrHeader(source, head)).layout, 0, bytes.length, sink, options);
      const byReader = collect();
      await scan(byReader.sink, { lengthScale: 10 });
      const after = collect();
      await scan(angstromRows(after.sink, 10), {});
      const stored = collect();
      await scan(stored.sink, {});
      expect(byReader.rows.length, name).toBeGreaterThan(0);
      expect(byReader.boxes.length, name).toBeGreaterThan(0);
      expect(byReader.rows.length, name).toBe(after.rows.length);
      expect(byReader.rows.findIndex((v, i) => !Object.is(v, after.rows[i])), name).toBe(-1);
      expect(byReader.boxes, name).toEqual(after.boxes);
      // and really in Å: ten times what the file stores
      expect(byReader.rows[0], name).toBe(stored.rows[0]! * 10);
      expect(byReader.rows[0], name).not.toBe(stored.rows[0]);
    }
  });
});
