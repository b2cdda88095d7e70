/**
 * `fanout submit <file> --bucket B | --stack NAME`: upload to input/ (multipart when
 * large), wait for the coordinator to plan the job, follow its partials to the result.
 * `fanout status <job id | s3://bucket/input/key>`: where a job stands.
 * Both talk to whatever AWS_ENDPOINT_URL names (moto, LocalStack) as the SDK does.
 */
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { makeS3Client } from '../cloud/aws/s3-client.ts';
import { parseS3Url } from '../cloud/aws/s3-source.ts';
import { S3Store } from '../cloud/aws/s3-store.ts';
import { FanoutError, UsageError } from '../core/errors.ts';
import type { ResultDocument } from '../core/job.ts';
import { type JobStatus, readStatus } from '../job/documents.ts';
import { INPUT_PREFIX, inputPointerKey } from '../job/keys.ts';
import { jobPrefix } from '../job/keys.ts';
import { cloudOptionNames, flagOf, type JobOptions, metadataFor, type OptionName, parseJobOptions } from '../job/options.ts';
import type { BlobStore } from '../job/ports.ts';
import { CountBar } from './progress.ts';
import { summarize } from './summary.ts';

export class JobFailedError extends FanoutError {
  override name = 'JobFailedError';
}

/** As the command line parsed them: the job's options under their declared names, and submit's own. */
export interface SubmitValues extends JobOptions {
  bucket?: string;
  stack?: string;
  key?: string;
  detach?: boolean;
  json?: boolean;
  quiet?: boolean;
  progress?: boolean;
}

/** Above this an upload goes in parts, so a dropped connection costs one part, not the file. */
export const MULTIPART_THRESHOLD_BYTES = 16 * 1024 * 1024;
const MIN_PART_BYTES = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;
const PART_CONCURRENCY = 4;
const POLL_MS = 1000;

export async function resolveBucket(values: { bucket?: string; stack?: string }): Promise<string> {
  if (values.bucket && values.stack) throw new UsageError('give --bucket or --stack, not both');
  if (values.bucket) return values.bucket;
  const stack = values.stack ?? process.env.FANOUT_STACK;
  if (!stack) {
    if (process.env.FANOUT_BUCKET) return process.env.FANOUT_BUCKET;
    throw new UsageError('name the bucket: --bucket NAME, or --stack NAME to read it from the stack outputs (or set FANOUT_BUCKET)');
  }
  const cfn = new CloudFormationClient({ region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1' });
  let outputs;
  try {
    outputs = (await cfn.send(new DescribeStacksCommand({ StackName: stack }))).Stacks?.[0]?.Outputs;
  } catch (e) {
    throw new UsageError(`stack ${stack}: ${(e as Error).message}`);
  }
  const bucket = outputs?.find((o) => o.OutputKey === 'BucketName')?.OutputValue;
  if (!bucket) throw new UsageError(`stack ${stack} has no BucketName output: is it a fanout stack?`);
  return bucket;
}

/** The job options a user gave, as the object metadata the coordinator reads (x-amz-meta-fanout-*). */
export function metadataFrom(values: SubmitValues): Record<string, string> {
  const given = Object.fromEntries(cloudOptionNames.filter((n) => values[n] !== undefined).map((n) => [n, values[n]]));
  // The coordinator would reject bad options after the upload: reject them before it.
  return metadataFor(parseJobOptions(given, 'the options', (n) => flagOf(n as OptionName)));
}

export interface Uploaded {
  etag: string;
  versionId?: string;
}

export async function uploadFile(
  client: S3Client,
  bucket: string,
  key: string,
  path: string,
  metadata: Record<string, string>,
  onProgress: (bytesDone: number, bytesTotal: number) => void = () => {},
): Promise<Uploaded> {
  const size = (await stat(path)).size;
  const file = await open(path, 'r');
  try {
    if (size <= MULTIPART_THRESHOLD_BYTES) {
      const body = await file.readFile();
      onProgress(0, size);
      const r = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: metadata }));
      onProgress(size, size);
      return { etag: r.ETag ?? '', ...(r.VersionId && r.VersionId !== 'null' ? { versionId: r.VersionId } : {}) };
    }
    const partBytes = Math.max(MIN_PART_BYTES, Math.ceil(size / MAX_PARTS));
    const parts = Math.ceil(size / partBytes);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: metadata }));
    const etags: string[] = new Array(parts);
    let done = 0;
    let next = 0;
    onProgress(0, size);
    try {
      const lane = async (): Promise<void> => {
        while (next < parts) {
          const part = next++;
          const start = part * partBytes;
          const length = Math.min(partBytes, size - start);
          const buffer = Buffer.allocUnsafe(length);
          await file.read(buffer, 0, length, start);
          const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: part + 1, Body: buffer, ContentLength: length }));
          etags[part] = r.ETag!;
          done += length;
          onProgress(done, size);
        }
      };
      await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, parts) }, lane));
      const r = await client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
      );
      return { etag: r.ETag ?? '', ...(r.VersionId && r.VersionId !== 'null' ? { versionId: r.VersionId } : {}) };
    } catch (e) {
      // Parts of an unfinished upload are stored (and billed) until aborted.
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
      throw e;
    }
  } finally {
    await file.close();
  }
}

interface Pointer {
  job?: string;
  state?: 'failed';
  reason?: string;
  input: { etag: string; versionId?: string };
}

const decoder = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the coordinator to plan this very upload (its pointer names our version or ETag). */
export async function waitForJob(store: BlobStore, key: string, uploaded: Uploaded, pollMs = POLL_MS): Promise<string> {
  for (;;) {
    const body = await store.get(inputPointerKey(key));
    if (body) {
      const p = JSON.parse(decoder.decode(body)) as Pointer;
      const ours = uploaded.versionId && p.input.versionId ? p.input.versionId === uploaded.versionId : p.input.etag === uploaded.etag;
      if (ours && p.state === 'failed') throw new JobFailedError(`the job could not start: ${p.reason ?? 'no reason given'}`);
      if (ours && p.job) return p.job;
    }
    await sleep(pollMs);
  }
}

export interface JobState {
  job: string;
  status?: JobStatus;
  slices?: number;
  partialsDone: number;
}

export async function jobState(store: BlobStore, job: string): Promise<JobState> {
  const [status, partials] = await Promise.all([readStatus(store, job), store.list(`${jobPrefix(job)}tree/0/`)]);
  return { job, ...(status ? { status } : {}), ...(status?.slices !== undefined ? { slices: status.slices } : {}), partialsDone: partials.length };
}

function failure(s: JobStatus): JobFailedError {
  return new JobFailedError(`job ${s.job} failed${s.slice !== undefined ? ` at slice ${s.slice}` : ''}: ${s.reason ?? 'no reason given'}`);
}

/** Follows a job until its result lands (returned) or it fails (thrown). */
export async function followJob(store: BlobStore, job: string, onState: (s: JobState) => void = () => {}, pollMs = POLL_MS): Promise<ResultDocument> {
  for (;;) {
    const s = await jobState(store, job);
    onState(s);
    if (s.status?.state === 'failed') throw failure(s.status);
    if (s.status?.state === 'done' && s.status.resultKey) {
      const body = await store.get(s.status.resultKey);
      if (body) return JSON.parse(decoder.decode(body)) as ResultDocument;
    }
    await sleep(pollMs);
  }
}

/**
 * --quiet promises an empty stderr on success; the SDK's notice that its future
 * versions need Node 22 is the one line it would print regardless (its own switch).
 */
function quietSdk(values: SubmitValues): void {
  if (values.quiet) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

function progressFor(values: SubmitValues): CountBar | undefined {
  const tty = process.stderr.isTTY === true;
  return !values.quiet && (tty || values.progress || !values.json) ? new CountBar({ stream: process.stderr, tty }) : undefined;
}

export async function submitCommand(args: string[], values: SubmitValues): Promise<number> {
  if (args.length !== 1) throw new UsageError('fanout submit takes exactly one input file');
  const path = args[0]!;
  quietSdk(values);
  const metadata = metadataFrom(values);
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
    uploaded = await uploadFile(client, bucket, key, path, metadata, (done, total) => upBar?.update({ label: 'upload', done, total, startedAt, unit: 'bytes' }));
  } finally {
    upBar?.finish();
  }
  say(`uploaded s3://${bucket}/${key}${uploaded.versionId ? ` (version ${uploaded.versionId})` : ''}; waiting for the coordinator`);
  const job = await waitForJob(store, key, uploaded);
  say(`job ${job}: fanout status ${job} --bucket ${bucket}`);
  if (values.detach) {
    if (values.json) process.stdout.write(`${JSON.stringify({ job, bucket, key })}\n`);
    return 0;
  }
  const jobBar = progressFor(values);
  const followedAt = Date.now();
  let doc: ResultDocument;
  try {
    doc = await followJob(store, job, (s) => s.slices !== undefined && jobBar?.update({ label: 'job', done: s.partialsDone, total: s.slices, startedAt: followedAt, unit: 'partials' }));
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
  if (s3) {
    const body = await store.get(inputPointerKey(s3.key));
    if (!body) throw new UsageError(`${args[0]}: no job has started for this object (no ${inputPointerKey(s3.key)})`);
    const p = JSON.parse(decoder.decode(body)) as Pointer;
    if (!p.job) throw new JobFailedError(`${args[0]}: the job could not start: ${p.reason ?? 'no reason given'}`);
    job = p.job;
  } else if (!/^[0-9a-f]{8,64}$/.test(job)) throw new UsageError(`${job}: not a job id or an s3:// location`);
  const s = await jobState(store, job);
  if (!s.status) throw new UsageError(`job ${job}: no status in s3://${bucket}/${jobPrefix(job)}`);
  if (values.json) process.stdout.write(`${JSON.stringify({ ...s.status, bucket, slices: s.slices, partialsDone: s.partialsDone }, null, 2)}\n`);
  else {
    const lines = [`job ${job} in s3://${bucket}: ${s.status.state} (as of ${s.status.at})`, `  input    s3://${bucket}/${s.status.input.key}`, `  slices   ${s.partialsDone}/${s.slices ?? '?'} partials written`];
    if (s.status.state === 'failed') lines.push(`  reason   ${s.status.reason ?? 'none given'}${s.status.slice !== undefined ? ` (slice ${s.status.slice})` : ''}`);
    if (s.status.resultKey) lines.push(`  result   s3://${bucket}/${s.status.resultKey}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  // A script can branch on it: 0 done, 3 still running, and a failed job exits like any failure.
  if (s.status.state === 'failed') throw failure(s.status);
  return s.status.state === 'done' ? 0 : 3;
}

