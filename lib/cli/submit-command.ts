/**
 * `fanout submit <file> --bucket B | --stack NAME`: upload to input/ (multipart when
 * large), wait for the coordinator to plan the job, follow its partials to the result.
 * `fanout status <job id | s3://bucket/input/key>`: where a job stands.
 * Both talk to whatever AWS_ENDPOINT_URL names (moto, LocalStack) as the SDK does. The
 * work is done in lib/cloud (client.ts, aws/upload.ts, aws/stack.ts): these commands read
 * their values, call it, and print.
 */
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { makeS3Client } from '../cloud/aws/s3-client.ts';
import { describeObject, parseS3Url } from '../cloud/aws/s3-source.ts';
import { S3Store } from '../cloud/aws/s3-store.ts';
import { bucketOfStack } from '../cloud/aws/stack.ts';
import { uploadFile } from '../cloud/aws/upload.ts';
import { failureOf, followJob, jobState, newestJobOf, parseDuration, type Uploaded, waitForJob, WaitTimeoutError } from '../cloud/client.ts';
import { UsageError } from '../core/errors.ts';
import type { ResultDocument } from '../core/job.ts';
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

export async function submitCommand(args: string[], values: SubmitValues): Promise<number> {
  if (args.length !== 1) throw new UsageError('fanout submit takes exactly one input file');
  const path = args[0]!;
  quietSdk(values);
  const uploadId = randomUUID();
  const metadata = { ...metadataFrom(values), [UPLOAD_ID_METADATA]: uploadId };
  const deadline = values.timeout !== undefined ? Date.now() + parseDuration(values.timeout) : undefined;
  const bucket = await resolveBucket(values);
  const key = values.key ?? `${INPUT_PREFIX}${basename(path)}`;
  if (!key.startsWith(INPUT_PREFIX)) throw new UsageError(`--key ${key}: uploads start a job only under ${INPUT_PREFIX}`);
  const client = makeS3Client();
  const store = new S3Store(client, bucket);
  const say = (line: string) => !values.quiet && process.stderr.write(`${line}\n`);

  const startedAt = Date.now();
  const upBar = progressFor(values);
  let uploaded: Uploaded;
  try {
    uploaded = { ...(await uploadFile(client, { bucket, key, metadata }, path, (done, total) => upBar?.update({ label: 'upload', done, total, startedAt, unit: 'bytes' }))), uploadId };
  } finally {
    upBar?.finish();
  }
  say(`uploaded s3://${bucket}/${key}${uploaded.versionId ? ` (version ${uploaded.versionId})` : ''}; waiting for the coordinator`);
  // Follows this upload's job, not the key's: a newer upload of the key supersedes it.
  const job = await waitForJob(store, key, uploaded, { ...(deadline !== undefined ? { deadline } : {}) }, () => describeObject(client, bucket, key));
  say(`job ${job}: fanout status ${job} --bucket ${bucket}`);
  if (values.detach) {
    if (values.json) process.stdout.write(`${JSON.stringify({ job, bucket, key })}\n`);
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

export async function statusCommand(args: string[], values: SubmitValues): Promise<number> {
  if (args.length !== 1) throw new UsageError('fanout status takes a job id or s3://bucket/input/key');
  quietSdk(values);
  const s3 = parseS3Url(args[0]!);
  const bucket = s3?.bucket ?? (await resolveBucket(values));
  const store = new S3Store(makeS3Client(), bucket);
  let job = args[0]!;
  if (s3) job = await newestJobOf(store, s3.key, args[0]!);
  else if (!/^[0-9a-f]{8,64}$/.test(job)) throw new UsageError(`${job}: not a job id or an s3:// location`);
  if (values.timeout !== undefined) {
    // Wait for the job to end; the result, a failure or the timeout decide the exit code below.
    const deadline = Date.now() + parseDuration(values.timeout);
    await followJob(store, job, () => {}, { deadline }).catch((e: unknown) => {
      if (e instanceof WaitTimeoutError) throw e;
    });
  }
  const s = await jobState(store, job);
  if (!s.status) throw new UsageError(`job ${job}: no status in s3://${bucket}/${jobPrefix(job)}`);
  if (values.json) process.stdout.write(`${JSON.stringify({ ...s.status, bucket, slices: s.slices, partialsDone: s.partialsDone, backups: s.backups }, null, 2)}\n`);
  else {
    const lines = [`job ${job} in s3://${bucket}: ${s.status.state} (as of ${s.status.at})`, `  input    s3://${bucket}/${s.status.input.key}`, `  slices   ${s.partialsDone}/${s.slices ?? '?'} partials written`];
    if (s.status.state === 'superseded') lines.push(`  reason   ${s.status.reason ?? 'a newer upload of its input owns its result'}`);
    if (s.status.state === 'running' && s.status.deadline) lines.push(`  deadline ${s.status.deadline}`);
    if (s.backups > 0) lines.push(`  backups  ${s.backups} (straggling slices scanned again)`);
    if (s.status.failedSlices?.length) lines.push(`  incomplete: ${s.status.failedSlices.length} slices failed (tolerated): ${s.status.failedSlices.map((f) => `${f.index} (bytes ${f.start}-${f.end - 1}): ${f.reason}`).join('; ')}`);
    if (s.status.state === 'failed') lines.push(`  reason   ${s.status.reason ?? 'none given'}${s.status.slice !== undefined ? ` (slice ${s.status.slice})` : ''}`);
    if (s.status.resultKey) lines.push(`  result   s3://${bucket}/${s.status.resultKey}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  // A script can branch on it: 0 done, 3 still running, and a failed or superseded job exits like any failure.
  if (s.status.state === 'failed' || s.status.state === 'superseded') throw failureOf(s.status);
  return s.status.state === 'done' ? 0 : 3;
}

