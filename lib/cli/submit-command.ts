/**
 * `fanout submit <file> --bucket B | --stack NAME`: upload to input/ (multipart when
 * large), wait for the coordinator to plan the job, follow its partials to the result.
 * `fanout submit part1.xtc part2.xtc ...`: the same for a trajectory in parts: the parts,
 * then the job file that lists them (lib/job/job-file.ts).
 * `fanout status <job id | s3://bucket/input/key>`: where a job stands.
 * Both talk to whatever AWS_ENDPOINT_URL names (moto, LocalStack) as the SDK does. The
 * work is done in lib/cloud (client.ts, aws/upload.ts, aws/stack.ts): these commands read
 * their values, call it, and print.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { makeS3Client } from '../cloud/aws/s3-client.ts';
import { describeObject, parseS3Url } from '../cloud/aws/s3-source.ts';
import { S3Store } from '../cloud/aws/s3-store.ts';
import { bucketOfStack } from '../cloud/aws/stack.ts';
import { uploadFile, uploadText } from '../cloud/aws/upload.ts';
import { failureOf, followJob, jobState, newestJobOf, parseDuration, type Uploaded, waitForJob, WaitTimeoutError } from '../cloud/client.ts';
import { UsageError } from '../core/errors.ts';
import { formatBytes } from '../core/units.ts';
import type { ResultDocument } from '../core/job.ts';
import { encodeJobFile, isJobFileKey, JOB_FILE_SUFFIX, PART_METADATA } from '../job/job-file.ts';
import { readResult } from '../job/documents.ts';
import { INPUT_PREFIX, jobPrefix } from '../job/keys.ts';
import { cloudOptionNames, flagOf, type JobOptions, metadataFor, type OptionName, parseJobOptions, UPLOAD_ID_METADATA } from '../job/options.ts';
import { CountBar } from './progress.ts';
import { summarize } from './summary.ts';

/** As the command line parsed them: the job's options under their declared names, and submit's own. */
export interface SubmitValues extends JobOptions {
  bucket?: string;
  stack?: string;
  key?: string;
  detach?: boolean;
  timeout?: string;
  json?: boolean;
  quiet?: boolean;
  progress?: boolean;
}

export async function resolveBucket(values: { bucket?: string; stack?: string }): Promise<string> {
  if (values.bucket && values.stack) throw new UsageError('give --bucket or --stack, not both');
  if (values.bucket) return values.bucket;
  const stack = values.stack ?? process.env.FANOUT_STACK;
  if (!stack) {
    if (process.env.FANOUT_BUCKET) return process.env.FANOUT_BUCKET;
    throw new UsageError('name the bucket: --bucket NAME, or --stack NAME to read it from the stack outputs (or set FANOUT_BUCKET)');
  }
  return bucketOfStack(stack);
}

/** The job options a user gave, as the object metadata the coordinator reads (x-amz-meta-fanout-*). */
export function metadataFrom(values: SubmitValues): Record<string, string> {
  const given = Object.fromEntries(cloudOptionNames.filter((n) => values[n] !== undefined).map((n) => [n, values[n]]));
  // The coordinator would reject bad options after the upload: reject them before it.
  return metadataFor(parseJobOptions(given, 'the options', (n) => flagOf(n as OptionName)));
}

/** S3 takes at most 2 KB of user metadata (keys and values, UTF-8): atom ranges are what can outgrow it. */
export const S3_METADATA_BYTES = 2048;

function checkMetadataSize(metadata: Record<string, string>): void {
  const size = (t: string) => Buffer.byteLength(t, 'utf8');
  const bytes = Object.entries(metadata).reduce((n, [k, v]) => n + size(k) + size(v), 0);
  if (bytes <= S3_METADATA_BYTES) return;
  const ranges = (['atoms', 'fit-atoms', 'atoms2'] as const).map((n) => metadata[`fanout-${n}`]?.length ?? 0).reduce((a, b) => a + b, 0);
  throw new UsageError(
    `the options make ${bytes} bytes of S3 object metadata, more than the ${S3_METADATA_BYTES} S3 allows${ranges > 0 ? `; the atom ranges alone are ${ranges} characters: select fewer, longer runs of atoms (a whole domain rather than one atom in ten)` : ''}`,
  );
}

/**
 * --quiet promises an empty stderr on success; the SDK's notice that its future
 * versions need Node 22 is the one line it would print regardless (its own switch).
 */
export function quietSdk(values: SubmitValues): void {
  if (values.quiet) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

export function progressFor(values: SubmitValues): CountBar | undefined {
  const tty = process.stderr.isTTY === true;
  return !values.quiet && (tty || values.progress || !values.json) ? new CountBar({ stream: process.stderr, tty }) : undefined;
}

/**
 * Where a trajectory in parts goes: the job file (--key, or input/<name>.fanout.json, the
 * name being the first part's without its extension and part number) and its parts, by
 * their file names, in the job file's folder (lib/job/job-file.ts).
 */
export function partsLayout(paths: readonly string[], key?: string): { jobKey: string; parts: string[] } {
  const stem = basename(paths[0]!).replace(/\.[^.]*$/, '').replace(/[._-]?part[._-]?\d+$/i, '') || 'parts';
  const jobKey = key ?? `${INPUT_PREFIX}${stem}${JOB_FILE_SUFFIX}`;
  if (!isJobFileKey(jobKey)) throw new UsageError(`--key ${jobKey}: a trajectory in parts is named by its job file, whose key ends in ${JOB_FILE_SUFFIX}`);
  const parts = paths.map((p) => basename(p));
  const twice = parts.find((p, i) => parts.indexOf(p) !== i);
  if (twice) throw new UsageError(`two parts are called ${twice}: the parts are uploaded by their file names into one folder; rename one`);
  return { jobKey, parts };
}

export async function submitCommand(args: string[], values: SubmitValues): Promise<number> {
  if (args.length === 0) throw new UsageError('fanout submit takes an input file, or the parts of one trajectory in frame order');
  quietSdk(values);
  const uploadId = randomUUID();
  const metadata = { ...metadataFrom(values), [UPLOAD_ID_METADATA]: uploadId };
  checkMetadataSize(metadata);
  const deadline = values.timeout !== undefined ? Date.now() + parseDuration(values.timeout) : undefined;
  const layout = args.length > 1 ? partsLayout(args, values.key) : undefined;
  const key = layout?.jobKey ?? values.key ?? `${INPUT_PREFIX}${basename(args[0]!)}`;
  if (!key.startsWith(INPUT_PREFIX)) throw new UsageError(`--key ${key}: uploads start a job only under ${INPUT_PREFIX}`);
  const bucket = await resolveBucket(values);
  const client = makeS3Client();
  const store = new S3Store(client, bucket);
  const say = (line: string) => !values.quiet && process.stderr.write(`${line}\n`);

  const startedAt = Date.now();
  const upBar = progressFor(values);
  let uploaded: Uploaded;
  try {
    const progress = (before: number, all: number) => (done: number) => upBar?.update({ label: 'upload', done: before + done, total: all, startedAt, unit: 'bytes' });
    if (layout) {
      // The parts first, marked so that their own events start nothing; the job file last starts the job.
      const sizes = await Promise.all(args.map(async (p) => (await stat(p)).size));
      const all = sizes.reduce((a, b) => a + b, 0);
      const folder = key.slice(0, key.lastIndexOf('/') + 1);
      let before = 0;
      for (const [i, path] of args.entries()) {
        await uploadFile(client, { bucket, key: folder + layout.parts[i]!, metadata: { [PART_METADATA]: key } }, path, progress(before, all));
        before += sizes[i]!;
      }
      uploaded = { ...(await uploadText(client, { bucket, key, metadata }, encodeJobFile({ parts: layout.parts }))), uploadId };
    } else {
      uploaded = { ...(await uploadFile(client, { bucket, key, metadata }, args[0]!, (done, total) => progress(0, total)(done))), uploadId };
    }
  } finally {
    upBar?.finish();
  }
  say(`uploaded s3://${bucket}/${key}${uploaded.versionId ? ` (version ${uploaded.versionId})` : ''}; waiting for the coordinator`);
  // Follows this upload's job, not the key's: a newer upload of the key supersedes it.
  const job = await waitForJob(store, key, uploaded, { ...(deadline !== undefined ? { deadline } : {}) }, () => describeObject(client, bucket, key));
  say(`job ${job}: fanout status ${job} --bucket ${bucket}`);
  if (values.detach) {
    // The id alone on stdout, --quiet or not: `job=$(fanout submit --detach --quiet f.csv)` then `fanout status $job`.
    process.stdout.write(values.json ? `${JSON.stringify({ job, bucket, key })}\n` : `${job}\n`);
    return 0;
  }
  const jobBar = progressFor(values);
  const followedAt = Date.now();
  let doc: ResultDocument;
  try {
    doc = await followJob(store, job, (s) => s.slices !== undefined && jobBar?.update({ label: 'job', done: s.partialsDone, total: s.slices, startedAt: followedAt, unit: 'partials' }), {
      ...(deadline !== undefined ? { deadline } : {}),
    });
  } finally {
    jobBar?.finish();
  }
  if (values.json) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else if (!values.quiet) process.stdout.write(`${summarize(doc)}\n`);
  return 0;
}

/** The job a command names (`fanout status|redrive JOB`): a job id, or s3://bucket/input/key for the newest job of that input. */
export async function jobNamed(command: string, args: string[], values: SubmitValues): Promise<{ store: S3Store; bucket: string; job: string }> {
  if (args.length !== 1) throw new UsageError(`fanout ${command} takes a job id or s3://bucket/input/key`);
  quietSdk(values);
  const s3 = parseS3Url(args[0]!);
  const bucket = s3?.bucket ?? (await resolveBucket(values));
  const store = new S3Store(makeS3Client(), bucket);
  if (s3) return { store, bucket, job: await newestJobOf(store, s3.key, args[0]!) };
  if (!/^[0-9a-f]{8,64}$/.test(args[0]!)) throw new UsageError(`${args[0]}: not a job id or an s3:// location`);
  return { store, bucket, job: args[0]! };
}

export async function statusCommand(args: string[], values: SubmitValues): Promise<number> {
  const { store, bucket, job } = await jobNamed('status', args, values);
  if (values.timeout !== undefined) {
    // Wait for the job to end; the result, a failure or the timeout decide the exit code below.
    const deadline = Date.now() + parseDuration(values.timeout);
    await followJob(store, job, () => {}, { deadline }).catch((e: unknown) => {
      if (e instanceof WaitTimeoutError) throw e;
    });
  }
  const s = await jobState(store, job);
  if (!s.status) throw new UsageError(`job ${job}: no status in s3://${bucket}/${jobPrefix(job)}`);
  // A finished job's result, with its large arrays (.npy objects beside it) read, for the summary fanout run prints.
  const doc = s.status.state === 'done' ? await readResult(store, job, { arrays: true }) : undefined;
  if (values.json) {
    const progress = { partialsDone: s.partialsDone, bytesDone: s.bytesDone, bytesTotal: s.bytesTotal, backups: s.backups };
    process.stdout.write(`${JSON.stringify({ ...s.status, bucket, slices: s.slices, ...progress, ...(doc ? { document: doc } : {}) }, null, 2)}\n`);
  }
  else {
    const lines = [`job ${job} in s3://${bucket}: ${s.status.state} (as of ${s.status.at})`, `  input    s3://${bucket}/${s.status.input.key}`, `  slices   ${s.partialsDone}/${s.slices ?? '?'} partials written${s.bytesTotal !== undefined ? `, ${formatBytes(s.bytesDone ?? 0)} of ${formatBytes(s.bytesTotal)} scanned` : ''}`];
    if (s.status.state === 'superseded') lines.push(`  reason   ${s.status.reason ?? 'a newer upload of its input owns its result'}`);
    if (s.status.state === 'running' && s.status.deadline) lines.push(`  deadline ${s.status.deadline}`);
    if (s.backups > 0) lines.push(`  backups  ${s.backups} (straggling slices scanned again)`);
    if (s.status.failedSlices?.length) lines.push(`  incomplete: ${s.status.failedSlices.length} slices failed (tolerated): ${s.status.failedSlices.map((f) => `${f.index} (bytes ${f.start}-${f.end - 1}): ${f.reason}`).join('; ')}`);
    if (s.status.state === 'failed') lines.push(`  reason   ${s.status.reason ?? 'none given'}${s.status.slice !== undefined ? ` (slice ${s.status.slice})` : ''}`);
    if (s.status.resultKey) lines.push(`  result   s3://${bucket}/${s.status.resultKey}`);
    if (doc) lines.push('', summarize(doc, `s3://${bucket}/${jobPrefix(job)}`));
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  // A script can branch on it: 0 done, 3 still running, and a failed or superseded job exits like any failure.
  if (s.status.state === 'failed' || s.status.state === 'superseded') throw failureOf(s.status);
  return s.status.state === 'done' ? 0 : 3;
}

