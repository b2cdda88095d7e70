/**
 * `fanout submit`, `fanout status` and `fanout redrive` as a user runs them, against moto: the real CLI
 * uploads, the dispatcher (in this process) runs the real handlers, the CLI follows.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dispatcher, startDispatcher } from '../../lib/cloud/dev/dispatcher.ts';
import { BIN, type CliResult, ROOT, runJson, tempDir } from '../helpers/cli.ts';
import { loadHandlers, type Moto, startMoto } from '../helpers/moto.ts';
import { python } from '../helpers/python.ts';
import { formatBytes } from '../../lib/core/units.ts';
import { summarize } from '../../lib/cli/summary.ts';
import { spawn } from 'node:child_process';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';

const BUCKET = 'fanout-submit';

/** The CLI in a child process, without blocking this one: the dispatcher runs here. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('fanout submit and status on moto', () => {
  let moto: Moto;
  let dispatcher: Dispatcher;
  const dir = tempDir('fanout-submit-');
  const csv = join(dir.path, 'table.csv');
  const big = join(dir.path, 'big.npy');

  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
    moto = await startMoto();
    dispatcher = await startDispatcher({ endpoint: moto.endpoint, bucket: BUCKET, workerConcurrency: 2, log: () => {}, loadHandlers });
    python(`rng = np.random.default_rng(5)
np.savetxt(${JSON.stringify(csv)}, rng.standard_normal((3000, 4)) * 1000, delimiter=",", header="a,b,c,d", comments="")
np.save(${JSON.stringify(big)}, rng.standard_normal((2200, 1000)))
print("null")`);
  });

  afterAll(async () => {
    await dispatcher?.stop();
    await moto?.stop();
    dir.cleanup();
  });

  it('uploads, follows the job to its result, and prints the same document a local run gives', async () => {
    const r = await cli(['submit', csv, '--bucket', BUCKET, '--analysis', 'stats', '--skip-header', '--slice-bytes', '16KiB', '--json', '--progress']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const local = runJson([csv, '--analysis', 'stats', '--skip-header', '--state-dir', join(dir.path, 'state')]);
    expect(doc.result).toEqual(local.result);
    expect(doc.records).toBe(3000);
    expect(doc.slices).toBeGreaterThan(3);
    expect(r.stderr).toMatch(/upload \[#+\] .*ETA 0:00/);
    expect(r.stderr).toMatch(new RegExp(`job \\[#+\\] ${doc.slices}/${doc.slices} partials`));
    expect(r.stderr).toContain(`job ${doc.job}: fanout status ${doc.job} --bucket ${BUCKET}`);

    const byId = await cli(['status', doc.job, '--bucket', BUCKET]);
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toContain(`job ${doc.job} in s3://${BUCKET}: done`);
    expect(byId.stdout).toContain(`${doc.slices}/${doc.slices} partials written, ${formatBytes(statSync(csv).size)} of ${formatBytes(statSync(csv).size)} scanned`);
    const byKey = await cli(['status', `s3://${BUCKET}/input/table.csv`, '--json']);
    expect(byKey.code, byKey.stderr).toBe(0);
    expect(JSON.parse(byKey.stdout)).toMatchObject({ job: doc.job, state: 'done', partialsDone: doc.slices, bytesDone: statSync(csv).size, bytesTotal: statSync(csv).size });

    // the cloud job's report, from its partials in the merge tree
    const page = join(dir.path, 'cloud.html');
    const report = await cli(['report', `s3://${BUCKET}/jobs/${doc.job}/`, '--out', page]);
    expect(report.code, report.stderr).toBe(0);
    const html = readFileSync(page, 'utf8');
    expect(html.match(/<svg /g)).toHaveLength(3);
    expect(html).toContain(`${doc.slices} (${doc.slices} found in ${doc.slices} partials, 0 resumed)`);
  });

  it('--detach --quiet prints the job id alone on stdout; status of the finished job prints the summary run prints, and --json the result document too', async () => {
    const r = await cli(['submit', csv, '--bucket', BUCKET, '--key', 'input/detached.csv', '--analysis', 'stats', '--skip-header', '--detach', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^[0-9a-f]{8,64}\n$/);
    const job = r.stdout.trim();
    const waited = await cli(['status', job, '--bucket', BUCKET, '--timeout', '2m']);
    expect(waited.code, waited.stderr).toBe(0);
    const local = runJson([csv, '--analysis', 'stats', '--skip-header', '--state-dir', join(dir.path, 'state')]);
    const doc = JSON.parse((await cli(['status', job, '--bucket', BUCKET, '--json'])).stdout);
    expect(doc).toMatchObject({ job, state: 'done' });
    expect(doc.document.job).toBe(job);
    expect(doc.document.result).toEqual(local.result);
    // where the job stands, then the summary fanout run prints of the same document
    expect(waited.stdout.startsWith(`job ${job} in s3://${BUCKET}: done`)).toBe(true);
    expect(waited.stdout.endsWith(`\n\n${summarize(doc.document, `s3://${BUCKET}/jobs/${job}/`)}\n`)).toBe(true);
    expect(waited.stdout).toMatch(new RegExp(`^stats of s3://${BUCKET}/input/detached\\.csv: .*, job ${job}$`, 'm'));
  });

  it('uploads a file larger than the multipart threshold in parts', async () => {
    const r = await cli(['submit', big, '--bucket', BUCKET, '--key', 'input/nested/big.npy', '--slice-bytes', '4MiB', '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    const expected = python<number>(`print(json.dumps(math.fsum(np.load(${JSON.stringify(big)}).ravel().tolist())))`);
    expect(doc.result.sum).toBe(expected);
    expect(doc.result.count).toBe(2_200_000);
  });

  it('exits 2 with the reason when the job fails', async () => {
    const bad = join(dir.path, 'bad.csv');
    writeFileSync(bad, '1,2\n3,4\n5,x6\n');
    const r = await cli(['submit', bad, '--bucket', BUCKET]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/fanout: job [0-9a-f]+ failed at slice 0: .*bad\.csv: at byte 10: not a number: "x6"/);
    const status = await cli(['status', `s3://${BUCKET}/input/bad.csv`]);
    expect(status.code).toBe(2);
    expect(status.stdout).toMatch(/: failed/);
  });

  it('fanout redrive runs a failed job again (bad bytes fail it again) and refuses a done one with one line', async () => {
    const again = await cli(['redrive', `s3://${BUCKET}/input/bad.csv`]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^job [0-9a-f]+ redriven: 1 slice invoked again$/m);
    expect(again.stderr).toMatch(/^fanout: job [0-9a-f]+ failed at slice 0: .*bad\.csv: at byte 10: not a number: "x6"$/m);
    const done = await cli(['redrive', `s3://${BUCKET}/input/table.csv`]);
    expect(done.code).toBe(2);
    expect(done.stderr).toMatch(/^fanout: job [0-9a-f]+ is done: nothing to redrive \(its result is s3:\/\/fanout-submit\/results\/table\.csv\.json\)\n$/);
  });

  it('rejects bad options before uploading anything', async () => {
    const r = await cli(['submit', csv, '--bucket', BUCKET, '--on-bad-record', 'ignore']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--on-bad-record must be fail or skip|onBadRecord/);
    const noBucket = await cli(['submit', csv], { FANOUT_BUCKET: '', FANOUT_STACK: '' });
    expect(noBucket.code).toBe(2);
    expect(noBucket.stderr).toMatch(/--bucket NAME, or --stack NAME/);
  });

  it('submits a trajectory in parts: the parts beside a job file listing them, one job, the answer of the local run over the same parts', async () => {
    const parts = [4, 9, 3].map((frames, k) => {
      const path = join(dir.path, `md.part000${k + 1}.xtc`);
      writeFileSync(path, rawXtc(frames, 100 * k));
      return path;
    });
    const r = await cli(['submit', ...parts, '--bucket', BUCKET, '--analysis', 'mean-structure', '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const local = runJson([...parts, '--analysis', 'mean-structure', '--state-dir', join(dir.path, 'state')]);
    expect(doc.result).toEqual(local.result);
    expect(doc.records).toBe(16);
    expect(doc.input.path).toBe(`s3://${BUCKET}/input/md.fanout.json`);
    expect(doc.input.parts.map((p: { path: string }) => p.path)).toEqual(parts.map((_, k) => `s3://${BUCKET}/input/md.part000${k + 1}.xtc`));
    const status = await cli(['status', `s3://${BUCKET}/input/md.fanout.json`]);
    expect(status.stdout).toMatch(/: done/);
    // The parts' own uploads started no job.
    expect((await cli(['status', `s3://${BUCKET}/input/md.part0001.xtc`])).stderr).toContain('no job has started for this object');

    const clash = await cli(['submit', parts[0]!, parts[0]!, '--bucket', BUCKET]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('two parts are called md.part0001.xtc');
    const badKey = await cli(['submit', ...parts, '--bucket', BUCKET, '--key', 'input/md.xtc']);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toContain('whose key ends in .fanout.json');
  });

  it('finds the bucket from the stack outputs with --stack, and says what is wrong with a stack that is no fanout stack', async () => {
    const cfn = new CloudFormationClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const template = (outputs: Record<string, unknown>) =>
      JSON.stringify({ Resources: { Placeholder: { Type: 'AWS::S3::Bucket', Properties: { BucketName: `placeholder-${Object.keys(outputs).length}` } } }, Outputs: outputs });
    await cfn.send(new CreateStackCommand({ StackName: 'fanout-test', TemplateBody: template({ BucketName: { Value: BUCKET } }) }));
    await cfn.send(new CreateStackCommand({ StackName: 'other-stack', TemplateBody: template({}) }));

    const r = await cli(['submit', csv, '--stack', 'fanout-test', '--key', 'input/by-stack.csv', '--skip-header', '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).records).toBe(3000);
    const status = await cli(['status', `s3://${BUCKET}/input/by-stack.csv`], { FANOUT_STACK: 'fanout-test' });
    expect(status.stdout).toMatch(/: done/);

    const other = await cli(['submit', csv, '--stack', 'other-stack']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('stack other-stack has no BucketName output');
    const missing = await cli(['submit', csv, '--stack', 'no-such-stack']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/stack no-such-stack: .*(does not exist|not found)/i);
    expect((await cli(['submit', csv, '--stack', 'fanout-test', '--bucket', BUCKET])).stderr).toContain('give --bucket or --stack, not both');
  });
});

/** An XTC of `frames` raw frames of 5 atoms (GROMACS stores 9 atoms or fewer uncompressed): magic, natoms, step, time, box, natoms, x. */
function rawXtc(frames: number, firstStep: number): Uint8Array {
  const out = new Uint8Array(116 * frames);
  const v = new DataView(out.buffer);
  for (let f = 0; f < frames; f++) {
    const at = 116 * f;
    v.setInt32(at, 1995);
    v.setInt32(at + 4, 5);
    v.setInt32(at + 8, firstStep + f);
    v.setFloat32(at + 12, firstStep + f);
    for (let i = 0; i < 9; i++) v.setFloat32(at + 16 + 4 * i, i % 4 === 0 ? 3 : 0);
    v.setInt32(at + 52, 5);
    for (let i = 0; i < 15; i++) v.setFloat32(at + 56 + 4 * i, Math.fround(Math.sin(firstStep + 7 * f + i) * 2.5));
  }
  return out;
}
