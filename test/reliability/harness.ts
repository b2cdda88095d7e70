/**
 * The cloud pipeline's use cases driven in process, over any BlobStore (a local
 * directory, or S3 on moto) and input objects with S3's versioning rules, with the
 * delivery semantics of AWS: every write under the bucket raises an ObjectCreated event
 * (routed by lib/cloud/topology.ts), events and invocations arrive in a seeded random order,
 * a function that throws is retried twice and then its failure record reaches the
 * merger, as Lambda's on-failure destination does.
 */
import { createHash } from 'node:crypto';
import { SourceChangedError } from '../../lib/core/errors.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { startJob, type StartOutcome } from '../../lib/cloud/coordinator.ts';
import { ManifestReader } from '../../lib/job/documents.ts';
import { inputPointerKey, parseRedriveKey, resultKeyForInput } from '../../lib/job/keys.ts';
import { redriveJob } from '../../lib/cloud/redrive.ts';
import { resultKey, statusKey } from '../../lib/job/keys.ts';
import { type InputObject, type InputObjects, type InputPin, type PinnedInput, sameEtag } from '../../lib/cloud/inputs.ts';
import type { JobOptions, StackLimits } from '../../lib/job/options.ts';
import { onFailureRecord, onNodeCreated, recordInvokeFailure } from '../../lib/cloud/merger.ts';
import { scanSliceTask } from '../../lib/cloud/worker.ts';
import type { BlobInfo, BlobStore, Invoker, SliceTask } from '../../lib/job/ports.ts';
import { routeFor } from '../../lib/cloud/topology.ts';

export const BUCKET = 'bucket';

/**
 * `id`: the invocation, as Lambda's request id: kept by its retries, new for each delivery
 * (given when the event is first handled, unless the test gave one).
 */
export type Event = ({ kind: 'created'; key: string } | { kind: 'slice'; task: SliceTask }) & { attempt: number; id?: string };

/** Raises an event for every object a write creates or replaces, after the write landed. */
export class EventingStore implements BlobStore {
  onCreated: (key: string) => void = () => {};
  constructor(readonly inner: BlobStore) {}
  head(key: string): Promise<BlobInfo | undefined> {
    return this.inner.head(key);
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }
  async put(key: string, body: string | Uint8Array): Promise<void> {
    await this.inner.put(key, body);
    this.onCreated(key);
  }
  async putIfAbsent(key: string, body: string | Uint8Array): Promise<boolean> {
    const created = await this.inner.putIfAbsent(key, body);
    if (created) this.onCreated(key);
    return created;
  }
  async putIfMatch(key: string, body: string | Uint8Array, etag: string | undefined): Promise<boolean> {
    const written = await this.inner.putIfMatch(key, body, etag);
    if (written) this.onCreated(key);
    return written;
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
}

/**
 * Input objects in memory with S3's rules: every upload is a new version with its own
 * ETag; a read pinned to a version id gets that version, a read pinned to an ETag
 * (If-Match, an unversioned bucket) fails once the object was overwritten.
 */
export class VersionedInputs implements InputObjects {
  private readonly versions = new Map<string, { bytes: Uint8Array; etag: string; versionId: string; metadata: Record<string, string> }[]>();
  constructor(
    readonly versioned: boolean,
    /** bytes per ranged read */
    private readonly chunkBytes = 64 * 1024,
  ) {}

  upload(key: string, bytes: Uint8Array, metadata: Record<string, string> = {}): PinnedInput {
    const list = this.versions.get(key) ?? [];
    const v = { bytes, etag: `"${createHash('md5').update(bytes).digest('hex')}"`, versionId: `v${list.length + 1}`, metadata };
    // An unversioned bucket keeps only the latest.
    this.versions.set(key, this.versioned ? [...list, v] : [v]);
    return { bucket: BUCKET, key, size: bytes.length, etag: v.etag, ...(this.versioned ? { versionId: v.versionId } : {}) };
  }

  async describe(bucket: string, key: string, pin: InputPin = {}): Promise<InputObject | undefined> {
    const list = this.versions.get(key) ?? [];
    const v = pin.versionId ? list.find((x) => x.versionId === pin.versionId) : list.at(-1);
    if (v && pin.etag && !sameEtag(v.etag, pin.etag)) return undefined;
    return v && { bucket, key, size: v.bytes.length, etag: v.etag, ...(this.versioned ? { versionId: v.versionId } : {}), metadata: v.metadata };
  }

  open(input: PinnedInput): MemorySource & { identity: string } {
    const name = `s3://${input.bucket}/${input.key}`;
    const lookup = () => {
      const list = this.versions.get(input.key) ?? [];
      const v = input.versionId ? list.find((x) => x.versionId === input.versionId) : list.at(-1);
      if (!v || v.etag !== input.etag) throw new SourceChangedError(`${name} was overwritten after the job was planned (ETag ${input.etag} no longer matches)`);
      return v;
    };
    const step = this.chunkBytes;
    const source = new MemorySource(new Uint8Array(0), name, step) as MemorySource & { identity: string };
    Object.assign(source, { size: input.size, identity: input.versionId ? `version:${input.versionId}` : `etag:${input.etag}` });
    // Each chunk is a ranged GET with If-Match: the check runs per chunk, as on S3.
    source.chunks = async function* (start: number, end: number) {
      for (let at = start; at < end; at += step) {
        const v = lookup();
        yield v.bytes.subarray(at, Math.min(end, at + step));
      }
    };
    return source;
  }
}

export interface CloudOptions {
  store: BlobStore;
  /** the bucket the upload events name */
  bucket?: string;
  inputs: InputObjects;
  defaults?: JobOptions;
  fanin?: number;
  seed?: number;
  /** wraps the store the functions see, outside the event source: a write that lands raises its event even if the caller then fails */
  wrapStore?: (store: BlobStore) => BlobStore;
  /** wraps the in-process invoker (fault injection) */
  wrapInvoker?: (invoker: Invoker) => Invoker;
  /** Lambda's retries of a failed asynchronous invocation */
  retries?: number;
  limits?: StackLimits;
  now?: () => number;
}

/** One deployment of the pipeline over a store and input objects, with a queue of pending events. */
export class Cloud {
  readonly queue: Event[] = [];
  readonly outcomes: string[] = [];
  readonly errors: string[] = [];
  /** every key whose creation raised an event, in order */
  readonly created: string[] = [];
  readonly eventing: EventingStore;
  readonly invoker: Invoker;
  /** what the functions write through */
  readonly store: BlobStore;
  private rng: number;

  constructor(readonly opts: CloudOptions) {
    this.eventing = new EventingStore(opts.store);
    this.eventing.onCreated = (key) => {
      this.created.push(key);
      this.queue.push({ kind: 'created', key, attempt: 0 });
    };
    this.store = opts.wrapStore ? opts.wrapStore(this.eventing) : this.eventing;
    const direct: Invoker = { invoke: async (task) => void this.queue.push({ kind: 'slice', task, attempt: 0 }) };
    this.invoker = opts.wrapInvoker ? opts.wrapInvoker(direct) : direct;
    this.rng = opts.seed ?? 1;
  }

  /** Cold-start dependencies for one function call: no warm caches. */
  deps() {
    return {
      store: this.store,
      inputs: this.opts.inputs,
      invoker: this.invoker,
      defaults: this.opts.defaults ?? {},
      fanin: this.opts.fanin ?? 3,
      manifests: new ManifestReader(this.store, 0),
      ...(this.opts.limits ? { limits: this.opts.limits } : {}),
      ...(this.opts.now ? { now: this.opts.now } : {}),
    };
  }

  private random(): number {
    this.rng = (this.rng * 1103515245 + 12345) % 2147483648;
    return this.rng / 2147483648;
  }

  /** The S3 event of an upload (the bytes are already in `inputs`). */
  uploaded(key: string): void {
    this.queue.push({ kind: 'created', key, attempt: 0 });
  }

  startJob(key: string): Promise<StartOutcome> {
    return startJob(this.deps(), { bucket: this.opts.bucket ?? BUCKET, key });
  }

  private invocations = 0;

  /** Runs one event as its function would, with Lambda's retries and failure destination. */
  async handle(event: Event): Promise<void> {
    const e = event.id ? event : { ...event, id: `invocation-${++this.invocations}` };
    const invocation = e.id!;
    try {
      let outcome: string;
      if (e.kind === 'slice') outcome = (await scanSliceTask(this.deps(), e.task, { invocation })).outcome;
      else {
        const route = routeFor(e.key);
        const redrive = parseRedriveKey(e.key);
        if (route?.target === 'coordinator' && redrive) outcome = (await redriveJob(this.deps(), redrive.jobId, redrive.requestId)).outcome;
        else if (route?.target === 'coordinator') outcome = (await startJob(this.deps(), { bucket: this.opts.bucket ?? BUCKET, key: e.key, invocation })).outcome;
        else if (route?.target === 'merger') outcome = (await onNodeCreated(this.deps(), e.key)).outcome;
        else return;
      }
      this.outcomes.push(outcome);
    } catch (err) {
      this.errors.push(`${(err as Error).name}: ${(err as Error).message}`);
      if (e.attempt < (this.opts.retries ?? 2)) this.queue.push({ ...e, attempt: e.attempt + 1 });
      else if (e.kind === 'slice') await recordInvokeFailure(this.deps(), e.task.jobId, e.task.index, `${(err as Error).name}: ${(err as Error).message} (after ${e.attempt + 1} attempts)`);
      else {
        // A coordinator or merger whose event failed past its retries: its failure record, as the on-failure destination delivers it.
        const record = {
          requestContext: { functionArn: routeFor(e.key)?.target, condition: 'RetriesExhausted', approximateInvokeCount: e.attempt + 1 },
          requestPayload: { Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: this.opts.bucket ?? BUCKET }, object: { key: encodeURIComponent(e.key).replace(/%2F/g, '/') } } }] },
          responsePayload: { errorType: (err as Error).name, errorMessage: (err as Error).message },
        };
        this.outcomes.push((await onFailureRecord(this.deps(), JSON.stringify(record))).outcome);
      }
    }
  }

  /** Delivers pending events in a random order until none is left (or `until` says stop). */
  async drain(until?: () => boolean, limit = 100_000): Promise<void> {
    for (let n = 0; this.queue.length > 0 && !until?.(); n++) {
      if (n >= limit) throw new Error(`still ${this.queue.length} events after ${limit}: an event loop?`);
      const i = Math.floor(this.random() * this.queue.length);
      const e = this.queue[i]!;
      this.queue[i] = this.queue[this.queue.length - 1]!;
      this.queue.pop();
      await this.handle(e);
    }
  }

  /** Takes out pending events matching a predicate (to deliver them later, or never). */
  take(pred: (e: Event) => boolean): Event[] {
    const out: Event[] = [];
    for (let i = this.queue.length - 1; i >= 0; i--) if (pred(this.queue[i]!)) out.unshift(...this.queue.splice(i, 1));
    return out;
  }
}

export const text = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);
export const json = <T = Record<string, unknown>>(b: Uint8Array | undefined): T | undefined => (b ? (JSON.parse(new TextDecoder().decode(b)) as T) : undefined);

export interface FinalState {
  /** the job the input's pointer names */
  job?: string;
  pointer?: Record<string, unknown>;
  status?: { state: string; reason?: string; slice?: number; job: string };
  /** results/<key>.json */
  result?: { job: string; result: unknown; slices: number; records: number };
  /** jobs/<id>/result.json */
  jobResult?: { job: string; result: unknown };
  /** the level-0 partials of the job */
  leaves: string[];
  manifests: string[];
}

export async function finalState(store: BlobStore, inputKey: string): Promise<FinalState> {
  const pointer = json(await store.get(inputPointerKey(inputKey)));
  const job = pointer?.job as string | undefined;
  return {
    job,
    pointer,
    status: job ? json(await store.get(statusKey(job))) : undefined,
    result: json(await store.get(resultKeyForInput(inputKey))),
    jobResult: job ? json(await store.get(resultKey(job))) : undefined,
    leaves: job ? await store.list(`jobs/${job}/tree/0/`) : [],
    manifests: (await store.list('jobs/')).filter((k) => k.endsWith('/manifest.json')),
  };
}

/** Runs the pipeline once with no fault on a fresh store: what every faulty run must end with. */
export async function cleanRun(store: BlobStore, inputs: InputObjects, key: string, opts: Omit<CloudOptions, 'store' | 'inputs'>): Promise<FinalState> {
  const cloud = new Cloud({ ...opts, store, inputs });
  cloud.uploaded(key);
  await cloud.drain();
  if (cloud.errors.length > 0) throw new Error(`the clean run failed: ${cloud.errors.join('; ')}`);
  return finalState(store, key);
}
