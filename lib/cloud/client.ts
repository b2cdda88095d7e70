/**
 * What a user's machine does with a deployed pipeline, through the bucket alone: find the
 * job an upload started, see where a job stands, follow it to its result. `fanout submit`
 * and `fanout status` are thin commands over these (and aws/upload.ts, aws/stack.ts).
 */
import { FanoutError, UsageError } from '../core/errors.ts';
import type { ResultDocument } from '../core/job.ts';
import { randomUUID } from 'node:crypto';
import { decodeManifest, decodeResult, readResultArrays, type InputPointer, type JobStatus, ManifestReader, readPointer, readRedriveAnswer, readStatus, type RedriveAnswer, UnknownJobError } from '../job/documents.ts';
import { inputPointerKey, levelPrefix, manifestKey, parseNodeKey, parseTailClaim, redriveRequestKey, resultKey, tailPrefix } from '../job/keys.ts';
import { type JobSpec, sliceBounds } from '../core/plan.ts';
import { UPLOAD_ID_METADATA } from '../job/options.ts';
import { type InputObject, isUpload, sameEtag } from './inputs.ts';
import type { BlobStore } from '../job/ports.ts';
import { newestJob } from './publish.ts';
import { redriveRefusal } from './redrive.ts';

export class JobFailedError extends FanoutError {
  override name = 'JobFailedError';
}

/** A newer upload of the key owns its result: this upload's job publishes nothing under results/. */
export class JobSupersededError extends JobFailedError {
  override name = 'JobSupersededError';
}

/** --timeout passed before the job ended. */
export class WaitTimeoutError extends JobFailedError {
  override name = 'WaitTimeoutError';
}

/** What pins an uploaded object: its ETag, its version id in a versioned bucket, and the id fanout submit gave it. */
export interface Uploaded {
  etag: string;
  versionId?: string;
  /** the fanout-upload-id metadata: tells two uploads of the same bytes to an unversioned bucket apart */
  uploadId?: string;
}

export const POLL_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long to wait: 30s, 10m, 1h, 1500ms, or a number of seconds. */
export function parseDuration(text: string, flag = '--timeout'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw new UsageError(`${flag} takes a duration such as 30s, 10m or 1h, not ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

export interface WaitOptions {
  pollMs?: number;
  /** ms since the epoch: give up then (WaitTimeoutError) */
  deadline?: number;
  now?: () => number;
}

function checkTimeout(opts: WaitOptions, what: () => string): void {
  if (opts.deadline !== undefined && (opts.now ?? Date.now)() > opts.deadline) throw new WaitTimeoutError(`gave up waiting (--timeout): ${what()}`);
}

/** Whether a pointer is about this very upload. */
function isOurs(p: InputPointer, uploaded: Uploaded): boolean {
  if (uploaded.uploadId && p.upload?.id) return p.upload.id === uploaded.uploadId;
  const input: { etag: string; versionId?: string } = p.input;
  return uploaded.versionId && input.versionId ? input.versionId === uploaded.versionId : sameEtag(input.etag, uploaded.etag);
}

/**
 * Waits for the coordinator to plan this very upload (its input's pointer names our
 * upload). `current` reads the key's current object: when the pointer names another
 * upload and ours is no longer the current object, a newer upload has replaced it.
 */
export async function waitForJob(store: BlobStore, inputKey: string, uploaded: Uploaded, opts: WaitOptions = {}, current?: () => Promise<InputObject | undefined>): Promise<string> {
  for (;;) {
    const p = await readPointer(store, inputKey);
    if (p && isOurs(p, uploaded)) {
      if ('job' in p) return p.job;
      throw new JobFailedError(`the job could not start: ${p.reason}`);
    }
    if (p && current) {
      const now = await current();
      const stillOurs = isUpload(now, uploaded) && (!uploaded.uploadId || !now?.metadata[UPLOAD_ID_METADATA] || now.metadata[UPLOAD_ID_METADATA] === uploaded.uploadId);
      if (!stillOurs) {
        throw new JobSupersededError(
          `superseded: a newer upload of ${inputKey} replaced this one before its job started; ${'job' in p ? `job ${p.job} owns ${p.result}` : `the newest upload could not start a job: ${p.reason}`}`,
        );
      }
    }
    checkTimeout(opts, () => `the coordinator has not planned this upload of ${inputKey} yet`);
    await sleep(opts.pollMs ?? POLL_MS);
  }
}

/** The newest job of an input; `where` names the input in messages. */
export async function newestJobOf(store: BlobStore, inputKey: string, where: string): Promise<string> {
  const p = await readPointer(store, inputKey);
  if (!p) throw new UsageError(`${where}: no job has started for this object (no ${inputPointerKey(inputKey)})`);
  if (!('job' in p)) throw new JobFailedError(`${where}: the job could not start: ${p.reason}`);
  return p.job;
}

export interface JobState {
  job: string;
  status?: JobStatus;
  slices?: number;
  partialsDone: number;
  /** the input's bytes in the slices whose partial is written, and all of them (from the manifest) */
  bytesDone?: number;
  bytesTotal?: number;
  /** backup runs of straggling slices so far (lib/cloud/stragglers.ts): the tail helpers' backup claims */
  backups: number;
}

export async function jobState(store: BlobStore, job: string, now = Date.now()): Promise<JobState> {
  const [read, partials, manifest, tail] = await Promise.all([readStatus(store, job), store.list(levelPrefix(job, 0)), store.get(manifestKey(job)), store.list(tailPrefix(job))]);
  const status = read && pastDeadline(read, now) ? { ...read, state: 'failed' as const, reason: `did not finish by its deadline (${read.deadline}): the job is failed` } : read;
  const backups = tail.filter((k) => parseTailClaim(k)?.claim === 'backup').length;
  return {
    job,
    ...(status ? { status } : {}),
    ...(status?.slices !== undefined ? { slices: status.slices } : {}),
    partialsDone: partials.length,
    ...(manifest ? bytesOf(decodeManifest(manifest, manifestKey(job)).spec, partials) : {}),
    backups,
  };
}

/** The input's bytes the written leaves cover (a compressed stream's one slice: its whole size). */
function bytesOf(spec: JobSpec, leaves: string[]): { bytesDone: number; bytesTotal: number } {
  const total = spec.input.bytes;
  let done = 0;
  for (const k of leaves) {
    const ref = parseNodeKey(k);
    if (ref?.level !== 0 || ref.index >= spec.sliceCount) continue;
    const { start, end } = sliceBounds(spec, ref.index);
    done += Math.max(0, Math.min(end, total) - Math.min(start, total));
  }
  return { bytesDone: done, bytesTotal: total };
}

/** A running job whose deadline has passed is failed, whether or not an event has said so yet. */
const pastDeadline = (s: JobStatus, now: number): boolean => s.state === 'running' && s.deadline !== undefined && now > Date.parse(s.deadline);

/** The error a failed or superseded job's status stands for. */
export function failureOf(s: JobStatus): JobFailedError {
  if (s.state === 'superseded') return new JobSupersededError(`job ${s.job} was superseded: ${s.reason ?? 'a newer upload of its input owns its result'}`);
  return new JobFailedError(`job ${s.job} failed${s.slice !== undefined ? ` at slice ${s.slice}` : ''}: ${s.reason ?? 'no reason given'}`);
}

/** Follows a job until its result lands (returned) or it fails, is superseded or --timeout passes (thrown). */
export async function followJob(store: BlobStore, first: string, onState: (s: JobState) => void = () => {}, opts: WaitOptions = {}): Promise<ResultDocument> {
  let job = first;
  for (;;) {
    const s = await jobState(store, job, (opts.now ?? Date.now)());
    onState(s);
    if (s.status?.state === 'failed' || s.status?.state === 'superseded') throw failureOf(s.status);
    // The first stage of a chained analysis (rmsf): the answer is the next job's.
    if (s.status?.state === 'done' && s.status.next) {
      job = s.status.next;
      continue;
    }
    if (s.status?.state === 'done' && s.status.resultKey) {
      // The job's own result: results/ may hold a newer upload's by now.
      const own = await store.get(resultKey(job));
      const key = own ? resultKey(job) : s.status.resultKey;
      const body = own ?? (await store.get(key));
      // A large result's arrays (.npy files beside the document) are read too.
      if (body) return readResultArrays(store, key, decodeResult(body, key));
    }
    checkTimeout(opts, () => `job ${job} is still ${s.status?.state ?? 'starting'} (${s.partialsDone}/${s.slices ?? '?'} partials)`);
    await sleep(opts.pollMs ?? POLL_MS);
  }
}

/** `fanout redrive` was refused: the job is done, superseded, still running, or not its input's newest. */
export class RedriveRefusedError extends FanoutError {
  override name = 'RedriveRefusedError';
}

/**
 * Asks the coordinator to redrive a failed job (lib/cloud/redrive.ts): checks that it can
 * be (the reason is thrown otherwise), writes the request redrive/<job>/<request>.json, and
 * waits for the coordinator's answer. The job is then running again: follow it with followJob.
 */
export async function requestRedrive(store: BlobStore, job: string, opts: WaitOptions = {}): Promise<RedriveAnswer> {
  const now = opts.now ?? Date.now;
  let manifest;
  try {
    manifest = await new ManifestReader(store, 0).read(job);
  } catch (e) {
    if (e instanceof UnknownJobError) throw new UsageError(`job ${job}: no such job in this bucket (${e.message})`);
    throw e;
  }
  const refusal = redriveRefusal(job, await readStatus(store, job), await newestJob(store, manifest), now(), manifest.chainOf);
  if (refusal) throw new RedriveRefusedError(refusal);
  const request = randomUUID();
  // The key says it all: the coordinator needs no read permission on redrive/.
  await store.put(redriveRequestKey(job, request), '');
  for (;;) {
    const answer = await readRedriveAnswer(store, job, request);
    if (answer?.outcome === 'refused') throw new RedriveRefusedError(answer.reason ?? `job ${job} was not redriven`);
    if (answer) return answer;
    checkTimeout(opts, () => `the coordinator has not answered the redrive request ${redriveRequestKey(job, request)} yet`);
    await sleep(opts.pollMs ?? POLL_MS);
  }
}
