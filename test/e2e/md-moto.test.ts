/**
 * Trajectories through the cloud pipeline on a real S3 API (moto): XTC and TRR slices
 * find their own frames from ranged reads, DCD and NetCDF slices are cut at frames; the
 * results equal `fanout run` on the same bytes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJson, tempDir } from '../helpers/cli.ts';
import { randomCoords, writeDcd } from '../helpers/dcd.ts';
import { mdaMissing, mdaWriteTrajectory, mdDataMissing, mdFile, missing, skipNote } from '../helpers/md.ts';
import { type PipelineOnMoto, startPipelineOnMoto } from '../helpers/moto.ts';

const BUCKET = 'fanout-md-e2e';

describe('trajectories through the cloud pipeline on moto', () => {
  let env: PipelineOnMoto;
  const dir = tempDir('fanout-md-e2e-');

  beforeAll(async () => {
    // 16 KiB slices: every trajectory below is cut into many slices, most smaller than an XTC frame's chain of a few frames.
    env = await startPipelineOnMoto({ bucket: BUCKET, defaults: { sliceBytes: 16 * 1024, maxSlices: 500 }, fanin: 4, workerConcurrency: 2 });
  });

  afterAll(async () => {
    await env?.stop();
    dir.cleanup();
  });

  async function viaCloud(name: string, path: string, analysis: string, refFrame?: number): Promise<{ cloud: Record<string, unknown>; local: Record<string, unknown> }> {
    const key = `input/md/${analysis}/${name}`;
    const ref: Record<string, string> = refFrame === undefined ? {} : { 'fanout-option-ref-frame': String(refFrame) };
    await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(path), Metadata: { 'fanout-analysis': analysis, ...ref } }));
    const resultKey = `results/md/${analysis}/${name}.json`;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const body = await env.text(resultKey);
      if (body) {
        const local = runJson([path, '--analysis', analysis, ...(refFrame === undefined ? [] : ['--ref-frame', String(refFrame)]), '--state-dir', join(dir.path, 'state')]);
        return { cloud: JSON.parse(body), local };
      }
      if (Date.now() > deadline) throw new Error(`${resultKey} did not appear`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  for (const ext of ['xtc', 'trr'] as const) {
    it.skipIf(missing(mdaMissing))(skipNote(`${ext.toUpperCase()} written by MDAnalysis: rg and mean-structure equal the local run`, mdaMissing), async () => {
      const path = join(dir.path, `walk.${ext}`);
      mdaWriteTrajectory(path, ext === 'xtc' ? 1500 : 300, 60, { seed: 3 });
      for (const analysis of ['rg', 'mean-structure']) {
        const { cloud, local } = await viaCloud(`walk.${ext}`, path, analysis);
        expect(cloud.slices).toBeGreaterThan(4);
        expect(cloud.result).toEqual(local.result);
      }
    });
  }

  it.skipIf(missing(mdaMissing))(skipNote('rmsd to frame 40 of an XTC: every worker reads the reference frame from its own ranged reads; equals the local run', mdaMissing), async () => {
    const path = join(dir.path, 'fit.xtc');
    mdaWriteTrajectory(path, 600, 50, { seed: 4, spread: 15 });
    const { cloud, local } = await viaCloud('fit.xtc', path, 'rmsd', 40);
    expect(cloud.slices).toBeGreaterThan(4);
    expect((cloud.result as { rmsd: number[] }).rmsd[40]).toBeLessThan(1e-5);
    expect(cloud.result).toEqual(local.result);
  });

  it.skipIf(missing(mdaMissing))(skipNote('rmsf of an XTC: the merger of the first stage (the fitted average) starts the second with it as its reference; equals the local run', mdaMissing), async () => {
    const path = join(dir.path, 'rmsf.xtc');
    mdaWriteTrajectory(path, 400, 30, { seed: 6, spread: 12 });
    const { cloud, local } = await viaCloud('rmsf.xtc', path, 'rmsf', 5);
    expect(cloud.analysis).toBe('rmsf');
    expect(cloud.slices).toBeGreaterThan(4);
    expect(cloud.result).toEqual(local.result);
    // the first stage is done, and names the job that continues it (the second's status follows its published result)
    await env.settle();
    const pointer = JSON.parse((await env.text('jobs/inputs/md/rmsf/rmsf.xtc.json'))!) as { job: string };
    const first = JSON.parse((await env.text(`jobs/${pointer.job}/status.json`))!) as { state: string; next: string };
    expect(first).toMatchObject({ state: 'done', next: cloud.job });
    expect(JSON.parse((await env.text(`jobs/${cloud.job as string}/status.json`))!)).toMatchObject({ state: 'done' });
  });

  it('DCD: rmsd to frame 7 equals the local run', async () => {
    const path = join(dir.path, 'fit.dcd');
    writeDcd(path, { atoms: 40, coords: randomCoords(300, 40, 11) });
    const { cloud, local } = await viaCloud('fit.dcd', path, 'rmsd', 7);
    expect(cloud.slices).toBeGreaterThan(4);
    expect(cloud.result).toEqual(local.result);
  });

  it('DCD: rg equals the local run', async () => {
    const path = join(dir.path, 'walk.dcd');
    writeDcd(path, { atoms: 40, coords: randomCoords(400, 40, 9) });
    const { cloud, local } = await viaCloud('walk.dcd', path, 'rg');
    expect(cloud.slices).toBeGreaterThan(4);
    expect(cloud.result).toEqual(local.result);
  });

  it.skipIf(missing(mdDataMissing))(skipNote('AMBER NetCDF (bala.ncdf): mean-structure equals the local run', mdDataMissing), async () => {
    const path = join(dir.path, 'bala.ncdf');
    writeFileSync(path, readFileSync(mdFile('bala.ncdf')));
    const { cloud, local } = await viaCloud('bala.ncdf', path, 'mean-structure');
    expect(cloud.result).toEqual(local.result);
  });
});
