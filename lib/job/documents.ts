/**
 * Every document of a job, in one place: its shape (a zod schema), its format version,
 * and the one function that reads it and the one that writes it. Nothing else parses a
 * job document or builds one by hand.
 *
 *   manifest       jobs/<id>/manifest.json   the plan, written once (both runtimes)
 *   status         jobs/<id>/status.json     running, done or failed (the cloud)
 *   input pointer  jobs/inputs/<key>.json    the newest job of an input (the cloud)
 *   partial        a merge-tree node (the cloud) or a line of a partial log (local)
 *   result         jobs/<id>/result.json     the result document the user gets
 *   result arrays  jobs/<id>/<id>.<field>.npy a large array of the result, beside each copy of it
 *   redrive answer jobs/<id>/redrive/<r>.json what the coordinator did with a redrive request (the cloud)
 *
 * Format versions: a document's `version` field, absent meaning 1 (documents written
 * before they said so). A reader takes only the versions it knows, so an older fanout
 * meeting a newer document says so instead of misreading it. Manifests, statuses and
 * pointers carry their version; partials and results leave version 1 unsaid: a partial's
 * content is compared with the same slice's from earlier runs (see partialContent), and
 * the result document is what the user reads.
 */
import * as z from 'zod/mini';
// Installs zod's English messages: a damaged document is reported with them.
import './options.ts';
import { FanoutError } from '../core/errors.ts';
import type { Partial, ResultDocument } from '../core/job.ts';
import { INPUT_FORMATS, type JobSpec, LAYOUT_KINDS, stableStringify } from '../core/plan.ts';
import { fromNpyBytes, npyBytes, ResultArray, type ResultArrayRef, resultArrays } from '../core/result-array.ts';
import type { BlobStore } from './ports.ts';
import { ByteWriter } from './json-numbers.ts';
import { inputPointerKey, manifestKey, redriveAnswerKey, resultKey, statusKey } from './keys.ts';

/** A document that is not what its key says it is: damaged, foreign, or of a newer format. */
export class DocumentError extends FanoutError {
  override name = 'DocumentError';
}

const decoder = new TextDecoder();
/**
 * A schema built on first use: zod makes a schema's parts when it is built, a few ms for
 * all of these in every process and worker thread that imports this module, most of which
 * never read a document (a thread only writes partials).
 */
function lazy<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}
const nonEmpty = () => z.string().check(z.minLength(1));
const count = () => z.int().check(z.minimum(0));
const positive = () => z.int().check(z.minimum(1));

interface Format<T> {
  /** what the document is, for messages: "not a job manifest" */
  what: string;
  version: number;
  /** whether writers say the version (see the module comment) */
  writesVersion: boolean;
  /** built when a document of its kind is first read (see lazy) */
  schema: () => z.ZodMiniType<T>;
}

function parseJson(body: Uint8Array, where: string, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(body));
  } catch (e) {
    throw new DocumentError(`${where}: not a ${what}: not JSON (${(e as Error).message})`);
  }
}

const isRecord = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);

/** Checks the version and the shape of a parsed document; the version is left out of what it returns. */
function check<T>(format: Format<T>, value: unknown, where: string): T {
  if (!isRecord(value)) throw new DocumentError(`${where}: not a ${format.what}`);
  const { version = 1, ...content } = value;
  if (version !== format.version) {
    throw new DocumentError(`${where}: a ${format.what} of format version ${JSON.stringify(version)}; this fanout reads version ${format.version} (is it older than the one that wrote it?)`);
  }
  const r = format.schema().safeParse(content);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`);
    const more = issues.length > 3 ? `; and ${issues.length - 3} more` : '';
    throw new DocumentError(`${where}: not a ${format.what} (${issues.slice(0, 3).join('; ')}${more})`);
  }
  return r.data;
}

function decode<T>(format: Format<T>, body: Uint8Array, where: string): T {
  return check(format, parseJson(body, where, format.what), where);
}

function encode<T extends object>(format: Format<T>, doc: T, pretty: boolean): string {
  const versioned = format.writesVersion ? { version: format.version, ...doc } : doc;
  return pretty ? JSON.stringify(versioned, null, 2) : JSON.stringify(versioned);
}

// ---------------------------------------------------------------------------------------
// The manifest

/** An input object as planned: the version (or ETag) every read is pinned to. */
export interface PinnedInput {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  versionId?: string;
  /** a job file (lib/job/job-file.ts): the objects it lists, in frame order, each pinned as it was planned */
  parts?: Omit<PinnedInput, 'parts'>[];
}

const pinnedObjectSchema = () => z.object({ bucket: nonEmpty(), key: nonEmpty(), size: count(), etag: z.string(), versionId: z.optional(z.string()) });
const pinnedInputSchema = (): z.ZodMiniType<PinnedInput> => {
  const object = pinnedObjectSchema();
  return z.object({ ...object.shape, parts: z.optional(z.array(object).check(z.minLength(1))) });
};

/** What a cloud job adds to its manifest: the pinned input and how its partials merge. */
export interface CloudPlan {
  input: PinnedInput;
  /** group size of the merge tree, fixed for the job when it is planned */
  fanin: number;
  /** where the result document is copied for the user */
  resultKey: string;
  /** ms since the epoch after which the job is failed (a restart of the job sets a new one in its status) */
  deadlineAt?: number;
  /** the most workers of the job running at once: the coordinator invokes this many, each finished slice the next */
  maxWorkers?: number;
  /** slices that may fail (bad bytes, or failing past their retries) with the job still finishing, its result marked incomplete */
  toleratedFailures?: number;
  /** the coordinator invocation that planned the job: only it (and its retries) invokes the first workers again while the job runs */
  coordinator?: string;
  /**
   * The second stage of a chain (rmsf; the first stage's analysis option `then` names it,
   * and the merger that finishes the first stage starts it): the first stage's job, which
   * the input pointer names and whose result key this job publishes.
   */
  chainOf?: string;
}

/**
 * The plan of a job, written create-only before any slice is scanned, and never changed:
 * the same shape in the local state dir and in the bucket, where a cloud job adds its
 * CloudPlan (flat, as cloud manifests have always been).
 */
export type Manifest = {
  spec: JobSpec;
  /** ms since the epoch; absent in state dirs written before local manifests had this shape */
  createdAt?: number;
} & (CloudPlan | { [K in keyof CloudPlan]?: undefined });

export type CloudManifest = Manifest & CloudPlan & { createdAt: number };

export const isCloudManifest = (m: Manifest): m is CloudManifest => m.input !== undefined && m.createdAt !== undefined;

// The spec is the planner's (lib/core/plan.ts), trusted in its details: what is checked
// here is what names the job and how many slices it has.
const specSchema = () =>
  z.pipe(
    z.looseObject({
      version: z.literal(1),
      id: nonEmpty(),
      input: z.looseObject({ name: z.string(), bytes: count(), identity: z.string() }),
      format: z.enum(INPUT_FORMATS),
      layout: z.looseObject({ kind: z.enum(LAYOUT_KINDS) }),
      rowsPerRecord: z.number(),
      frameRows: count(),
      analysis: z.looseObject({ name: nonEmpty(), options: z.record(z.string(), z.string()) }),
      onBadRecord: z.enum(['fail', 'skip']),
      sliceCount: positive(),
    }),
    z.transform((s) => s as unknown as JobSpec),
  );

const manifestFormat: Format<Manifest> = {
  what: 'job manifest',
  version: 1,
  writesVersion: true,
  schema: lazy(() =>
    z.pipe(
      z
        .object({
          spec: specSchema(),
          createdAt: z.optional(z.number()),
          input: z.optional(pinnedInputSchema()),
          fanin: z.optional(z.int().check(z.minimum(2))),
          resultKey: z.optional(nonEmpty()),
          deadlineAt: z.optional(z.number()),
          maxWorkers: z.optional(positive()),
          toleratedFailures: z.optional(count()),
          coordinator: z.optional(z.string()),
          chainOf: z.optional(nonEmpty()),
        })
        .check(
          z.refine((m) => [m.input, m.fanin, m.resultKey].every((x) => x === undefined) || [m.input, m.fanin, m.resultKey, m.createdAt].every((x) => x !== undefined), {
            message: 'a cloud manifest has input, fanin, resultKey and createdAt together',
          }),
        ),
      z.transform((m) => m as Manifest),
    ),
  ),
};

export function newManifest(spec: JobSpec, createdAt: number): Manifest;
export function newManifest(spec: JobSpec, createdAt: number, cloud: CloudPlan): CloudManifest;
export function newManifest(spec: JobSpec, createdAt: number, cloud?: CloudPlan): Manifest {
  return cloud ? { spec, createdAt, ...cloud } : { spec, createdAt };
}

export function decodeManifest(body: Uint8Array, where: string): Manifest {
  const value = parseJson(body, where, manifestFormat.what);
  // Local state dirs of earlier versions hold the bare spec, which has no `spec` of its own.
  const upgraded = isRecord(value) && !('spec' in value) && 'sliceCount' in value ? { spec: value } : value;
  return check(manifestFormat, upgraded, where);
}

/** Writes the manifest create-only: false if the job has one already (its id is the plan's hash). */
export async function writeManifest(store: BlobStore, manifest: Manifest): Promise<boolean> {
  return store.putIfAbsent(manifestKey(manifest.spec.id), encode(manifestFormat, manifest, true));
}

export async function readManifest(store: BlobStore, jobId: string): Promise<Manifest | undefined> {
  const body = await store.get(manifestKey(jobId));
  return body ? decodeManifest(body, manifestKey(jobId)) : undefined;
}

export class UnknownJobError extends Error {
  override name = 'UnknownJobError';
}

/** Cloud manifests never change once written, so a warm function may keep them. */
export class ManifestReader {
  private readonly cache = new Map<string, CloudManifest>();
  constructor(
    private readonly store: BlobStore,
    private readonly capacity = 32,
  ) {}

  async read(jobId: string): Promise<CloudManifest> {
    const hit = this.cache.get(jobId);
    if (hit) return hit;
    const manifest = await readManifest(this.store, jobId);
    if (!manifest) throw new UnknownJobError(`job ${jobId} has no manifest (${manifestKey(jobId)})`);
    if (!isCloudManifest(manifest)) throw new DocumentError(`${manifestKey(jobId)}: the manifest of a local run, not of a cloud job`);
    if (this.capacity > 0) {
      if (this.cache.size >= this.capacity) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(jobId, manifest);
    }
    return manifest;
  }
}

// ---------------------------------------------------------------------------------------
// The status

/**
 * `superseded`: a newer upload of the input owns its pointer and its results/ copy, so
 * this job publishes nothing there (its own result.json may exist).
 */
export type JobState = 'running' | 'done' | 'failed' | 'superseded';

/** A slice a job finished without (tolerated failures): its byte range and why. */
export interface FailedSlice {
  index: number;
  start: number;
  end: number;
  reason: string;
}

export interface JobStatus {
  state: JobState;
  job: string;
  input: { bucket: string; key: string };
  slices?: number;
  /** the slice that failed */
  slice?: number;
  reason?: string;
  resultKey?: string;
  /** when the job is failed if it has not finished, ISO 8601 */
  deadline?: string;
  /** done, but without these slices (their failures were tolerated): the result is incomplete */
  failedSlices?: FailedSlice[];
  /** done as the first stage of a chain: the job that continues it, whose result is the answer */
  next?: string;
  /** backup runs of straggling slices the job started (lib/cloud/stragglers.ts) */
  backups?: number;
  /** when it was written, ISO 8601 */
  at: string;
}

const failedSliceSchema = () => z.object({ index: count(), start: count(), end: count(), reason: z.string() });

const statusFormat: Format<JobStatus> = {
  what: 'job status',
  version: 1,
  writesVersion: true,
  schema: lazy(() =>
    z.object({
      state: z.enum(['running', 'done', 'failed', 'superseded']),
      job: nonEmpty(),
      input: z.object({ bucket: z.string(), key: z.string() }),
      slices: z.optional(count()),
      slice: z.optional(count()),
      reason: z.optional(z.string()),
      resultKey: z.optional(z.string()),
      deadline: z.optional(z.string()),
      failedSlices: z.optional(z.array(failedSliceSchema())),
      next: z.optional(nonEmpty()),
      backups: z.optional(count()),
      at: z.string(),
    }),
  ),
};

export async function readStatus(store: BlobStore, jobId: string): Promise<JobStatus | undefined> {
  const body = await store.get(statusKey(jobId));
  return body ? decode(statusFormat, body, statusKey(jobId)) : undefined;
}

export async function writeStatus(store: BlobStore, status: Omit<JobStatus, 'at'>, now = Date.now()): Promise<void> {
  await store.put(statusKey(status.job), encodeStatus(status, now));
}

export function encodeStatus(status: Omit<JobStatus, 'at'>, now = Date.now()): string {
  return encode(statusFormat, { ...status, at: new Date(now).toISOString() }, true);
}

/** Marks a job failed. A later success cannot undo it: the merger checks before committing. */
export async function markFailed(store: BlobStore, manifest: CloudManifest, reason: string, slice?: number): Promise<void> {
  await writeStatus(store, {
    state: 'failed',
    job: manifest.spec.id,
    input: { bucket: manifest.input.bucket, key: manifest.input.key },
    slices: manifest.spec.sliceCount,
    ...(slice !== undefined ? { slice } : {}),
    reason,
  });
}

/** A user-facing reason: FanoutErrors carry their own message, anything else its name too. */
export function reasonOf(e: unknown): string {
  if (e instanceof FanoutError) return e.message;
  const err = e instanceof Error ? e : new Error(String(e));
  return `${err.name}: ${err.message}`;
}

// ---------------------------------------------------------------------------------------
// A tail helper's claim

/** jobs/<id>/tail/<kind>-<index>.json (lib/cloud/stragglers.ts): when a helper took the slice, ms since the epoch. */
export interface TailClaimDoc {
  at: number;
}

const tailClaimFormat: Format<TailClaimDoc> = { what: 'tail claim', version: 1, writesVersion: false, schema: lazy(() => z.object({ at: z.number() })) };

export const encodeTailClaim = (claim: TailClaimDoc): string => encode(tailClaimFormat, claim, false);
export const decodeTailClaim = (body: Uint8Array, where: string): TailClaimDoc => decode(tailClaimFormat, body, where);

// ---------------------------------------------------------------------------------------
// A redrive's answer

/**
 * jobs/<id>/redrive/<request id>.json: what the coordinator did with a `fanout redrive`
 * request (redrive/<id>/<request id>.json): `redriven` (the job is running again, with
 * `invoked` slices invoked and `merges` lost merges fired again) or `refused` and why.
 */
export interface RedriveAnswer {
  job: string;
  request: string;
  outcome: 'redriven' | 'refused';
  reason?: string;
  invoked?: number;
  merges?: number;
  at: string;
}

const redriveAnswerFormat: Format<RedriveAnswer> = {
  what: 'redrive answer',
  version: 1,
  writesVersion: true,
  schema: lazy(() => z.object({ job: nonEmpty(), request: nonEmpty(), outcome: z.enum(['redriven', 'refused']), reason: z.optional(z.string()), invoked: z.optional(count()), merges: z.optional(count()), at: z.string() })),
};

export async function writeRedriveAnswer(store: BlobStore, answer: Omit<RedriveAnswer, 'at'>, now = Date.now()): Promise<void> {
  await store.put(redriveAnswerKey(answer.job, answer.request), encode(redriveAnswerFormat, { ...answer, at: new Date(now).toISOString() }, true));
}

export async function readRedriveAnswer(store: BlobStore, jobId: string, requestId: string): Promise<RedriveAnswer | undefined> {
  const key = redriveAnswerKey(jobId, requestId);
  const body = await store.get(key);
  return body ? decode(redriveAnswerFormat, body, key) : undefined;
}

// ---------------------------------------------------------------------------------------
// The input pointer

/**
 * jobs/inputs/<key>.json: the newest job of an input (the coordinator writes it for every
 * job it starts or restarts), so a user who knows only what they uploaded finds its status
 * and the merger knows whether a job is still the newest; or, when the newest upload could
 * not be planned (bad options, unreadable header), why.
 */
export type InputPointer =
  | {
      job: string;
      input: PinnedInput;
      /** the job's status and result keys, for someone reading the bucket */
      status: string;
      result: string;
      upload?: UploadMark;
    }
  | {
      state: 'failed';
      input: { bucket: string; key: string; etag: string; versionId?: string };
      reason: string;
      at: string;
      upload?: UploadMark;
    };

/**
 * What tells one upload of a key from another beyond its version or ETag: the S3 event's
 * `sequencer` (ordered for one key: a larger one is a later upload), and the id
 * `fanout submit` attaches as metadata (fanout-upload-id), which tells two uploads of the
 * same bytes to an unversioned bucket apart.
 */
export interface UploadMark {
  sequencer?: string;
  id?: string;
}

const uploadMarkSchema = () => z.object({ sequencer: z.optional(z.string()), id: z.optional(z.string()) });

const pointerFormat: Format<InputPointer> = {
  what: 'input pointer',
  version: 1,
  writesVersion: true,
  schema: lazy(() =>
    z.union([
      z.object({ job: nonEmpty(), input: pinnedInputSchema(), status: z.string(), result: z.string(), upload: z.optional(uploadMarkSchema()) }),
      z.object({
        state: z.literal('failed'),
        input: z.object({ bucket: z.string(), key: z.string(), etag: z.string(), versionId: z.optional(z.string()) }),
        reason: z.string(),
        at: z.string(),
        upload: z.optional(uploadMarkSchema()),
      }),
    ]),
  ),
};

/** The pointer that names a job as its input's newest. */
export function jobPointer(manifest: CloudManifest, upload?: UploadMark): InputPointer {
  return { job: manifest.spec.id, input: manifest.input, status: statusKey(manifest.spec.id), result: manifest.resultKey, ...(upload && Object.keys(upload).length > 0 ? { upload } : {}) };
}

/** The pointer that says why the newest upload of an input started no job. */
export function failedPointer(input: { bucket: string; key: string; etag: string; versionId?: string }, reason: string, now = Date.now(), upload?: UploadMark): InputPointer {
  return {
    state: 'failed',
    input: { bucket: input.bucket, key: input.key, etag: input.etag, ...(input.versionId ? { versionId: input.versionId } : {}) },
    reason,
    at: new Date(now).toISOString(),
    ...(upload && Object.keys(upload).length > 0 ? { upload } : {}),
  };
}

/** The job a pointer names; undefined when the upload could not be planned. */
export const pointedJob = (p: InputPointer): string | undefined => ('job' in p ? p.job : undefined);

export async function readPointer(store: BlobStore, inputKey: string): Promise<InputPointer | undefined> {
  const body = await store.get(inputPointerKey(inputKey));
  return body ? decode(pointerFormat, body, inputPointerKey(inputKey)) : undefined;
}

export async function writePointer(store: BlobStore, pointer: InputPointer): Promise<void> {
  await store.put(inputPointerKey(pointer.input.key), encodePointer(pointer));
}

export function encodePointer(pointer: InputPointer): string {
  return encode(pointerFormat, pointer, true);
}

// ---------------------------------------------------------------------------------------
// Partials

/** A merge-tree node of the cloud: a level-0 partial, or the fold of a group (level > 0). */
export type TreePartial = Partial & { level?: number };

/** A partial's header line, when its state holds bytes: how many follow the line. */
type EncodedPartial = TreePartial & { attached?: number };

const offsetProblem = () => z.object({ offset: z.number(), problem: z.string() });

const partialFormat: Format<EncodedPartial> = {
  what: 'partial',
  version: 1,
  writesVersion: false,
  // Loose: a field this version does not know is kept, so that comparing two partials
  // of one slice (partialContent) compares all of what they say.
  schema: lazy(() =>
    z.looseObject({
      job: nonEmpty(),
      index: count(),
      slices: z.optional(positive()),
      level: z.optional(count()),
      attached: z.optional(count()),
      start: count(),
      end: count(),
      rows: z.number(),
      skipped: z.number(),
      skippedExamples: z.array(offsetProblem()),
      state: z.unknown(),
      run: z.looseObject({
        bytesRead: z.number(),
        startedAt: z.number(),
        finishedAt: z.number(),
        worker: z.string(),
        records: z.optional(z.number()),
        coldStart: z.optional(z.boolean()),
        peakRssBytes: z.optional(z.number()),
      }),
    }),
  ),
};

export class PartialConflictError extends FanoutError {
  override name = 'PartialConflictError';
}

/** The part of a partial that must be the same every time the slice is scanned. */
export function partialContent(p: Partial): string {
  const { run: _run, ...content } = p;
  return stableStringify({ ...content, state: bytesAsText(content.state) });
}

/*
 * Binary state. An analysis may encode parts of its state as bytes (Uint8Array values
 * anywhere in the object its encode() returns: mean-structure's float64 sums, megabytes
 * for a million atoms). Such a partial is a header line and the bytes: the partial as
 * JSON with every Uint8Array replaced by {"$bytes": [offset, length]} into the bytes and
 * with `attached` (their total length), a newline, then the bytes. JSON text never holds
 * a raw newline, so a body without one is a partial of plain JSON, as before. In base64
 * inside the JSON, float64 sums of float32 data would take 2.7 times a frame's bytes, and
 * encoding and decoding them cost more than scanning the frame.
 */
const NL = 0x0a;
const BYTES = '$bytes';
const textEncoder = new TextEncoder();

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return !!x && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x);
}

/** `value` with its Uint8Arrays moved to `chunks`; the same object when it holds none. */
function detach(value: unknown, chunks: Uint8Array[], at: { bytes: number }): unknown {
  if (value instanceof Uint8Array) {
    chunks.push(value);
    const ref = { [BYTES]: [at.bytes, value.length] };
    at.bytes += value.length;
    return ref;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const d = typeof v === 'object' && v !== null ? detach(v, chunks, at) : v;
      if (d !== v) (out ??= value.slice())[i] = d;
    });
    return out ?? value;
  }
  if (isPlainObject(value)) {
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const d = typeof v === 'object' && v !== null ? detach(v, chunks, at) : v;
      if (d !== v) (out ??= { ...value })[k] = d;
    }
    return out ?? value;
  }
  return value;
}

/** `value` with every {"$bytes": [offset, length]} replaced by that view of `bytes`. */
function attach(value: unknown, bytes: Uint8Array, where: string): unknown {
  if (Array.isArray(value)) return value.map((v) => attach(v, bytes, where));
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === BYTES) {
      const ref = value[BYTES];
      const [offset, length] = Array.isArray(ref) ? (ref as unknown[]) : [];
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || (offset as number) < 0 || (length as number) < 0 || (offset as number) + (length as number) > bytes.length) {
        throw new DocumentError(`${where}: not a partial (a binary field that is not in its bytes)`);
      }
      return bytes.subarray(offset as number, (offset as number) + (length as number));
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = attach(value[k], bytes, where);
    return out;
  }
  return value;
}

/** `value` with its Uint8Arrays as base64 text: for comparing content. */
function bytesAsText(value: unknown): unknown {
  if (value instanceof Uint8Array) return { [BYTES]: Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64') };
  if (Array.isArray(value)) return value.map(bytesAsText);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bytesAsText(v)]));
  return value;
}

/**
 * A partial's header line: the partial with its binary fields still {"$bytes": ...}, and
 * how many bytes follow the line, or undefined for a partial of plain JSON (0 when its
 * binary fields are all empty: a header line, no bytes, and still the newline after them).
 */
export function decodePartialHeader(line: Uint8Array, where: string): { partial: TreePartial; attached: number | undefined } {
  const { attached, ...partial } = decode(partialFormat, line, where);
  return { partial: partial as TreePartial, attached };
}

export function decodePartial(body: Uint8Array, where: string): TreePartial {
  const nl = body.indexOf(NL);
  if (nl < 0) return decode(partialFormat, body, where);
  const { partial, attached = 0 } = decodePartialHeader(body.subarray(0, nl), where);
  if (body.length !== nl + 1 + attached) throw new DocumentError(`${where}: not a partial (its header says ${attached} bytes follow, ${body.length - nl - 1} do)`);
  return { ...partial, state: attach(partial.state, body.subarray(nl + 1), where) };
}

/**
 * A partial as one JSON text (a merge-tree object, or a line of a partial log), or, when
 * its state holds bytes, as a header line and the bytes (see above).
 */
export function encodePartial(p: TreePartial): string | Uint8Array {
  const parts = encodePartialParts(p);
  if (typeof parts === 'string') return parts;
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of parts) {
    out.set(b, offset);
    offset += b.length;
  }
  return out;
}

/**
 * encodePartial's bytes as the pieces they are made of (the header line, then each binary
 * field as the analysis encoded it), for a writer that writes them without a copy.
 */
export function encodePartialParts(p: TreePartial): string | Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const at = { bytes: 0 };
  const state = detach(p.state, chunks, at);
  if (chunks.length === 0) return encode(partialFormat, p, false);
  return [textEncoder.encode(`${encode(partialFormat, { ...p, state, attached: at.bytes }, false)}\n`), ...chunks];
}

// ---------------------------------------------------------------------------------------
// The result document

const resultFormat: Format<ResultDocument> = {
  what: 'fanout result document',
  version: 1,
  writesVersion: false,
  schema: lazy(() =>
    z.pipe(
      z.looseObject({
        analysis: nonEmpty(),
        job: nonEmpty(),
        input: z.looseObject({ path: z.string(), bytes: count(), format: z.string(), shape: z.optional(z.array(count())) }),
        slices: positive(),
        records: count(),
        skipped: count(),
        skippedExamples: z.optional(z.array(offsetProblem())),
        resumedSlices: count(),
        elapsedMs: z.number(),
        trajectory: z.optional(z.unknown()),
        result: z.unknown(),
      }),
      z.transform((d) => d as unknown as ResultDocument),
    ),
  ),
};

/** A result document from its bytes: `where` names it in the message when it is none. */
export function decodeResult(body: Uint8Array, where: string): ResultDocument {
  return decode(resultFormat, body, where);
}

// Encoded once per document: the runtime writes it to the state dir and the CLI prints it.
const encodedResults = new WeakMap<ResultDocument, Uint8Array>();

/**
 * A result document as text: indented, but an array of numbers (or of arrays of numbers)
 * on one line: mean-structure's million positions are 3 × 10^6 numbers, and indenting them
 * would double the bytes.
 */
export function encodeResult(doc: ResultDocument): string {
  return decoder.decode(encodeResultBytes(doc));
}

/**
 * encodeResult's text as UTF-8 bytes, written without building it as a string: numbers go
 * straight to bytes (lib/job/json-numbers.ts, the characters JSON.stringify gives), which
 * for a million atoms saves a string of tens of MB and its copies.
 */
export function encodeResultBytes(doc: ResultDocument): Uint8Array {
  let bytes = encodedResults.get(doc);
  if (bytes === undefined) {
    const out = new ByteWriter();
    prettyJson(doc, '', out);
    bytes = out.bytes();
    encodedResults.set(doc, bytes);
  }
  return bytes;
}

const isNumbers = (x: unknown): boolean => Array.isArray(x) && x.every((v) => typeof v === 'number' || v === null || isNumbers(v));

/** A numeric array (of numbers, nulls or such arrays) as JSON.stringify writes it. */
function compactNumbers(value: unknown[], out: ByteWriter): void {
  // Room for all of it at once (about 20 bytes a number): no copies as the text grows.
  const first = value[0];
  out.reserve(20 * value.length * (Array.isArray(first) ? first.length + 1 : 1));
  out.byte(0x5b); // [
  for (let i = 0; i < value.length; i++) {
    if (i > 0) out.byte(0x2c); // ,
    // A number is read by numberOf itself (read here, it would be boxed as a heap number).
    if (out.numberOf(value, i)) continue;
    const v = value[i];
    if (Array.isArray(v)) compactNumbers(v, out);
    else out.text('null');
  }
  out.byte(0x5d); // ]
}

/** JSON.stringify(value, null, 2), but numeric arrays compact. Plain data only (no toJSON but a ResultArray's, no cycles). */
function prettyJson(value: unknown, indent: string, out: ByteWriter): void {
  if (value instanceof ResultArray) return prettyJson(value.toJSON(), indent, out);
  if (Array.isArray(value)) {
    if (value.length === 0) return out.text('[]');
    if (isNumbers(value)) return compactNumbers(value, out);
    const inner = `${indent}  `;
    out.text(`[\n${inner}`);
    value.forEach((v, i) => {
      if (i > 0) out.text(`,\n${inner}`);
      if (v === undefined || typeof v === 'function') out.text('null');
      else prettyJson(v, inner, out);
    });
    return out.text(`\n${indent}]`);
  }
  if (value && typeof value === 'object') {
    const inner = `${indent}  `;
    const fields = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function');
    if (fields.length === 0) return out.text('{}');
    out.text('{\n');
    fields.forEach(([k, v], i) => {
      if (i > 0) out.text(',\n');
      out.text(`${inner}${JSON.stringify(k)}: `);
      prettyJson(v, inner, out);
    });
    return out.text(`\n${indent}}`);
  }
  out.text(JSON.stringify(value));
}

/**
 * jobs/<id>/result.json. `arrays`: with the result's large arrays read from their .npy
 * files (see below), as ResultArrays; otherwise they stay as the document names them.
 */
export async function readResult(store: BlobStore, jobId: string, opts: { arrays?: boolean } = {}): Promise<ResultDocument | undefined> {
  const body = await store.get(resultKey(jobId));
  if (!body) return undefined;
  const doc = decodeResult(body, resultKey(jobId));
  return opts.arrays ? readResultArrays(store, resultKey(jobId), doc) : doc;
}

/**
 * Writes jobs/<id>/result.json, after the .npy files of its large arrays (so a result that
 * exists has its arrays). The local runtime replaces it on every run; the cloud commits it
 * create-only (whichever merger commits first wins) and learns whether it did: the arrays
 * of one job are the same bytes whichever merger writes them.
 */
export async function writeResult(store: BlobStore, doc: ResultDocument, mode: 'replace' | 'create-only' = 'replace'): Promise<boolean> {
  await writeResultArrays(store, resultKey(doc.job), doc);
  if (mode === 'create-only') return store.putIfAbsent(resultKey(doc.job), encodeResultBytes(doc));
  await store.put(resultKey(doc.job), encodeResultBytes(doc));
  return true;
}

/*
 * Large result arrays (lib/core/result-array.ts). A result array of more than
 * RESULT_INLINE_MAX values is a .npy file (float64, C order, its shape) beside the result
 * document, which names it instead of holding its numbers:
 *
 *   "mean": { "$npy": "<job id>.mean.npy", "shape": [1000000, 3], "dtype": "<f8" }
 *
 * The name is relative to the document's own folder (or key prefix), and the same in
 * every copy of the document (jobs/<id>/result.json, the cloud's results/ copy, --out
 * FILE): each copy has the file beside it.
 */

/** `name` beside the document at `documentKey`: the same folder (key prefix). */
export const besideKey = (documentKey: string, name: string): string => `${documentKey.slice(0, documentKey.lastIndexOf('/') + 1)}${name}`;

const ARRAY_FILE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*\.npy$/;

/** The .npy files of a result document's large arrays: name and bytes. */
export function resultArrayFiles(doc: ResultDocument): { name: string; bytes: Uint8Array }[] {
  return resultArrays(doc.result).map((a) => ({ name: a.file!, bytes: npyBytes(a) }));
}

/** Writes the .npy files of `doc`'s large arrays beside `documentKey`. */
export async function writeResultArrays(store: BlobStore, documentKey: string, doc: ResultDocument): Promise<void> {
  for (const { name, bytes } of resultArrayFiles(doc)) await store.put(besideKey(documentKey, name), bytes);
}

/**
 * `doc` (read from `documentKey`) with every array it names as a .npy file read from beside
 * it, as a ResultArray. A file that is missing or not a float64 array of the named shape is
 * a DocumentError.
 */
export async function readResultArrays(store: BlobStore, documentKey: string, doc: ResultDocument): Promise<ResultDocument> {
  return { ...doc, result: await withArrays(doc.result, documentKey, (name) => store.get(besideKey(documentKey, name))) };
}

/** `value` with each {"$npy": name, shape, dtype} replaced by the array `read(name)` gives. */
export async function withArrays(value: unknown, where: string, read: (name: string) => Promise<Uint8Array | undefined>): Promise<unknown> {
  if (Array.isArray(value)) {
    if (!value.some((v) => v && typeof v === 'object')) return value;
    return Promise.all(value.map((v) => withArrays(v, where, read)));
  }
  if (!isPlainObject(value)) return value;
  if ('$npy' in value) {
    const { $npy: name, shape } = value as { [K in keyof ResultArrayRef]?: unknown };
    if (typeof name !== 'string' || !ARRAY_FILE.test(name) || !Array.isArray(shape)) throw new DocumentError(`${where}: not a result array reference: ${JSON.stringify(value)}`);
    const bytes = await read(name);
    if (!bytes) throw new DocumentError(`${where}: the result array ${name} is missing beside it`);
    let array: ResultArray;
    try {
      array = fromNpyBytes(name, bytes);
    } catch (e) {
      throw new DocumentError(`${where}: ${name}: ${(e as Error).message}`);
    }
    if (array.shape.join() !== shape.join()) throw new DocumentError(`${where}: ${name} has shape (${array.shape.join(', ')}), the document says (${shape.join(', ')})`);
    array.file = name;
    return array;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = await withArrays(v, where, read);
  return out;
}
