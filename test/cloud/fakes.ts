/**
 * Fakes of our own ports for the pipeline tests: an in-memory BlobStore that counts
 * requests and reports created keys the way S3 raises ObjectCreated events, and input
 * objects over bytes in memory.
 */
import { createHash } from 'node:crypto';
import { MemorySource } from '../../lib/core/source.ts';
import type { InputObject, InputObjects, InputPin, PinnedInput } from '../../lib/cloud/inputs.ts';
import type { BlobInfo, BlobStore } from '../../lib/job/ports.ts';

export type Op = 'head' | 'get' | 'put' | 'putIfAbsent' | 'putIfMatch' | 'list';

export class CountingStore implements BlobStore {
  readonly objects = new Map<string, Uint8Array>();
  /** all keys, sorted, so that a list costs a binary search rather than a scan */
  private readonly sorted: string[] = [];
  readonly counts: Record<Op, number> = { head: 0, get: 0, put: 0, putIfAbsent: 0, putIfMatch: 0, list: 0 };
  /** Called for every object a write creates or replaces, like an S3 event. */
  onCreated: (key: string) => void = () => {};
  /** Keys returned by one list call, as S3 returns at most 1000 per page. */
  constructor(private readonly pageSize = 1000) {}

  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    this.counts.head++;
    const b = this.objects.get(key);
    return b ? { key, size: b.length, etag: createHash('md5').update(b).digest('hex') } : undefined;
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    this.counts.get++;
    return this.objects.get(key);
  }
  private insert(key: string): void {
    if (this.objects.has(key)) return;
    this.sorted.splice(this.lowerBound(key), 0, key);
  }
  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  async put(key: string, body: string | Uint8Array): Promise<void> {
    this.counts.put++;
    this.insert(key);
    this.objects.set(key, typeof body === 'string' ? new TextEncoder().encode(body) : body);
    this.onCreated(key);
  }
  async putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    this.counts.putIfAbsent++;
    if (this.objects.has(key)) return false;
    this.insert(key);
    this.objects.set(key, typeof body === 'string' ? new TextEncoder().encode(body) : body);
    this.onCreated(key);
    return true;
  }
  async putIfMatch(key: string, body: string | Uint8Array, etag: string | undefined): Promise<boolean> {
    this.counts.putIfMatch++;
    const b = this.objects.get(key);
    if (etag === undefined ? b !== undefined : !b || createHash('md5').update(b).digest('hex') !== etag) return false;
    this.insert(key);
    this.objects.set(key, typeof body === 'string' ? new TextEncoder().encode(body) : body);
    this.onCreated(key);
    return true;
  }
  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for (let i = this.lowerBound(prefix); i < this.sorted.length && this.sorted[i]!.startsWith(prefix); i++) keys.push(this.sorted[i]!);
    this.counts.list += Math.max(1, Math.ceil(keys.length / this.pageSize));
    return keys;
  }
  text(key: string): string | undefined {
    const b = this.objects.get(key);
    return b && new TextDecoder().decode(b);
  }
}

/** Input objects in memory; `reads` counts ranged reads (GET requests on S3). */
export class MemoryInputs implements InputObjects {
  readonly objects = new Map<string, { bytes: Uint8Array; etag: string; metadata: Record<string, string> }>();
  reads = 0;

  add(bucket: string, key: string, bytes: Uint8Array, metadata: Record<string, string> = {}): void {
    this.objects.set(`${bucket}/${key}`, { bytes, etag: `"${createHash('md5').update(bytes).digest('hex')}"`, metadata });
  }

  async describe(bucket: string, key: string, pin: InputPin = {}): Promise<InputObject | undefined> {
    const o = this.objects.get(`${bucket}/${key}`);
    if (o && pin.etag && o.etag.replace(/"/g, '') !== pin.etag.replace(/"/g, '')) return undefined;
    return o && { bucket, key, size: o.bytes.length, etag: o.etag, metadata: o.metadata };
  }

  open(input: PinnedInput): MemorySource & { identity: string } {
    const o = this.objects.get(`${input.bucket}/${input.key}`)!;
    const source = new MemorySource(o.bytes, `s3://${input.bucket}/${input.key}`) as MemorySource & { identity: string };
    source.identity = `etag:${input.etag}`;
    const chunks = source.chunks.bind(source);
    source.chunks = (start: number, end: number) => {
      this.reads++;
      return chunks(start, end);
    };
    return source;
  }
}
