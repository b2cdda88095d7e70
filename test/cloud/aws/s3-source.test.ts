/**
 * S3Source's concurrent read path against a real S3 API (moto). The oracle for the bytes
 * is the object as uploaded; a wrapper around the client's HTTP handler (below the
 * SDK) counts the GETs, how many are open at once, which ones were aborted, and can
 * hold chosen ones back so that later sub-ranges answer first.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceChangedError, UsageError } from '../../../lib/core/errors.ts';
import { makeS3Client } from '../../../lib/cloud/aws/s3-client.ts';
import { describeObject, READ_CONCURRENCY_ENV, readConcurrencyFromEnv, S3Source, type S3ReadOptions } from '../../../lib/cloud/aws/s3-source.ts';
import { type Moto, startMoto } from '../../helpers/moto.ts';

const BUCKET = 'reads';
const VERSIONED = 'reads-versioned';
const KEY = 'input/data.bin';
const BIG_KEY = 'input/big.bin';

let moto: Moto;
let client: S3Client;
let small: Uint8Array;
let big: Uint8Array;
let buckets = 0;

interface HandlerLike {
  handle(request: { method: string; headers: Record<string, string> }, options?: { abortSignal?: AbortSignal }): Promise<{ response: { body?: unknown } }>;
}

interface Get {
  start: number;
  end: number;
  state: 'open' | 'complete' | 'aborted' | 'failed';
}

/** Wraps the client's HTTP handler: every GET is recorded; `delayMs(n)` holds the n-th (from 0) back, abortably. */
function track(c: S3Client, delayMs: (n: number) => number = () => 0) {
  const config = c.config as unknown as { requestHandler: HandlerLike };
  const inner = config.requestHandler;
  const gets: Get[] = [];
  const stats = { gets, open: 0, maxOpen: 0, completionOrder: [] as number[] };
  const wrapper = Object.create(inner) as HandlerLike;
  wrapper.handle = async (request, options) => {
    if (request.method !== 'GET') return inner.handle(request, options);
    const range = /bytes=(\d+)-(\d+)/.exec(request.headers.range ?? request.headers.Range ?? '');
    const n = gets.length;
    const get: Get = { start: Number(range?.[1] ?? 0), end: Number(range?.[2] ?? -1) + 1, state: 'open' };
    gets.push(get);
    stats.open++;
    stats.maxOpen = Math.max(stats.maxOpen, stats.open);
    const signal = options?.abortSignal;
    const settle = (state: Get['state']): void => {
      if (get.state !== 'open') return;
      get.state = state;
      stats.open--;
      if (state === 'complete') stats.completionOrder.push(n);
    };
    try {
      const ms = delayMs(n);
      if (ms > 0) await abortableSleep(ms, signal);
      const r = await inner.handle(request, options);
      const body = r.response.body as Readable;
      body.once('end', () => settle('complete'));
      body.once('close', () => settle(signal?.aborted ? 'aborted' : 'failed'));
      return r;
    } catch (e) {
      settle(signal?.aborted ? 'aborted' : 'failed');
      throw e;
    }
  };
  config.requestHandler = wrapper;
  return stats;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fresh client (its own handler wrapper) and a source over `key`. */
async function open(options: S3ReadOptions, key = KEY, bucket = BUCKET, delayMs?: (n: number) => number) {
  const c = makeS3Client({ endpoint: moto.endpoint });
  const stats = track(c, delayMs);
  const obj = (await describeObject(c, bucket, key))!;
  return { source: new S3Source(c, obj, options), stats, client: c };
}

async function readAll(source: S3Source, start: number, end: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  // Copied: a chunk is only valid until the next one is asked for.
  for await (const chunk of source.chunks(start, end)) parts.push(chunk.slice());
  return Buffer.concat(parts);
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  moto = await startMoto();
  client = makeS3Client({ endpoint: moto.endpoint });
  small = randomBytes(200_000);
  big = randomBytes(3 << 20);
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: small }));
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: BIG_KEY, Body: big }));
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await moto?.stop();
});

describe('S3Source.chunks', () => {
  it.each([
    ['a range aligned to sub-ranges', 0, 40_960, 4096, 4],
    ['a range on no sub-range boundary', 1234, 98_765, 4096, 3],
    ['a range whose last sub-range is partial', 100, 100 + 5 * 7000 + 123, 7000, 2],
    ['a range of exactly one sub-range, as one GET', 5000, 5000 + 8192, 8192, 4],
    ['the whole object', 0, 200_000, 10_000, 8],
    ['a read to the object end with sub-ranges above the small first ones', 10, 200_000, 100_000, 4],
    ['one byte', 199_999, 200_000, 4096, 4],
    ['one sub-range at a time', 777, 150_000, 9000, 1],
  ])('returns the object bytes for %s', async (_name, start, end, subRangeBytes, concurrency) => {
    const { source, stats } = await open({ subRangeBytes, concurrency });
    expect(same(await readAll(source, start, end), small.subarray(start, end))).toBe(true);
    // Together the GETs cover the range once, with no gap and no overlap.
    const covered = stats.gets.map((g) => [g.start, g.end]).sort((a, b) => a[0]! - b[0]!);
    expect(covered[0]![0]).toBe(start);
    expect(covered.at(-1)![1]).toBe(end);
    for (let i = 1; i < covered.length; i++) expect(covered[i]![0]).toBe(covered[i - 1]![1]);
    expect(covered.every(([s, e]) => e! - s! <= subRangeBytes)).toBe(true);
    if (end - start <= subRangeBytes) expect(stats.gets).toHaveLength(1);
  });

  it('sends no request for an empty range', async () => {
    const { source, stats } = await open({ subRangeBytes: 4096, concurrency: 4 });
    expect(await readAll(source, 500, 500)).toHaveLength(0);
    expect(stats.gets).toHaveLength(0);
  });

  it('returns the object bytes for random ranges, sub-range sizes and concurrency', async () => {
    const { source: probe, client: c } = await open({});
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: small.length }),
        fc.integer({ min: 0, max: small.length }),
        fc.integer({ min: 3000, max: 60_000 }),
        fc.integer({ min: 1, max: 6 }),
        async (a, b, subRangeBytes, concurrency) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          const source = new S3Source(c, probe.input, { subRangeBytes, concurrency });
          expect(same(await readAll(source, start, end), small.subarray(start, end))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('hands the bytes over in order when later sub-ranges answer first', async () => {
    // The first two GETs are held back, so the third and fourth complete before them.
    const { source, stats } = await open({ subRangeBytes: 10_000, concurrency: 4 }, KEY, BUCKET, (n) => (n === 0 ? 300 : n === 1 ? 150 : 0));
    expect(same(await readAll(source, 0, 120_000), small.subarray(0, 120_000))).toBe(true);
    const order = stats.completionOrder;
    expect(order.indexOf(2)).toBeLessThan(order.indexOf(0));
    expect(order.indexOf(3)).toBeLessThan(order.indexOf(1));
  });

  it('keeps at most K sub-ranges in flight or buffered while the consumer is slow', async () => {
    const K = 3;
    const { source, stats } = await open({ subRangeBytes: 8192, concurrency: K });
    let consumed = 0;
    let worst = 0;
    for await (const chunk of source.chunks(0, 120_000)) {
      consumed += chunk.length;
      // GETs sent whose bytes the consumer has not all had yet.
      worst = Math.max(worst, stats.gets.filter((g) => g.end > consumed).length);
      await new Promise((r) => setTimeout(r, 3));
    }
    expect(consumed).toBe(120_000);
    expect(worst).toBeGreaterThan(1);
    expect(worst).toBeLessThanOrEqual(K);
    expect(stats.maxOpen).toBeLessThanOrEqual(K);
  });

  it('aborts the GETs still running when the consumer stops early', async () => {
    // GETs after the first are held back, so they are still open when the consumer leaves.
    const { source, stats } = await open({ subRangeBytes: 64 << 10, concurrency: 4 }, BIG_KEY, BUCKET, (n) => (n > 0 ? 10_000 : 0));
    const started = Date.now();
    for await (const chunk of source.chunks(0, 2 << 20)) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    await until(() => stats.open === 0);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(stats.gets.length).toBe(4);
    expect(stats.gets.filter((g) => g.state === 'aborted').length).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 50));
    expect(stats.gets.length).toBe(4);
  });

  it('aborts the GETs still running and throws the reason when the signal fires', async () => {
    const { source, stats } = await open({ subRangeBytes: 64 << 10, concurrency: 4 }, BIG_KEY, BUCKET, (n) => (n > 0 ? 10_000 : 0));
    const ctl = new AbortController();
    const reason = new Error('deadline');
    const read = (async () => {
      for await (const _ of source.chunks(0, 2 << 20, ctl.signal)) {
        setTimeout(() => ctl.abort(reason), 20);
      }
    })();
    await expect(read).rejects.toBe(reason);
    await until(() => stats.open === 0);
    expect(stats.gets.filter((g) => g.state === 'aborted').length).toBeGreaterThanOrEqual(3);
  });

  it('asks for under a MiB when a read to the object end stops after its first chunk', async () => {
    const { source, stats } = await open({ subRangeBytes: 1 << 20, concurrency: 4 }, BIG_KEY);
    for await (const _ of source.chunks(1000, big.length)) break;
    await until(() => stats.open === 0);
    const asked = stats.gets.reduce((n, g) => n + (g.end - g.start), 0);
    expect(stats.gets.length).toBe(4);
    expect(asked).toBeLessThan(1 << 20);
  });

  it('reads a long range to the object end whole, growing its sub-ranges', async () => {
    const { source, stats } = await open({ subRangeBytes: 1 << 20, concurrency: 4 }, BIG_KEY);
    expect(same(await readAll(source, 1000, big.length), big.subarray(1000))).toBe(true);
    const sizes = stats.gets.map((g) => g.end - g.start);
    expect(sizes[0]).toBeLessThan(1 << 20);
    expect(Math.max(...sizes)).toBe(1 << 20);
  });
});

describe('S3Source pinning', () => {
  async function fresh(versioned: boolean) {
    const bucket = `${versioned ? VERSIONED : BUCKET}-${++buckets}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    if (versioned) await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: KEY, Body: small }));
    return bucket;
  }

  it('fails with SourceChangedError when the object is overwritten between sub-requests', async () => {
    const bucket = await fresh(false);
    const { source, stats } = await open({ subRangeBytes: 4096, concurrency: 2 }, KEY, bucket);
    const read = (async () => {
      let first = true;
      for await (const _ of source.chunks(0, 100_000)) {
        if (!first) continue;
        first = false;
        // The window of two GETs is open; the ones after it are sent after the overwrite.
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: KEY, Body: randomBytes(small.length) }));
      }
    })();
    await expect(read).rejects.toBeInstanceOf(SourceChangedError);
    await expect(read).rejects.toThrow(/overwritten after the job was planned/);
    await until(() => stats.open === 0);
  });

  it('keeps reading the planned version of a versioned object after an overwrite', async () => {
    const bucket = await fresh(true);
    const { source } = await open({ subRangeBytes: 4096, concurrency: 3 }, KEY, bucket);
    expect(source.identity).toMatch(/^version:/);
    const parts: Uint8Array[] = [];
    for await (const chunk of source.chunks(0, 100_000)) {
      if (!parts.length) await client.send(new PutObjectCommand({ Bucket: bucket, Key: KEY, Body: randomBytes(small.length) }));
      parts.push(chunk.slice());
    }
    expect(same(Buffer.concat(parts), small.subarray(0, 100_000))).toBe(true);
  });
});

describe('read concurrency setting', () => {
  it('comes from FANOUT_READ_CONCURRENCY, and a bad value names the variable', () => {
    expect(readConcurrencyFromEnv({})).toBe(4);
    expect(readConcurrencyFromEnv({ [READ_CONCURRENCY_ENV]: '8' })).toBe(8);
    for (const bad of ['0', '2.5', 'four', '1000']) {
      expect(() => readConcurrencyFromEnv({ [READ_CONCURRENCY_ENV]: bad })).toThrow(UsageError);
      expect(() => readConcurrencyFromEnv({ [READ_CONCURRENCY_ENV]: bad })).toThrow(/FANOUT_READ_CONCURRENCY/);
    }
  });

  it('is read by a source given no concurrency option', async () => {
    const before = process.env[READ_CONCURRENCY_ENV];
    process.env[READ_CONCURRENCY_ENV] = '6';
    try {
      const { source } = await open({});
      expect(source.concurrency).toBe(6);
    } finally {
      if (before === undefined) delete process.env[READ_CONCURRENCY_ENV];
      else process.env[READ_CONCURRENCY_ENV] = before;
    }
  });
});
