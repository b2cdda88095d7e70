/**
 * What a user can get wrong ends in one line naming what to do, exit code 2, and no stack
 * trace; a reader that stops early ends the output quietly.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, fanout, tempDir } from '../helpers/cli.ts';
import { startMoto } from '../helpers/moto.ts';

const tmp = tempDir('fanout-cli-errors-');
afterAll(() => tmp.cleanup());
const csv = join(tmp.path, 'data.csv');
writeFileSync(csv, '1,2\n3,4\n');
const aFile = join(tmp.path, 'not-a-dir');
writeFileSync(aFile, 'x');

function expectOneLine(r: { code: number | null; stderr: string }, message: string | RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(typeof message === 'string' ? new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : message);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
}

describe('user errors', () => {
  it('refuses a directory as input', () => {
    expectOneLine(fanout(['run', tmp.path, '--state-dir', join(tmp.path, 's1')]), `fanout: ${tmp.path} is a directory: give the file to analyse`);
  });

  it.each([
    ['a file', aFile],
    ['below a file', join(aFile, 'state')],
  ])('refuses a state dir that is %s', (_, dir) => {
    expectOneLine(fanout(['run', csv, '--state-dir', dir]), `fanout: ${aFile} is a file, not a directory`);
  });

  // Node's recursive mkdir spins at 100% CPU there; fanout must fail at once.
  it.skipIf(!existsSync('/proc/self'))('refuses a state dir the kernel will not create (/proc), at once', () => {
    expectOneLine(fanout(['run', csv, '--state-dir', '/proc/fanout-state']), 'fanout: cannot create the directory /proc/fanout-state (ENOENT)');
  });
});

describe('mistakes of a first run', () => {
  const state = (name: string) => ['--state-dir', join(tmp.path, name)];

  it.each([
    ['RMSD', 'rmsd'],
    ['mean_structure', 'mean-structure'],
    ['stat', 'stats'],
    ['rgg', 'rg'],
  ])('--analysis %s: suggests %s', (given, meant) => {
    expectOneLine(fanout(['run', csv, '--analysis', given, ...state('s-analysis')]), `fanout: unknown analysis "${given}" (did you mean ${meant}?): use sum, stats, row-sums`);
  });

  it.each([
    ['rmsd', 'ref-fram=1', 'ref-fram', 'ref-frame'],
    ['rmsf', 'ref_frame=5', 'ref_frame', 'ref-frame'],
  ])('%s --option %s: an option the analysis does not take is refused, not silently ignored', (analysis, option, key, meant) => {
    expectOneLine(
      fanout(['run', csv, '--analysis', analysis, '--option', option, ...state('s-option')]),
      `fanout: ${analysis}: unknown option "${key}" (did you mean ${meant}?): ${analysis} takes ref-frame (--ref-frame K), and a structure with --reference FILE`,
    );
  });

  it('stats --option ddof=1: an analysis that takes no options says so', () => {
    expectOneLine(fanout(['run', csv, '--analysis', 'stats', '--option', 'ddof=1', ...state('s-no-option')]), 'fanout: stats takes no analysis option (--option, --ref-frame; given: ddof)');
  });

  it('a CSV with decimal commas and ; between fields (a European spreadsheet) is named as such', () => {
    const path = join(tmp.path, 'eu.csv');
    writeFileSync(path, 'a;b\n1,5;2,5\n3,0;4,0\n');
    expectOneLine(
      fanout(['run', path, '--analysis', 'stats', ...state('s-eu')]),
      `fanout: ${path}: at byte 6: not a number: "5;2" (decimal commas, with ; between fields? fanout reads decimal points only: convert them first, e.g. sed 's/,/./g; s/;/,/g')`,
    );
  });

  it('rg of a CSV says at once that text cannot hold whole-frame slices, rather than asking for --frame-rows first', () => {
    expectOneLine(
      fanout(['run', csv, '--analysis', 'rg', ...state('s-rg-text')]),
      `fanout: rg needs whole frames in every slice, and text input cannot be cut at frame boundaries: convert ${csv} to .npy (frames, rows, columns) or raw binary`,
    );
  });

  it('refuses a gzip-compressed trajectory with the command that decompresses it', () => {
    // An XTC frame header (magic 1995, big-endian; 5 atoms, repeated after the box), gzip-compressed.
    const path = join(tmp.path, 'traj.xtc.gz');
    const header = Buffer.alloc(92);
    header.writeInt32BE(1995, 0);
    header.writeInt32BE(5, 4);
    header.writeInt32BE(5, 52);
    writeFileSync(path, gzipSync(header));
    expectOneLine(
      fanout(['run', path, '--analysis', 'rg', ...state('s-gz')]),
      `fanout: ${path}: at byte 0: gzip compressed data: fanout reads compressed text only, and this holds XTC data; decompress it first (gunzip -k traj.xtc.gz)`,
    );
  });

  it.each([
    ['empty.xtc', 'an XTC trajectory'],
    ['empty.trr', 'a TRR trajectory'],
    ['empty.nc', 'a NetCDF trajectory'],
    ['empty.dcd', 'a DCD trajectory'],
  ])('names an empty %s as empty', (name, what) => {
    const path = join(tmp.path, name);
    writeFileSync(path, '');
    expectOneLine(fanout(['run', path, '--analysis', 'rg', ...state('s-empty')]), `fanout: ${path}: at byte 0: the file is empty (0 bytes), not ${what}`);
  });

  it.each([
    ['top.psf', 'PSF\n\n       1 !NTITLE\n REMARKS\n'],
    ['top.pdb', 'CRYST1   10.000   10.000   10.000  90.00  90.00  90.00 P 1           1\nATOM      1  N   ALA A   1       1.000   2.000   3.000  1.00  0.00           N\n'],
    ['top.gro', 'title\n    1\n    1ALA      N    1   0.100   0.200   0.300\n   1.0   1.0   1.0\n'],
  ])('says that %s is a topology for --topology, not the input', (name, text) => {
    const path = join(tmp.path, name);
    writeFileSync(path, text);
    expectOneLine(
      fanout(['run', path, '--analysis', 'rg', ...state('s-top')]),
      new RegExp(`^fanout: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: at byte 0: a (PSF topology|PDB structure|GRO structure) file, not a trajectory: give it with --topology ${name.replace('.', '\\.')} .*and the trajectory \\(XTC, TRR, DCD or NetCDF\\) as the input`),
    );
  });

  it.each([
    ['in a folder that does not exist', (dir: string) => join(dir, 'no-such-folder', 'result.json'), 'ENOENT'],
    ['that is a folder', (dir: string) => dir, 'EISDIR'],
  ])('names --out %s, and where the result is kept', (_, out, code) => {
    const path = out(tmp.path);
    const state = join(tmp.path, 's-out');
    const r = fanout(['run', csv, '--out', path, '--state-dir', state]);
    expectOneLine(r, new RegExp(`^fanout: --out ${path}: cannot write it \\(${code}\\); the result is kept in ${state}/jobs/[0-9a-f]+/result\\.json\n$`));
  });

  it('says what a file is when --format names another trajectory format', () => {
    const path = join(tmp.path, 'frames.traj');
    const header = Buffer.alloc(92);
    header.writeInt32BE(1995, 0);
    header.writeInt32BE(5, 4);
    header.writeInt32BE(5, 52);
    writeFileSync(path, header);
    expectOneLine(
      fanout(['run', path, '--format', 'dcd', '--analysis', 'rg', ...state('s-format')]),
      `fanout: ${path}: at byte 0: --format dcd, but this is XTC data (by its magic number): use --format xtc, or leave --format out`,
    );
  });

  it('names a format by its usual spelling when files of it cannot be parts', () => {
    const [a, b] = ['a.npy', 'b.npy'].map((n) => join(tmp.path, n));
    writeFileSync(a!, Buffer.from('\x93NUMPY', 'latin1'));
    writeFileSync(b!, Buffer.from('\x93NUMPY', 'latin1'));
    expectOneLine(fanout(['run', a!, b!, '--analysis', 'rg', ...state('s-parts')]), `${a} is .npy: run the files one by one`);
  });
});

describe('talking to S3', () => {
  const aws = (endpoint: string) => ({ env: { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' } });

  it('names an endpoint that does not answer', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((done) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => done(port));
      });
    });
    const r = fanout(['status', 's3://bucket/input/x.csv'], aws(`http://127.0.0.1:${port}`));
    expectOneLine(r, `fanout: cannot reach 127.0.0.1:${port} (ECONNREFUSED): check AWS_ENDPOINT_URL`);
  });

  it('passes on what S3 refused: a bucket that does not exist', async () => {
    const moto = await startMoto();
    try {
      const r = fanout(['submit', csv, '--bucket', 'no-such-bucket', '--quiet'], aws(moto.endpoint));
      expectOneLine(r, 'fanout: AWS refused the request: NoSuchBucket (HTTP 404)');
    } finally {
      await moto.stop();
    }
  });
});

describe('a closed pipe', () => {
  it('ends fanout quietly when the reader stops early (fanout run ... --json | head -1)', async () => {
    // A result document far larger than a pipe's buffer: 20,000 atoms' mean positions.
    const npy = join(tmp.path, 'wide.npy');
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 20000, 3), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const head = Buffer.from(`\x93NUMPY\x01\x00${String.fromCharCode((header.length + pad + 1) & 255, (header.length + pad + 1) >> 8)}${header}${' '.repeat(pad)}\n`, 'latin1');
    const data = Buffer.alloc(2 * 20000 * 3 * 8);
    for (let i = 0; i < data.length / 8; i++) data.writeDoubleLE(i / 7, i * 8);
    writeFileSync(npy, Buffer.concat([head, data]));
    const r = await new Promise<{ code: number | null; stderr: string; first: string }>((done) => {
      const child = spawn(process.execPath, [BIN, 'run', npy, '--analysis', 'mean-structure', '--json', '--quiet', '--state-dir', join(tmp.path, 's-pipe')]);
      let stderr = '';
      let first = '';
      child.stderr.on('data', (d) => (stderr += d));
      // Read one chunk, then close the pipe, as `head -1` does.
      child.stdout.once('data', (d) => {
        first = String(d).split('\n')[0]!;
        child.stdout.destroy();
      });
      child.on('close', (code) => done({ code, stderr, first }));
    });
    expect(r.first).toBe('{');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
