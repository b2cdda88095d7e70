/**
 * The newest upload of a key owns its input pointer, its results/ copy and the final
 * word on its job's status. Every such write is conditional, so that a coordinator or a
 * merger of an older upload, held anywhere for any time, can never overwrite what a
 * newer one wrote.
 *
 * Two rules make it so:
 * - The pointer only moves forward: a coordinator claims it by compare-and-swap (If-Match
 *   on the tag it read), and only while its upload is still the key's current object
 *   (checked between that read and the swap) and no newer S3 event sequencer holds it.
 *   Once an upload is no longer current it never is again (a later upload of the same
 *   bytes to an unversioned bucket is the same job), so the pointer never goes back.
 * - Every publish is "read the target's tag, check the pointer, write if the tag still
 *   holds" (publishIf). A writer whose check passed but whose write comes late finds the
 *   tag changed by whoever wrote in between, reads again, and this time sees the newer
 *   pointer. A newer job's own publish starts after it claimed the pointer, so it either
 *   lands after the older one's (and wins) or makes the older one's swap fail.
 *
 * test/reliability/interleavings.test.ts holds two coordinators and two mergers of one key
 * at every step in turn and checks that the newer upload's job owns the result every time.
 */
import { decodeResult, DocumentError, type CloudManifest, encodeStatus, encodePointer, type InputPointer, type JobStatus, pointedJob, readPointer, readStatus, type UploadMark } from '../job/documents.ts';
import { inputPointerKey, statusKey } from '../job/keys.ts';
import type { BlobStore } from '../job/ports.ts';
import { type InputObjects, isUpload, sameEtag } from './inputs.ts';

/**
 * S3 event sequencers, compared as S3 documents them: hexadecimal strings of possibly
 * different lengths, compared after left-padding. Negative: `a` is the earlier event.
 */
export function compareSequencers(a: string, b: string): number {
  const width = Math.max(a.length, b.length);
  const pa = a.toUpperCase().padStart(width, '0');
  const pb = b.toUpperCase().padStart(width, '0');
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

const sameUpload = (a: InputPointer, b: InputPointer): boolean =>
  pointedJob(a) === pointedJob(b) &&
  (a.input.versionId ?? '') === (b.input.versionId ?? '') &&
  sameEtag(a.input.etag, b.input.etag) &&
  (a.upload?.sequencer ?? '') === (b.upload?.sequencer ?? '') &&
  (a.upload?.id ?? '') === (b.upload?.id ?? '') &&
  ('reason' in a ? a.reason : '') === ('reason' in b ? b.reason : '');

/** Whether `held` names a later upload than `mine` by their events' sequencers (when both have one). */
function laterSequencer(held: UploadMark | undefined, mine: UploadMark | undefined): boolean {
  return !!held?.sequencer && !!mine?.sequencer && compareSequencers(held.sequencer, mine.sequencer) > 0;
}

export type Claim = { claimed: true; previous?: InputPointer } | { claimed: false; owner?: InputPointer };

/**
 * Makes `pointer` its input's pointer if its upload is still the newest: the key's current
 * object, and no later event holds the pointer. Otherwise leaves the pointer alone.
 */
export async function claimPointer(store: BlobStore, inputs: InputObjects, pointer: InputPointer): Promise<Claim> {
  const key = inputPointerKey(pointer.input.key);
  for (;;) {
    const tag = await store.head(key);
    const held = tag ? await readPointer(store, pointer.input.key) : undefined;
    if (held && sameUpload(held, pointer)) return { claimed: true };
    if (laterSequencer(held?.upload, pointer.upload)) return { claimed: false, owner: held };
    // Between reading the tag and the swap: is this upload still the key's current object?
    const current = await inputs.describe(pointer.input.bucket, pointer.input.key);
    if (!isUpload(current, pointer.input)) return { claimed: false, ...(held ? { owner: held } : {}) };
    if (await store.putIfMatch(key, encodePointer(pointer), tag?.etag)) return { claimed: true, ...(held ? { previous: held } : {}) };
  }
}

/**
 * The job the input's pointer names as its newest. No pointer at all (a store written
 * before pointers existed) counts as this job; a pointer saying the newest upload could
 * not be planned names none, unless it is about this very upload.
 */
export async function newestJob(store: BlobStore, manifest: CloudManifest): Promise<string | undefined> {
  const pointer = await readPointer(store, manifest.input.key);
  if (!pointer) return manifest.spec.id;
  return pointedJob(pointer) ?? (isUpload(manifest.input, pointer.input) ? manifest.spec.id : undefined);
}

/**
 * Writes `body` to `key` if `allowed()` holds, conditionally on the tag read before
 * checking it (see the module comment). False when `allowed()` said no.
 */
export async function publishIf(store: BlobStore, key: string, body: () => string, allowed: () => Promise<boolean>): Promise<boolean> {
  for (;;) {
    const tag = await store.head(key);
    if (!(await allowed())) return false;
    if (await store.putIfMatch(key, body(), tag?.etag)) return true;
  }
}

/** Whether `newest` (newestJob's answer) is this job: the second stage of a chain stands for the first, which the pointer names. */
export const isJobOf = (newest: string | undefined, manifest: CloudManifest): boolean => newest !== undefined && (newest === manifest.spec.id || newest === manifest.chainOf);

const isNewest = (store: BlobStore, manifest: CloudManifest) => async () => isJobOf(await newestJob(store, manifest), manifest);

/** Publishes while `manifest`'s job is its input's newest. */
export function publishIfNewest(store: BlobStore, manifest: CloudManifest, key: string, body: () => string): Promise<boolean> {
  return publishIf(store, key, body, isNewest(store, manifest));
}

/** Writes the job's status while it is its input's newest. */
export function writeStatusIfNewest(store: BlobStore, manifest: CloudManifest, status: Omit<JobStatus, 'at'>, now: number): Promise<boolean> {
  return publishIfNewest(store, manifest, statusKey(status.job), () => encodeStatus(status, now));
}

/**
 * Marks a job superseded, unless it is its input's newest again by the time the write
 * lands (the same bytes uploaded again to an unversioned bucket restart the same job).
 * A job that already ended (done, failed) keeps its status. True if the job is superseded.
 */
export async function markSuperseded(store: BlobStore, jobId: string, reason: string, now: number, onlyIfRunning = false): Promise<boolean> {
  const status = await readStatus(store, jobId);
  if (status?.state === 'superseded') return true;
  if (!status || status.state === 'failed' || (onlyIfRunning && status.state !== 'running')) return false;
  const { at: _at, ...rest } = status;
  const next: Omit<JobStatus, 'at'> = { ...rest, state: 'superseded', reason };
  delete next.resultKey;
  return publishIf(
    store,
    statusKey(jobId),
    () => encodeStatus(next, now),
    async () => {
      const pointer = await readPointer(store, status.input.key);
      return pointer !== undefined && pointedJob(pointer) !== jobId;
    },
  );
}

/** The job whose result results/<key> holds now. */
export async function publishedJob(store: BlobStore, resultKey: string): Promise<string | undefined> {
  const body = await store.get(resultKey);
  if (!body) return undefined;
  try {
    return decodeResult(body, resultKey).job;
  } catch (e) {
    // Not a result document (someone else's object): no job's result is published there.
    if (e instanceof DocumentError) return undefined;
    throw e;
  }
}
