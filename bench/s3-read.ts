/**
 * The cloud worker's read path, measured locally: `npx tsx bench/s3-read.ts`.
 *
 * 1. Read throughput of S3Source over moto for K = 1, 2, 4, 8 concurrent sub-range
 *    GETs, reading a ~200 MB object whole. moto is a single Python process on this
 *    machine, so the figure shows the read path's own overhead and that K GETs do feed
 *    the consumer; it says little about real S3, where one stream is the limit.
 * 2. The worker bundle, built with esbuild the way cdk/fanout-pipeline.ts builds it
 *    (minified ESM for node24, the same banner): its size, and the time a fresh `node`
 *    process takes to import it (which also builds its clients), median of several runs.
 *    Two variants: the SDK left external as the construct deploys it (the Lambda
 *    runtime provides @aws-sdk/* and @smithy/*), and everything bundled.
 *
 * Options: --mb N (object size, default 200), --runs N (default 3), --init-runs N (default 7).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { makeS3Client } from '../lib/adapters/s3-client.ts';
import { describeObject, READ_DEFAULTS, S3Source } from '../lib/adapters/s3-source.ts';
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

async function readThroughput(): Promise<void> {
  const mb = arg('mb', 200);
  const runs = arg('runs', 3);
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const moto = await startMoto();
  const client = makeS3Client({ endpoint: moto.endpoint });
  try {
    const bucket = 'bench';
    const key = 'input/big.bin';
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const bytes = randomBytes(mb * 1e6);
    const t0 = performance.now();
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    console.log(`uploaded ${mb} MB to moto in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const obj = (await describeObject(client, bucket, key))!;

    const cases: { label: string; concurrency: number; subRangeBytes: number }[] = [
      // What the worker did before: one streamed GET for the whole range.
      { label: 'one GET for the whole range (before)', concurrency: 1, subRangeBytes: obj.size },
      ...[1, 2, 4, 8].map((k) => ({ label: `K = ${k}, ${READ_DEFAULTS.subRangeBytes >> 20} MiB sub-ranges`, concurrency: k, subRangeBytes: READ_DEFAULTS.subRangeBytes })),
    ];
    console.log(`\nreading ${(obj.size / 1e6).toFixed(0)} MB whole from moto, median of ${runs} runs (min-max):`);
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
  } finally {
    client.destroy();
    await moto.stop();
  }
}

async function bundle(name: string, external: string[]): Promise<string> {
  const outfile = join(OUT, name, 'index.mjs');
  mkdirSync(dirname(outfile), { recursive: true });
  await build({
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
  return outfile;
}

/** Import time of the bundle in a fresh process: what a cold start pays for our code. */
function importMs(file: string): { importMs: number; processMs: number } {
  const script = `const t0 = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t0);`;
  const start = performance.now();
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, BUCKET_NAME: 'bench', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', POWERTOOLS_SERVICE_NAME: 'fanout', NODE_OPTIONS: '' },
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
    const file = await bundle(v.name, v.external);
    const bytes = statSync(file).size;
    const times = Array.from({ length: runs }, () => importMs(file));
    const imp = median(times.map((t) => t.importMs));
    const proc = median(times.map((t) => t.processMs));
    console.log(`  ${v.label.padEnd(55)} ${(bytes / 1024).toFixed(0).padStart(5)} KiB  import ${imp.toFixed(0)} ms  whole process ${proc.toFixed(0)} ms`);
  }
}

await readThroughput();
await bundleFigures();
