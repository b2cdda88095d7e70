/**
 * ByteSource over one S3 object, pinned to the version that was planned: every ranged
 * GET carries the version id or If-Match with the ETag, so an object overwritten
 * mid-job fails the read (SourceChangedError) instead of mixing two versions.
 *
 * One S3 stream tops out around 90 MB/s, so a range longer than one sub-range is read
 * with up to K sub-range GETs at once. The consumer still sees the bytes in order: the
 * oldest sub-range streams straight through as it arrives, the younger ones fill their
 * own buffers meanwhile, and a new GET starts only when the consumer has finished the
 * oldest one, so at most K sub-ranges (K x sub-range bytes) are in flight or buffered.
 * Leaving the iteration early or aborting the signal aborts every GET still running.
 *
 * A range that runs to the end of the object is how the text reader says "as far as the
 * record needs", and it usually stops a few bytes in: such a read starts with small
 * sub-ranges and doubles them, so an early stop has asked S3 for under a MiB, not K
 * full sub-ranges.
 */
import { setMaxListeners } from 'node:events';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SourceChangedError, UsageError } from '../../core/errors.ts';
import type { ByteSource } from '../../core/source.ts';
import type { InputObject, InputObjects, InputPin, PinnedInput } from '../inputs.ts';
import { httpStatus, isNotFound, makeS3Client } from './s3-client.ts';
import { READ_DEFAULTS, subRanges } from './read-plan.ts';

export { READ_DEFAULTS };

export const READ_CONCURRENCY_ENV = 'FANOUT_READ_CONCURRENCY';
const MAX_CONCURRENCY = 64;

export interface S3ReadOptions {
  /** sub-range GETs at once; default FANOUT_READ_CONCURRENCY, else READ_DEFAULTS.concurrency */
  concurrency?: number;
  subRangeBytes?: number;
  /** the largest single request the caller wants (a slice's length): caps subRangeBytes */
  partBytes?: number;
}

/** FANOUT_READ_CONCURRENCY, checked: a typo fails the read with a message naming it. */
export function readConcurrencyFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[READ_CONCURRENCY_ENV]?.trim();
  if (!raw) return READ_DEFAULTS.concurrency;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) {
    throw new UsageError(`${READ_CONCURRENCY_ENV} must be an integer from 1 to ${MAX_CONCURRENCY}, not ${JSON.stringify(raw)}`);
  }
  return n;
}

type Body = AsyncIterable<Uint8Array> & { destroy?(): void };

/** One sub-range: filled by its GET, drained by the consumer. */
interface SubRange {
  start: number;
  end: number;
  buf: Uint8Array;
  filled: number;
  done: boolean;
  failed: boolean;
  error: unknown;
  /** set while the consumer waits for this sub-range to make progress */
  wake: (() => void) | undefined;
}

export class S3Source implements ByteSource {
  readonly name: string;
  readonly size: number;
  readonly concurrency: number;
  readonly subRangeBytes: number;
  /** GETs sent, for tests and the benchmark */
  requests = 0;

  constructor(
    private readonly client: S3Client,
    readonly input: PinnedInput,
    options: S3ReadOptions | number = {},
  ) {
    const o: S3ReadOptions = typeof options === 'number' ? { partBytes: options } : options;
    this.name = s3Url(input.bucket, input.key);
    this.size = input.size;
    this.concurrency = o.concurrency ?? readConcurrencyFromEnv();
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new RangeError(`read concurrency must be a positive integer, not ${this.concurrency}`);
    this.subRangeBytes = Math.max(1, Math.min(o.subRangeBytes ?? READ_DEFAULTS.subRangeBytes, o.partBytes ?? Infinity));
  }

  /** What pins the content: the version id when the bucket is versioned, else the ETag. */
  get identity(): string {
    return this.input.versionId ? `version:${this.input.versionId}` : `etag:${this.input.etag}`;
  }

  async *chunks(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    if (end <= start) return;
    if (end - start <= this.subRangeBytes || this.concurrency === 1) {
      // One stream needs no buffers of ours: its chunks go straight to the consumer.
      for (let at = start; at < end; ) {
        const partEnd = Math.min(end, at + this.subRangeBytes);
        for await (const chunk of this.getRange(at, partEnd, signal)) {
          at += chunk.length;
          yield chunk;
        }
      }
      return;
    }
    yield* this.concurrentChunks(start, end, signal);
  }

  private async *concurrentChunks(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    signal?.throwIfAborted();
    // Ours, so that a consumer who stops early (break, throw) cancels the GETs too.
    const ctl = new AbortController();
    // Each GET listens on it twice (the SDK and fill): K > 4 is not a listener leak.
    setMaxListeners(2 * this.concurrency + 8, ctl.signal);
    const onAbort = (): void => ctl.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const ranges = subRanges(start, end, this.size, this.subRangeBytes);
    const window: SubRange[] = [];
    // Full-size buffers come back once their sub-range is consumed: K of them live, not one per GET.
    const spare: Uint8Array[] = [];
    const launch = (): void => {
      const next = ranges.next();
      if (next.done) return;
      const [from, to] = next.value;
      const bytes = to - from;
      const buf = bytes === this.subRangeBytes && spare.length ? spare.pop()! : new Uint8Array(bytes);
      const sub: SubRange = { start: from, end: to, buf, filled: 0, done: false, failed: false, error: undefined, wake: undefined };
      window.push(sub);
      void this.fill(sub, ctl.signal);
    };
    try {
      for (let i = 0; i < this.concurrency; i++) launch();
      while (window.length) {
        const sub = window[0]!;
        let delivered = 0;
        for (;;) {
          signal?.throwIfAborted();
          if (sub.filled > delivered) {
            const from = delivered;
            delivered = sub.filled;
            yield sub.buf.subarray(from, delivered);
          } else if (sub.failed) {
            throw sub.error;
          } else if (sub.done) {
            break;
          } else {
            await new Promise<void>((resolve) => (sub.wake = resolve));
          }
        }
        // The consumer has asked for the next chunk, so it is done with this buffer.
        window.shift();
        if (sub.buf.length === this.subRangeBytes) spare.push(sub.buf);
        launch();
      }
    } finally {
      ctl.abort();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Runs one sub-range's GET into its buffer; never rejects: the outcome is on `sub`. */
  private async fill(sub: SubRange, signal: AbortSignal): Promise<void> {
    const wake = (): void => {
      const w = sub.wake;
      sub.wake = undefined;
      w?.();
    };
    try {
      const body = await this.request(sub.start, sub.end, signal);
      // The SDK's abort covers the request; a body already streaming is ours to stop.
      const stop = (): void => body.destroy?.();
      signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const chunk of body) {
          if (sub.filled + chunk.length > sub.buf.length) throw this.wrongLength(sub.start, sub.end, sub.filled + chunk.length);
          sub.buf.set(chunk, sub.filled);
          sub.filled += chunk.length;
          wake();
        }
      } finally {
        signal.removeEventListener('abort', stop);
        body.destroy?.();
      }
      signal.throwIfAborted();
      if (sub.filled !== sub.end - sub.start) throw this.wrongLength(sub.start, sub.end, sub.filled);
      sub.done = true;
    } catch (e) {
      sub.failed = true;
      sub.error = e;
    } finally {
      wake();
    }
  }

  private async *getRange(start: number, end: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    signal?.throwIfAborted();
    const body = await this.request(start, end, signal);
    let got = 0;
    try {
      for await (const chunk of body) {
        signal?.throwIfAborted();
        got += chunk.length;
        yield chunk;
      }
    } finally {
      // Leaving early (the reader found its last record) must not leave the socket busy.
      body.destroy?.();
    }
    if (got !== end - start) throw this.wrongLength(start, end, got);
  }

  /** A pinned ranged GET: the same conditions and error mapping for every request. */
  private async request(start: number, end: number, signal?: AbortSignal): Promise<Body> {
    this.requests++;
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.input.bucket,
          Key: this.input.key,
          Range: `bytes=${start}-${end - 1}`,
          ...(this.input.versionId ? { VersionId: this.input.versionId } : { IfMatch: this.input.etag }),
        }),
        { abortSignal: signal },
      );
      return res.Body as unknown as Body;
    } catch (e) {
      throw this.translate(e);
    }
  }

  private wrongLength(start: number, end: number, got: number): SourceChangedError {
    return new SourceChangedError(`${this.name}: asked for bytes ${start}-${end - 1}, got ${got}: the object changed while the job ran`);
  }

  private translate(e: unknown): Error {
    const status = httpStatus(e);
    if (status === 412) return new SourceChangedError(`${this.name} was overwritten after the job was planned (ETag ${this.input.etag} no longer matches); upload it again to start a new job`);
    if (isNotFound(e)) return new SourceChangedError(`${this.name} was deleted after the job was planned`);
    return e as Error;
  }

  /** For the local runtime: fails if the object is no longer the planned one. */
  async assertUnchanged(identity: string): Promise<void> {
    const now = await describeObject(this.client, this.input.bucket, this.input.key);
    const same = now && (this.input.versionId ? now.versionId === this.input.versionId : now.etag === this.input.etag);
    if (!same || identity !== this.identity) throw new SourceChangedError(`${this.name} changed while the job ran; run again to start a new job`);
  }

  async close(): Promise<void> {}
}

export function s3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  return m ? { bucket: m[1]!, key: m[2]! } : undefined;
}

export async function describeObject(client: S3Client, bucket: string, key: string, pin: InputPin = {}): Promise<InputObject | undefined> {
  try {
    const r = await client.send(
      new HeadObjectCommand({ Bucket: bucket, Key: key, ...(pin.versionId ? { VersionId: pin.versionId } : pin.etag ? { IfMatch: pin.etag.startsWith('"') ? pin.etag : `"${pin.etag}"` } : {}) }),
    );
    return {
      bucket,
      key,
      size: r.ContentLength ?? 0,
      etag: r.ETag ?? '',
      ...(r.VersionId && r.VersionId !== 'null' ? { versionId: r.VersionId } : {}),
      metadata: r.Metadata ?? {},
    };
  } catch (e) {
    // 412: the ETag the event named is no longer the object's (overwritten since).
    if (isNotFound(e) || httpStatus(e) === 412) return undefined;
    throw e;
  }
}

/** The pipeline's view of input objects, over S3. */
export class S3InputObjects implements InputObjects {
  constructor(
    private readonly client: S3Client,
    private readonly options: S3ReadOptions = {},
  ) {}
  describe(bucket: string, key: string, pin?: InputPin): Promise<InputObject | undefined> {
    return describeObject(this.client, bucket, key, pin);
  }
  open(input: PinnedInput, partBytes?: number): S3Source {
    return new S3Source(this.client, input, { ...this.options, ...(partBytes ? { partBytes } : {}) });
  }
}

/** `fanout run s3://bucket/key`: the object as a local-runtime source. */
export async function openS3Url(url: string, client: S3Client = makeS3Client()): Promise<S3Source> {
  const loc = parseS3Url(url);
  if (!loc) throw new UsageError(`${url}: an S3 input is written s3://bucket/key`);
  const obj = await describeObject(client, loc.bucket, loc.key);
  if (!obj) throw new UsageError(`${url}: no such object`);
  return new S3Source(client, obj);
}
