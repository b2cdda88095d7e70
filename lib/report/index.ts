/** `fanout report`: find a job's documents, build the model, render the page and charts. */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { makeS3Client } from '../cloud/aws/s3-client.ts';
import { parseS3Url } from '../cloud/aws/s3-source.ts';
import { S3Store } from '../cloud/aws/s3-store.ts';
import { LocalDirStore } from '../local/local-store.ts';
import { UsageError } from '../core/errors.ts';
import type { ResultDocument } from '../core/job.ts';
import { besideKey, decodeResult, DocumentError, withArrays } from '../job/documents.ts';
import type { BlobStore } from '../job/ports.ts';
import { JOBS_PREFIX, jobOfKey } from '../job/keys.ts';
import { type Chart, renderCharts } from './charts.ts';
import { renderHtml } from './html.ts';
import { JobNotFoundError, type JobData, loadJob } from './job-data.ts';
import { buildModel, type ReportModel } from './model.ts';

export { buildModel, renderCharts, renderHtml };

const JOB_ID = /^[0-9a-f]{8,64}$/;

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A result document with its large arrays (.npy files beside it) read, when they are
 * there: a report of a document copied without them still shows everything else.
 */
async function withArraysIfThere(doc: ResultDocument, where: string, read: (name: string) => Promise<Uint8Array | undefined>): Promise<ResultDocument> {
  try {
    return { ...doc, result: await withArrays(doc.result, where, read) };
  } catch (e) {
    if (e instanceof DocumentError) return doc;
    throw e;
  }
}

/**
 * What the user named: a result document (a file, or an S3 object), a job id in the
 * local state dir, or any s3:// key under jobs/<id>/.
 */
export async function locateJob(target: string, options: { stateDir: string; store?: BlobStore }): Promise<JobData> {
  const s3 = parseS3Url(target);
  if (s3 || target.startsWith('s3://')) {
    if (!s3) throw new UsageError(`${target}: an S3 location is written s3://bucket/key`);
    const store = options.store ?? new S3Store(makeS3Client(), s3.bucket);
    const where = `s3://${s3.bucket}`;
    const job = jobOfKey(s3.key);
    if (job) return loadJob(store, job, where);
    const body = await store.get(s3.key);
    if (!body) throw new JobNotFoundError(`${target}: no such object`);
    const doc = await withArraysIfThere(decodeResult(body, target), target, (name) => store.get(besideKey(s3.key, name)));
    return loadJob(store, doc.job, where, { doc });
  }
  if (await exists(target)) {
    const read = async (name: string) => readFile(join(dirname(target), name)).catch(() => undefined);
    const doc = await withArraysIfThere(decodeResult(await readFile(target), target), target, read);
    // A result.json inside a state dir (<root>/jobs/<id>/result.json) names its own root.
    const dir = dirname(resolve(target));
    const root = basename(dir) === doc.job && basename(dirname(dir)) === JOBS_PREFIX.slice(0, -1) ? dirname(dirname(dir)) : options.stateDir;
    return loadJob(new LocalDirStore(root), doc.job, root, { doc });
  }
  if (JOB_ID.test(target)) return loadJob(new LocalDirStore(options.stateDir), target, options.stateDir);
  throw new UsageError(`${target}: not a file, a job id or an s3:// location`);
}

export interface ReportOutput {
  model: ReportModel;
  charts: Chart[];
  html: string;
}

export async function buildReport(data: JobData): Promise<ReportOutput> {
  const model = buildModel(data);
  const charts = await renderCharts(model);
  return { model, charts, html: renderHtml(model, charts) };
}

export async function writeReport(out: ReportOutput, paths: { html?: string; svgDir?: string }): Promise<string[]> {
  const written: string[] = [];
  if (paths.html) {
    await mkdir(dirname(resolve(paths.html)), { recursive: true });
    await writeFile(paths.html, out.html);
    written.push(paths.html);
  }
  if (paths.svgDir) {
    await mkdir(paths.svgDir, { recursive: true });
    for (const c of out.charts) {
      const file = join(paths.svgDir, `${c.name}.svg`);
      await writeFile(file, c.svg.startsWith('<?xml') ? c.svg : `<?xml version="1.0" encoding="UTF-8"?>\n${c.svg}`);
      written.push(file);
    }
  }
  return written;
}
