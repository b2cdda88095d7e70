/**
 * rdf end to end: `fanout run` on worker threads, and the cloud pipeline on moto, both
 * against MDAnalysis's InterRDF on every atom (the atom selections set groups; until
 * then a run measures every atom of a frame).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { mdaMissing, mdaPython, mdDataMissing, mdFile, missing, skipNote } from '../helpers/md.ts';
import { type PipelineOnMoto, startPipelineOnMoto } from '../helpers/moto.ts';
import { mdaRdf, mdaWriteBoxTrajectory } from '../helpers/rdf.ts';

const BUCKET = 'fanout-rdf-e2e';
const why = [mdDataMissing, mdaMissing];
const dir = tempDir('fanout-rdf-e2e-');
afterAll(() => dir.cleanup());

describe.skipIf(missing(...why))(skipNote('rdf end to end', ...why), () => {
  it('fanout run on 2 worker threads: tip125_tric_C36.dcd, every atom, equals InterRDF for 1 to 10 slices', () => {
    const want = mdaRdf(mdFile('tip125_tric_C36.dcd'), 375, {}, { nbins: 40, range: [0, 10] });
    for (const slices of ['1', '4', '10']) {
      const doc = runJson([mdFile('tip125_tric_C36.dcd'), '--analysis', 'rdf', '--option', 'nbins=40', '--option', 'range=0,10', '--slices', slices, '--workers', '2', '--state-dir', join(dir.path, 'state')]);
      expect(doc.slices).toBe(Number(slices));
      expect(doc.result.count).toEqual(want.count);
      (doc.result.rdf as number[]).forEach((g, i) => expect(Math.abs(g - want.rdf[i]!)).toBeLessThanOrEqual(1e-6));
    }
  });

  it('--topology with --select and --select2 (O-O, O-H with an exclusion block) equal InterRDF on the same atoms, 2 threads', () => {
    const dcd = mdFile('tip125_tric_C36.dcd');
    const psf = mdFile('tip125_tric_C36.psf');
    const pick = (sel: string): number[] => mdaPython<number[]>(`print(json.dumps(mda.Universe(args['psf']).select_atoms(args['sel']).indices.tolist()))`, { psf, sel });
    const o = pick('name OH2');
    const h = pick('name H1 H2');
    const state = ['--state-dir', join(dir.path, 'state'), '--workers', '2'];
    const oo = runJson([dcd, '--analysis', 'rdf', '--topology', psf, '--select', 'name OH2', '--slices', '5', ...state]);
    expect(oo.result.atoms).toEqual([125, 125]);
    expect(oo.result.count).toEqual(mdaRdf(dcd, 375, { measure: o }).count);
    const oh = runJson([dcd, '--analysis', 'rdf', '--topology', psf, '--select', 'name OH2', '--select2', 'name H1 H2', '--option', 'exclusion_block=1,2', '--slices', '3', ...state]);
    expect(oh.result.atoms).toEqual([125, 250]);
    const want = mdaRdf(dcd, 375, { measure: o, other: h }, { exclusion_block: [1, 2] });
    expect(oh.result.count).toEqual(want.count);
    (oh.result.rdf as number[]).forEach((g, i) => expect(Math.abs(g - want.rdf[i]!)).toBeLessThanOrEqual(1e-6));
  });

  it('refuses a .npy (no unit cell) with one line and exit 2 unless --option box is given', () => {
    const path = join(dir.path, 'frames.npy');
    // (2, 3, 3) float64: a .npy holds no unit cell
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 3), }";
    const padded = header.padEnd(118, ' ') + '\n';
    const bytes = Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0, padded.length, 0]), Buffer.from(padded), Buffer.from(new Float64Array(18).map((_, i) => i).buffer)]);
    writeFileSync(path, bytes);
    const r = fanout(['run', path, '--analysis', 'rdf', '--state-dir', join(dir.path, 'state')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/rdf needs the unit cell of every frame.*--option box=/);
    const ok = runJson([path, '--analysis', 'rdf', '--option', 'box=20,20,20', '--state-dir', join(dir.path, 'state')]);
    expect(ok.result.frames).toBe(2);
  });

  describe('through the cloud pipeline on moto', () => {
    let env: PipelineOnMoto;
    beforeAll(async () => {
      env = await startPipelineOnMoto({ bucket: BUCKET, defaults: { sliceBytes: 16 * 1024, maxSlices: 500 }, fanin: 4, workerConcurrency: 2 });
    });
    afterAll(async () => {
      await env?.stop();
    });

    async function viaCloud(name: string, path: string, options: Record<string, string>): Promise<Record<string, unknown> & { result: Record<string, unknown>; slices: number }> {
      const key = `input/rdf/${name}`;
      const metadata = { 'fanout-analysis': 'rdf', ...Object.fromEntries(Object.entries(options).map(([k, v]) => [`fanout-option-${k}`, v])) };
      await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(path), Metadata: metadata }));
      const deadline = Date.now() + 120_000;
      for (;;) {
        const body = await env.text(`results/rdf/${name}.json`);
        if (body) return JSON.parse(body);
        if (Date.now() > deadline) throw new Error(`no result for ${key}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }

    it('tip125_tric_C36.dcd and a generated triclinic XTC: the result equals the local run and InterRDF', async () => {
      const dcd = join(dir.path, 'tip125.dcd');
      writeFileSync(dcd, readFileSync(mdFile('tip125_tric_C36.dcd')));
      const cloud = await viaCloud('tip125.dcd', dcd, { range: '0,12', nbins: '60' });
      expect(cloud.slices).toBeGreaterThan(1);
      const local = runJson([dcd, '--analysis', 'rdf', '--option', 'range=0,12', '--option', 'nbins=60', '--state-dir', join(dir.path, 'state')]);
      expect(cloud.result).toEqual(local.result);
      expect(cloud.result.count).toEqual(mdaRdf(dcd, 375, {}, { range: [0, 12], nbins: 60 }).count);

      const xtc = join(dir.path, 'box.xtc');
      mdaWriteBoxTrajectory(xtc, 60, 200, [30, 32, 35, 75, 85, 100], 7);
      const unit = (runJson([xtc, '--analysis', 'rg', '--state-dir', join(dir.path, 'state')]).trajectory as { lengthUnit: string }).lengthUnit;
      const range = unit === 'nm' ? '0,1.2' : '0,12';
      const cloudXtc = await viaCloud('box.xtc', xtc, { range });
      expect(cloudXtc.slices).toBeGreaterThan(3);
      const localXtc = runJson([xtc, '--analysis', 'rdf', '--option', `range=${range}`, '--state-dir', join(dir.path, 'state')]);
      expect(cloudXtc.result).toEqual(localXtc.result);
      expect(cloudXtc.result.count).toEqual(mdaRdf(xtc, 200, {}, { range: unit === 'nm' ? [0, 1.2] : [0, 12] }, unit === 'nm').count);
    }, 300_000);
  });
});
