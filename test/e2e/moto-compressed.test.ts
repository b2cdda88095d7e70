/**
 * Compressed input through the cloud pipeline on a real S3 API (moto): BGZF and seekable
 * zstd are split into several slices, each worker reading its own members or frames by
 * range; plain gzip and a zstd stream are one slice. Every result equals `fanout run` on
 * the uncompressed file.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJson, tempDir } from '../helpers/cli.ts';
import { type PipelineOnMoto, startPipelineOnMoto } from '../helpers/moto.ts';
import { hasZstdCli, rawZstdFrame, seekable, zstdCli } from '../helpers/zstd.ts';

const BUCKET = 'fanout-e2e-compressed';

/** BGZF members of at most `block` bytes each (SAMv1 §4.1), with the empty end marker. */
function bgzf(data: Buffer, block: number): Buffer {
  const members: Buffer[] = [];
  for (let at = 0; at <= data.length; at += block) {
    const body = gzipSync(data.subarray(at, at + block)).subarray(10);
    const head = Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 66, 67, 2, 0, 0, 0]);
    head.writeUInt16LE(head.length + body.length - 1, 16);
    members.push(head, body);
  }
  return Buffer.concat(members);
}

describe('compressed input on the cloud pipeline (moto)', () => {
  let env: PipelineOnMoto;
  const dir = tempDir('fanout-e2e-z-');
  let x = 7;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const lines = ['a,b,c'];
  for (let i = 0; i < 12000; i++) lines.push(`${(rnd() * 2000 - 1000).toFixed(5)},${Math.floor(rnd() * 1e6)},${(rnd() * 1e-3).toExponential(10)}`);
  const text = Buffer.from(`${lines.join('\n')}\n`);
  writeFileSync(join(dir.path, 'data.csv'), text);

  beforeAll(async () => {
    // 48 KiB slices: this text, about 185 KB compressed, is four slices when its compression allows it.
    env = await startPipelineOnMoto({ bucket: BUCKET, defaults: { sliceBytes: 48 * 1024, maxSlices: 200 }, fanin: 3, workerConcurrency: 2 });
  });

  afterAll(async () => {
    await env?.stop();
    dir.cleanup();
  });

  async function waitFor(key: string, timeoutMs = 90_000): Promise<Record<string, unknown> & { result: unknown; slices: number; input: Record<string, unknown> }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const body = await env.text(key);
      if (body) return JSON.parse(body);
      if (Date.now() > deadline) throw new Error(`${key} did not appear within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('BGZF and seekable zstd split into several slices, plain gzip and a zstd stream one slice, all equal to the local run on the text', async () => {
    const local = runJson([join(dir.path, 'data.csv'), '--analysis', 'stats', '--skip-header', '--state-dir', join(dir.path, 'state')]);
    const frame = hasZstdCli ? (part: Uint8Array) => zstdCli(part) : rawZstdFrame;
    const files: [string, Buffer, string, boolean][] = [
      ['data.csv.gz', bgzf(text, 16 * 1024), 'bgzf', true],
      ['data.csv.zst', seekable(text, [20000, 5000, 33000], frame).file, 'zstd-seekable', true],
      ['plain.csv.gz', gzipSync(text), 'gzip', false],
    ];
    if (hasZstdCli) files.push(['plain.csv.zst', zstdCli(text), 'zstd', false]);
    for (const [name, body] of files) {
      await env.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `input/${name}`, Body: body, Metadata: { 'fanout-analysis': 'stats', 'fanout-skip-header': 'true' } }));
    }
    for (const [name, body, codec, splittable] of files) {
      const doc = await waitFor(`results/${name}.json`);
      expect(doc.result, name).toEqual(local.result);
      expect(doc.input.compression, name).toMatchObject({ codec, splittable });
      // A cloud job's slice count comes from the object's (compressed) size: what its Lambdas download.
      if (splittable) expect(doc.slices, name).toBe(Math.ceil(body.length / (48 * 1024)));
      else expect(doc.slices, name).toBe(1);
    }
  });
});
