/**
 * A trajectory in parts as one cloud job (lib/job/job-file.ts), on a real S3 API (moto):
 * the parts are uploaded with the fanout-part metadata (their own events start nothing),
 * then a job file listing them; the coordinator pins every part, workers read across part
 * boundaries, and the result equals `fanout run part1 part2 part3` on the same files, for
 * several slice sizes; DCD and NetCDF parts, each with its own header, the same way (the
 * coordinator reads every part's header). Missing parts, parts that are not one
 * trajectory, damage inside a part and formats that are not trajectories fail with the
 * part named.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fanout, runJson, tempDir } from '../helpers/cli.ts';
import { randomCoords, writeDcd } from '../helpers/dcd.ts';
import { mdaMissing, mdaOffsets, mdaWriteTrajectory, missing, skipNote } from '../helpers/md.ts';
import { type PipelineOnMoto, startPipelineOnMoto } from '../helpers/moto.ts';

const BUCKET = 'fanout-md-parts';
type Doc = Record<string, unknown> & { result: Record<string, unknown> };

describe('a trajectory in parts through the cloud pipeline on moto', () => {
  let env: PipelineOnMoto;
  const dir = tempDir('fanout-md-parts-');

  beforeAll(async () => {
    env = await startPipelineOnMoto({ bucket: BUCKET, defaults: { sliceBytes: 16 * 1024, maxSlices: 500 }, fanin: 4, workerConcurrency: 2 });
  });

  afterAll(async () => {
    await env?.stop();
    dir.cleanup();
  });

  const put = (key: string, body: Uint8Array | string, metadata: Record<string, string> = {}) => env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: metadata }));
  /** Uploads the files as parts into `folder` (under input/), by their names. */
  const putParts = async (folder: string, paths: string[]) => {
    for (const p of paths) await put(`input/${folder}/${basename(p)}`, readFileSync(p), { 'fanout-part': 'yes' });
  };

  async function waitFor<T>(what: string, get: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const got = await get();
      if (got !== undefined) return got;
      if (Date.now() > deadline) throw new Error(`${what} did not appear`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const json = async (key: string) => {
    const body = await env.text(key);
    return body === undefined ? undefined : (JSON.parse(body) as Record<string, unknown>);
  };
  const result = (jobFile: string) => waitFor(`results/${jobFile}.json`, () => json(`results/${jobFile}.json`)) as Promise<Doc>;
  /** The reason the job file's upload could not start a job (its pointer). */
  const planFailure = async (jobFile: string) => (await waitFor(`a failed pointer of ${jobFile}`, async () => ((await json(`jobs/inputs/${jobFile}.json`))?.state === 'failed' ? json(`jobs/inputs/${jobFile}.json`) : undefined))).reason as string;
  /** The reason the job of the job file failed (its status). */
  const jobFailure = async (jobFile: string) => {
    const pointer = await waitFor(`the pointer of ${jobFile}`, () => json(`jobs/inputs/${jobFile}.json`));
    const status = await waitFor(`a failed status of ${jobFile}`, async () => {
      const s = await json(`jobs/${pointer.job as string}/status.json`);
      return s?.state === 'failed' ? s : undefined;
    });
    return status.reason as string;
  };

  for (const ext of ['xtc', 'trr', 'dcd', 'ncdf'] as const) {
    it.skipIf(missing(mdaMissing))(skipNote(`${ext.toUpperCase()} in three parts: rg and mean-structure equal the local run over the same parts, for 4 KiB, 9 KiB and 1 MiB slices`, mdaMissing), async () => {
      const parts = [1, 2, 3].map((k) => join(dir.path, `run.part000${k}.${ext}`));
      parts.forEach((p, k) => mdaWriteTrajectory(p, [40, 7, 25][k]!, 50, { seed: 10 + k }));
      await putParts(`md/${ext}`, parts);
      const jobs: { jobFile: string; analysis: string; sliceBytes: string }[] = [];
      for (const analysis of ['rg', 'mean-structure']) {
        for (const sliceBytes of ['4KiB', '9KiB', '1MiB']) {
          const jobFile = `md/${ext}/${analysis}-${sliceBytes}.fanout.json`;
          jobs.push({ jobFile, analysis, sliceBytes });
          await put(`input/${jobFile}`, JSON.stringify({ parts: parts.map((p) => basename(p)), options: { analysis, sliceBytes } }));
        }
      }
      const bytes = parts.reduce((n, p) => n + readFileSync(p).length, 0);
      for (const { jobFile, analysis, sliceBytes } of jobs) {
        const cloud = await result(jobFile);
        const local = runJson([...parts, '--analysis', analysis, '--state-dir', join(dir.path, 'state')]);
        expect(cloud.result, `${jobFile}`).toEqual(local.result);
        expect(cloud.records).toBe(72);
        expect(cloud.input).toMatchObject({ path: `s3://${BUCKET}/input/${jobFile}`, bytes, format: ext === 'ncdf' ? 'netcdf' : ext, parts: parts.map((p) => ({ path: `s3://${BUCKET}/input/md/${ext}/${basename(p)}`, bytes: readFileSync(p).length })) });
        expect(cloud.trajectory).toMatchObject({ atoms: 50, lengthUnit: 'Å', storedLengthUnit: ext === 'xtc' || ext === 'trr' ? 'nm' : 'Å' });
        expect(cloud.result.box).toEqual(local.result.box);
        // 4 KiB slices: more slices than parts, so slices start inside parts and reads cross their boundaries.
        expect(cloud.slices).toSatisfy((n: number) => (sliceBytes === '1MiB' ? n === 1 : sliceBytes === '4KiB' ? n > 3 : n > 1));
      }
      // The parts' own uploads started nothing.
      await env.settle();
      for (const p of parts) expect(await env.text(`jobs/inputs/md/${ext}/${basename(p)}.json`)).toBeUndefined();
    });
  }

  it.skipIf(missing(mdaMissing))(skipNote('the newest upload of a job file owns its result', mdaMissing), async () => {
    const parts = [1, 2].map((k) => join(dir.path, `newest.part${k}.xtc`));
    parts.forEach((p, k) => mdaWriteTrajectory(p, [30, 12][k]!, 20, { seed: 30 + k }));
    await putParts('md/newest', parts);
    await put('input/md/newest/run.fanout.json', JSON.stringify({ parts: [basename(parts[0]!)], options: { analysis: 'rg' } }));
    await put('input/md/newest/run.fanout.json', JSON.stringify({ parts: parts.map((p) => basename(p)), options: { analysis: 'rg' } }));
    await waitFor('the result of both parts', async () => ((await json('results/md/newest/run.fanout.json.json'))?.records === 42 ? true : undefined));
    await env.settle();
    const doc = (await json('results/md/newest/run.fanout.json.json')) as Doc;
    expect(doc.records).toBe(42);
    expect(doc.result).toEqual(runJson([...parts, '--analysis', 'rg', '--state-dir', join(dir.path, 'state')]).result);
  });

  it('fails the job file whose part is missing, naming the part', async () => {
    const a = join(dir.path, 'lonely.dcd');
    writeDcd(a, { atoms: 4, coords: randomCoords(3, 4, 1) });
    await putParts('md/missing', [a]);
    await put('input/md/missing/run.fanout.json', JSON.stringify({ parts: ['lonely.dcd', 'nope.xtc'] }));
    expect(await planFailure('md/missing/run.fanout.json')).toBe(
      `s3://${BUCKET}/input/md/missing/run.fanout.json: part 2 of 2, s3://${BUCKET}/input/md/missing/nope.xtc: no such object (upload the parts before the job file, then upload the job file again)`,
    );
  });

  it('fails a job file that is not one, and parts that are not a trajectory or not one, with the reason', async () => {
    await put('input/md/bad/typo.fanout.json', JSON.stringify({ part: ['a.xtc'] }));
    expect(await planFailure('md/bad/typo.fanout.json')).toMatch(/^s3:\/\/fanout-md-parts\/input\/md\/bad\/typo\.fanout\.json: not a job file \(.*parts.*\)/);
    await put('input/md/bad/escape.fanout.json', JSON.stringify({ parts: ['../secret.xtc'] }));
    expect(await planFailure('md/bad/escape.fanout.json')).toContain('part "../secret.xtc": parts are keys relative to the job file\'s folder');

    const csvs = [1, 2].map((k) => join(dir.path, `table${k}.csv`));
    csvs.forEach((p, k) => writeFileSync(p, `${k},1\n`));
    await putParts('md/csv', csvs);
    await put('input/md/csv/run.fanout.json', JSON.stringify({ parts: csvs.map((p) => basename(p)) }));
    expect(await planFailure('md/csv/run.fanout.json')).toBe(`2 inputs make one job only as trajectories (XTC, TRR, DCD or NetCDF); s3://${BUCKET}/input/md/csv/table1.csv is text: run the files one by one, or join them into one file first`);

    // DCD parts with headers that disagree: the coordinator reads every part's header.
    const dcds = [1, 2].map((k) => join(dir.path, `walk${k}.dcd`));
    dcds.forEach((p, k) => writeDcd(p, { atoms: 6 + k, coords: randomCoords(5, 6 + k, k) }));
    await putParts('md/dcd', dcds);
    await put('input/md/dcd/run.fanout.json', JSON.stringify({ parts: dcds.map((p) => basename(p)) }));
    expect(await planFailure('md/dcd/run.fanout.json')).toBe(
      `s3://${BUCKET}/input/md/dcd/walk2.dcd: at byte 0: the atom count changes: this part has 7 atoms, s3://${BUCKET}/input/md/dcd/walk1.dcd 6: the parts of one trajectory need frames of one layout`,
    );
  });

  it.skipIf(missing(mdaMissing))(skipNote('parts that are not one trajectory, or a damaged frame inside a part: the part and the offset in it, as a local run says', mdaMissing), async () => {
    const a = join(dir.path, 'mixed-a.xtc');
    const b = join(dir.path, 'mixed-b.xtc');
    mdaWriteTrajectory(a, 5, 50);
    mdaWriteTrajectory(b, 5, 51);
    await putParts('md/mixed', [a, b]);
    await put('input/md/mixed/run.fanout.json', JSON.stringify({ parts: ['mixed-a.xtc', 'mixed-b.xtc'] }));
    expect(await planFailure('md/mixed/run.fanout.json')).toBe(
      `s3://${BUCKET}/input/md/mixed/mixed-b.xtc: at byte 4: the atom count changes: this frame has 51 atoms, the first frame 50 (the parts of one trajectory: s3://${BUCKET}/input/md/mixed/mixed-a.xtc starts with 50 atoms)`,
    );

    // The fourth frame of the second part loses its magic: found while scanning, by whichever slice owns the frame before it.
    const parts = [1, 2, 3].map((k) => join(dir.path, `damaged.part${k}.xtc`));
    parts.forEach((p, k) => mdaWriteTrajectory(p, 10, 30, { seed: 50 + k }));
    const bytes = readFileSync(parts[1]!);
    const at = mdaOffsets(parts[1]!)[3]!;
    bytes.writeInt32BE(1234, at);
    writeFileSync(parts[1]!, bytes);
    const local = fanout(['run', ...parts, '--analysis', 'rg', '--state-dir', join(dir.path, 'state')]);
    expect(local.code).toBe(2);
    const problem = local.stderr.trim().replace(`fanout: ${parts[1]!}: `, '');
    expect(problem).toMatch(new RegExp(`^at byte ${at}: `));
    // Every offset the message mentions is one in the part (the frame before the damaged one, its byte count).
    for (const m of problem.matchAll(/byte (\d+)(?! of)/g)) expect(Number(m[1])).toBeLessThan(bytes.length);
    await putParts('md/damaged', parts);
    await put('input/md/damaged/run.fanout.json', JSON.stringify({ parts: parts.map((p) => basename(p)), options: { analysis: 'rg', sliceBytes: '4KiB' } }));
    expect(await jobFailure('md/damaged/run.fanout.json')).toBe(`s3://${BUCKET}/input/md/damaged/${basename(parts[1]!)}: ${problem}`);
  });

  it('a damaged frame inside a DCD part: the part and the offset in it, as a local run says', async () => {
    const parts = [1, 2, 3].map((k) => join(dir.path, `damaged.part${k}.dcd`));
    parts.forEach((p, k) => writeDcd(p, { atoms: 30, coords: randomCoords(10, 30, 60 + k), cells: Array.from({ length: 10 }, () => [40, 0, 40, 0, 0, 40]) }));
    const bytes = readFileSync(parts[1]!);
    // The Y record's closing marker in frame 6 of part 2 (frames of 56 + 3 x 128 bytes after a 276-byte header).
    const at = 276 + 6 * 440 + 56 + 128 + 124;
    expect(bytes.readInt32LE(at)).toBe(120);
    bytes.writeInt32LE(99, at);
    writeFileSync(parts[1]!, bytes);
    const local = fanout(['run', ...parts, '--analysis', 'rg', '--state-dir', join(dir.path, 'state')]);
    expect(local.code).toBe(2);
    expect(local.stderr).toBe(`fanout: ${parts[1]!}: at byte ${at}: corrupted DCD record marker in frame 6 (Y): 99, expected 120\n`);
    await putParts('md/damaged-dcd', parts);
    await put('input/md/damaged-dcd/run.fanout.json', JSON.stringify({ parts: parts.map((p) => basename(p)), options: { analysis: 'rg', sliceBytes: '4KiB' } }));
    expect(await jobFailure('md/damaged-dcd/run.fanout.json')).toBe(`s3://${BUCKET}/input/md/damaged-dcd/${basename(parts[1]!)}: at byte ${at}: corrupted DCD record marker in frame 6 (Y): 99, expected 120`);
  });
});
