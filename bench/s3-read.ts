/**
 * The cloud worker's read path, measured locally: `npx tsx bench/s3-read.ts`.
 *
 * 1. Read throughput of S3Source for K = 1, 2, 4, 8 concurrent sub-range GETs, reading
 *    a ~200 MB object whole, over moto and over a paced local server. moto is one
 *    Python process on this machine whose cost grows with every request, so its figure
 *    only shows the path works end to end; the paced server holds every stream to a
 *    fixed rate, as S3 does (~90 MB/s), so it shows whether K streams add up.
 * 2. The worker bundle, built with esbuild the way cdk/fanout-pipeline.ts builds it
 *    (minified ESM for node24, the same banner): its size, and the time a fresh `node`
 *    process takes to import it (which also builds its clients), median of several runs.
 *    Two variants: the SDK left external as the construct deploys it (the Lambda
 *    runtime provides @aws-sdk/* and @smithy/*), and everything bundled.
 *
 * Options: --mb N (object size, default 200), --runs N (default 3), --init-runs N (default 7),
 * --stream-mbps N (the paced server's rate per stream, default 90), --latency-ms N (default 20),
 * --bundle-only (skip the read measurements).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { build, type Metafile } from 'esbuild';
import { makeS3Client } from '../lib/cloud/aws/s3-client.ts';
import { describeObject, READ_DEFAULTS, S3Source } from '../lib/cloud/aws/s3-source.ts';
import type { PinnedInput } from '../lib/cloud/inputs.ts';
import { startMoto } from '../test/helpers/moto.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench-cache', 's3-read');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type Client = ReturnType<typeof makeS3Client>;

/** Reads the object whole with each K, prints MB/s. */
async function readCases(client: Client, obj: PinnedInput, runs: number): Promise<void> {
  const cases: { label: string; concurrency: number; subRangeBytes: number }[] = [
    // What the worker did before: one streamed GET for the whole range.
    { label: 'one GET for the whole range (before)', concurrency: 1, subRangeBytes: obj.size },
    ...[1, 2, 4, 8].map((k) => ({ label: `K = ${k}, ${READ_DEFAULTS.subRangeBytes >> 20} MiB sub-ranges`, concurrency: k, subRangeBytes: READ_DEFAULTS.subRangeBytes })),
  ];
  for (const c of cases) {
    const rates: number[] = [];
    let requests = 0;
    for (let r = 0; r < runs; r++) {
      const source = new S3Source(client, obj, { concurrency: c.concurrency, subRangeBytes: c.subRangeBytes });
      let got = 0;
      const start = performance.now();
      for await (const chunk of source.chunks(0, obj.size)) got += chunk.length;
      const seconds = (performance.now() - start) / 1000;
      if (got !== obj.size) throw new Error(`read ${got} bytes of ${obj.size}`);
      rates.push(obj.size / 1e6 / seconds);
      requests = source.requests;
    }
    console.log(`  ${c.label.padEnd(40)} ${median(rates).toFixed(0).padStart(5)} MB/s  (${Math.min(...rates).toFixed(0)}-${Math.max(...rates).toFixed(0)}), ${requests} GETs`);
  }
}

async function overMoto(mb: number, runs: number): Promise<void> {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const moto = await startMoto();
  const client = makeS3Client({ endpoint: moto.endpoint });
  try {
    const bucket = 'bench';
    const key = 'input/big.bin';
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const t0 = performance.now();
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: randomBytes(mb * 1e6) }));
    console.log(`uploaded ${mb} MB to moto in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const obj = (await describeObject(client, bucket, key))!;
    console.log(`\nmoto: reading ${(obj.size / 1e6).toFixed(0)} MB whole, median of ${runs} runs (min-max):`);
    await readCases(client, obj, runs);
  } finally {
    client.destroy();
    await moto.stop();
  }
}

/**
 * A stand-in for S3's per-stream limit: a bare HTTP server in its own process that
 * answers ranged GETs (with If-Match) after a first-byte latency and paces every
 * response to a fixed rate. It shows whether K streams add up, which moto cannot.
 */
const PACED_SERVER = `
import { createServer } from 'node:http';
import { randomFillSync } from 'node:crypto';
const size = Number(process.env.SIZE), rate = Number(process.env.RATE) / 1000, latencyMs = Number(process.env.LATENCY_MS);
const data = randomFillSync(Buffer.allocUnsafe(size));
const etag = '"paced"';
const server = createServer((req, res) => {
  if (req.headers['if-match'] && req.headers['if-match'] !== etag) { res.writeHead(412).end(); return; }
  const m = /bytes=(\\d+)-(\\d+)/.exec(req.headers.range || '');
  const s = m ? Number(m[1]) : 0, e = m ? Math.min(size - 1, Number(m[2])) : size - 1;
  res.writeHead(m ? 206 : 200, { 'content-length': e - s + 1, 'content-range': 'bytes ' + s + '-' + e + '/' + size, etag, 'content-type': 'application/octet-stream' });
  const t0 = Date.now() + latencyMs;
  let at = s;
  const pump = () => {
    if (res.destroyed) return;
    if (at > e) return void res.end();
    const wait = t0 + (at - s) / rate - Date.now();
    if (wait > 0) return void setTimeout(pump, wait);
    const n = Math.min(256 * 1024, e + 1 - at);
    const ok = res.write(data.subarray(at, at + n));
    at += n;
    if (ok) setImmediate(pump); else res.once('drain', pump);
  };
  setTimeout(pump, latencyMs);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function overPacedServer(mb: number, runs: number, streamMBps: number, latencyMs: number): Promise<void> {
  const size = mb * 1e6;
  const child = spawn(process.execPath, ['--input-type=module', '-e', PACED_SERVER], {
    env: { PATH: process.env.PATH, NODE_NO_WARNINGS: '1', SIZE: String(size), RATE: String(streamMBps * 1e6), LATENCY_MS: String(latencyMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
      child.once('exit', (code) => reject(new Error(`paced server exited with ${code}`)));
    });
    const client = makeS3Client({ endpoint: `http://127.0.0.1:${port}` });
    console.log(`\npaced server (${streamMBps} MB/s per stream, ${latencyMs} ms to first byte): reading ${mb} MB whole, median of ${runs} runs (min-max):`);
    await readCases(client, { bucket: 'bench', key: 'big.bin', size, etag: '"paced"' }, runs);
    client.destroy();
  } finally {
    child.kill('SIGTERM');
  }
}

/** The bundle's biggest contributors, by package (or our own top-level folder). */
function largestInputs(meta: Metafile, count = 5): string {
  const bytes = new Map<string, number>();
  for (const out of Object.values(meta.outputs)) {
    for (const [file, input] of Object.entries(out.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? file.split('/').slice(0, 2).join('/');
      bytes.set(pkg, (bytes.get(pkg) ?? 0) + input.bytesInOutput);
    }
  }
  return [...bytes].sort((a, b) => b[1] - a[1]).slice(0, count).map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} KiB`).join(', ');
}

async function bundle(name: string, external: string[]): Promise<{ outfile: string; largest: string }> {
  const outfile = join(OUT, name, 'index.mjs');
  mkdirSync(dirname(outfile), { recursive: true });
  const result = await build({
    metafile: true,
    entryPoints: [join(ROOT, 'functions', 'worker.ts')],
    outfile,
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    external,
    banner: { js: "import { createRequire as __fanoutCreateRequire } from 'node:module'; const require = __fanoutCreateRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return { outfile, largest: largestInputs(result.metafile) };
}

/** Import time of the bundle in a fresh process: what a cold start pays for our code. */
function importMs(file: string): { importMs: number; processMs: number } {
  const script = `const t0 = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t0);`;
  const start = performance.now();
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, NODE_NO_WARNINGS: '1', BUCKET_NAME: 'bench', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', POWERTOOLS_SERVICE_NAME: 'fanout', NODE_OPTIONS: '' },
  });
  return { importMs: Number(out.toString().trim().split('\n').at(-1)), processMs: performance.now() - start };
}

async function bundleFigures(): Promise<void> {
  const runs = arg('init-runs', 7);
  console.log(`\nworker bundle (esbuild: minified ESM, node24), import + init in a fresh node ${process.version}, median of ${runs} runs:`);
  const variants = [
    { name: 'sdk-external', label: 'as deployed (@aws-sdk/*, @smithy/* from the runtime)', external: ['@aws-sdk/*', '@smithy/*'] },
    { name: 'sdk-bundled', label: 'everything bundled', external: [] },
  ];
  for (const v of variants) {
    const { outfile: file, largest } = await bundle(v.name, v.external);
    const bytes = statSync(file).size;
    const times = Array.from({ length: runs }, () => importMs(file));
    const imp = median(times.map((t) => t.importMs));
    const proc = median(times.map((t) => t.processMs));
    console.log(`  ${v.label.padEnd(55)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB  import ${imp.toFixed(0)} ms  whole process ${proc.toFixed(0)} ms`);
    console.log(`    largest: ${largest}`);
  }
}

const MB = arg('mb', 200);
const RUNS = arg('runs', 3);
if (!process.argv.includes('--bundle-only')) {
  await overMoto(MB, RUNS);
  await overPacedServer(MB, RUNS, arg('stream-mbps', 90), arg('latency-ms', 20));
}
await bundleFigures();
