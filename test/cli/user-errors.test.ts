/**
 * What a user can get wrong ends in one line naming what to do, exit code 2, and no stack
 * trace; a reader that stops early ends the output quietly.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
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
