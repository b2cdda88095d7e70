/**
 * Atom selections through the cloud pipeline on a real S3 API (moto): an upload with
 * x-amz-meta-fanout-atoms gives what `fanout run --atoms` gives on the same bytes, slice
 * by ranged slice; `fanout submit --select --topology` resolves the expression on the
 * client and uploads ranges; a range past the frame fails the upload with the index.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type CliResult, ROOT, runJson, tempDir } from '../helpers/cli.ts';
import { randomCoords, writeDcd } from '../helpers/dcd.ts';
import { mdaMissing, mdaWriteTrajectory, missing, skipNote } from '../helpers/md.ts';
import { type PipelineOnMoto, startPipelineOnMoto } from '../helpers/moto.ts';
import { solvatedPeptide, writePdb } from '../helpers/topology.ts';

const BUCKET = 'fanout-select-e2e';

function cli(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('atom selections through the cloud pipeline on moto', () => {
  let env: PipelineOnMoto;
  const dir = tempDir('fanout-select-e2e-');

  beforeAll(async () => {
    env = await startPipelineOnMoto({ bucket: BUCKET, defaults: { sliceBytes: 16 * 1024, maxSlices: 500 }, fanin: 4, workerConcurrency: 2 });
  });

  afterAll(async () => {
    await env?.stop();
    dir.cleanup();
  });

  async function waitFor(key: string): Promise<string> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const body = await env.text(key);
      if (body) return body;
      if (Date.now() > deadline) throw new Error(`${key} did not appear`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function viaCloud(name: string, path: string, metadata: Record<string, string>): Promise<Record<string, unknown> & { result: Record<string, unknown> }> {
    const key = `input/select/${metadata['fanout-analysis']}/${name}`;
    await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(path), Metadata: metadata }));
    return JSON.parse(await waitFor(`results/select/${metadata['fanout-analysis']}/${name}.json`));
  }

  it('DCD with fanout-atoms: rg and mean-structure of the selection equal fanout run --atoms', async () => {
    const path = join(dir.path, 'walk.dcd');
    writeDcd(path, { atoms: 40, coords: randomCoords(400, 40, 9) });
    for (const analysis of ['rg', 'mean-structure']) {
      const cloud = await viaCloud('walk.dcd', path, { 'fanout-analysis': analysis, 'fanout-atoms': '30-35,3-9,20' });
      const local = runJson([path, '--analysis', analysis, '--atoms', '3-9,20,30-35', '--state-dir', join(dir.path, 'state')]);
      expect(cloud.slices).toBeGreaterThan(4);
      expect(cloud.result).toEqual(local.result);
      expect(cloud.result.selection).toEqual({ atoms: { count: 14, ranges: '3-9,20,30-35' } });
    }
  });

  it.skipIf(missing(mdaMissing))(skipNote('XTC: fanout submit --select --topology uploads ranges, and the result equals fanout run --select', mdaMissing), async () => {
    const atoms = solvatedPeptide();
    const pdb = join(dir.path, 'peptide.pdb');
    writePdb(pdb, atoms);
    const xtc = join(dir.path, 'peptide.xtc');
    mdaWriteTrajectory(xtc, 200, atoms.length, { seed: 11 });
    const args = ['--analysis', 'mean-structure', '--topology', pdb, '--select', 'backbone and resid 2:9'];
    const r = await cli(['submit', xtc, '--bucket', BUCKET, '--key', 'input/select/peptide.xtc', ...args, '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const cloud = JSON.parse(r.stdout);
    const local = runJson([xtc, ...args, '--state-dir', join(dir.path, 'state')]);
    expect(cloud.slices).toBeGreaterThan(4);
    expect(cloud.result).toEqual(local.result);
    const head = await env.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'input/select/peptide.xtc' }));
    expect(head.Metadata?.['fanout-atoms']).toBe((local.result.selection as { atoms: { ranges: string } }).atoms.ranges);
  });

  it('fanout submit refuses a topology of another atom count before uploading anything', async () => {
    const path = join(dir.path, 'other.dcd');
    writeDcd(path, { atoms: 10, coords: randomCoords(20, 10, 2) });
    const pdb = join(dir.path, 'other.pdb');
    writePdb(pdb, solvatedPeptide(2, 1));
    const r = await cli(['submit', path, '--bucket', BUCKET, '--key', 'input/select/other.dcd', '--analysis', 'rg', '--topology', pdb, '--select', 'protein', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--topology .*other\.pdb has \d+ atoms, and a frame of .*other\.dcd has 10 rows/);
    await expect(env.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'input/select/other.dcd' }))).rejects.toThrow();
  });

  it('fanout submit refuses ranges that outgrow S3 metadata (2 KB) before uploading', async () => {
    const path = join(dir.path, 'many.dcd');
    writeDcd(path, { atoms: 2000, coords: randomCoords(2, 2000, 3) });
    const every3rd = Array.from({ length: 600 }, (_, i) => 3 * i).join(',');
    const r = await cli(['submit', path, '--bucket', BUCKET, '--key', 'input/select/many.dcd', '--analysis', 'rg', '--atoms', every3rd, '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/more than the 2048 S3 allows; the atom ranges alone are \d+ characters/);
    await expect(env.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'input/select/many.dcd' }))).rejects.toThrow();
  });

  it('fails an upload whose fanout-atoms reach past the frame, naming the index and the atom count', async () => {
    const path = join(dir.path, 'small.dcd');
    writeDcd(path, { atoms: 10, coords: randomCoords(20, 10, 2) });
    await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'input/select/small.dcd', Body: readFileSync(path), Metadata: { 'fanout-analysis': 'mean-structure', 'fanout-atoms': '0-10' } }));
    const pointer = JSON.parse(await waitFor('jobs/inputs/select/small.dcd.json'));
    expect(JSON.stringify(pointer)).toMatch(/atom index 10 is not in a frame of 10 atoms/);
  });
});
