/**
 * One cloud job over several objects: a trajectory in parts. An S3 event names one object,
 * so the job is named by one: a small JSON **job file** uploaded under input/ with a name
 * ending in `.fanout.json`, listing the parts in frame order and, optionally, the job's
 * options:
 *
 *   input/runs/md.fanout.json   {"parts": ["md.part0001.xtc", "md.part0002.xtc"], "options": {"analysis": "rg"}}
 *
 * - Parts are keys relative to the job file's folder (input/runs/ here): subfolders are
 *   fine, `..`, `.`, empty segments and a leading `/` are not, so a part is always under
 *   input/, which is what the functions may read.
 * - `options` takes what a direct invoke of the coordinator takes (`analysis`,
 *   `sliceBytes`, `options` for the analysis, ...); the job file's own x-amz-meta-fanout-*
 *   metadata works too (options win over metadata).
 * - Parts are uploaded first, each with the metadata `fanout-part` (any value; `fanout
 *   submit` writes the job file's key), so that their own upload events start nothing;
 *   the job file last. The coordinator pins every part to its version (or ETag) when it
 *   plans, as it pins a single input; the job file's key owns the pointer and the result
 *   (results/<key below input/>.json), so its newest upload wins, as for any input.
 *
 * This file is the job file's vocabulary (shape, keys, encoding); lib/cloud/inputs.ts
 * reads one and opens its parts.
 */
import * as z from 'zod/mini';
import { UsageError } from '../core/errors.ts';
import { type JobOptions, parseJobOptions } from './options.ts';

export const JOB_FILE_SUFFIX = '.fanout.json';
/** Metadata of a part's upload: the coordinator starts no job for it. */
export const PART_METADATA = 'fanout-part';
/** A job file is a list of keys: a MiB holds tens of thousands. */
export const MAX_JOB_FILE_BYTES = 1 << 20;

export interface JobFile {
  /** keys relative to the job file's folder, in frame order */
  parts: string[];
  options?: JobOptions;
}

export const isJobFileKey = (key: string): boolean => key.endsWith(JOB_FILE_SUFFIX) && key.length > JOB_FILE_SUFFIX.length;

const schema = z.strictObject({
  version: z.optional(z.literal(1)),
  parts: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  options: z.optional(z.unknown()),
});

/** Parses a job file's bytes; `where` (its s3:// URL) starts every message. */
export function parseJobFile(body: Uint8Array, where: string): JobFile {
  if (body.length > MAX_JOB_FILE_BYTES) throw new UsageError(`${where}: a job file of ${body.length} bytes; at most ${MAX_JOB_FILE_BYTES} are read`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (e) {
    throw new UsageError(`${where}: not a job file: ${e instanceof Error ? e.message : String(e)} (a ${JOB_FILE_SUFFIX} upload is JSON: {"parts": ["part1.xtc", "part2.xtc"], "options": {"analysis": "rg"}})`);
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`);
    throw new UsageError(`${where}: not a job file (${problems.slice(0, 3).join('; ')}): it is {"parts": ["part1.xtc", ...], "options": {...}}`);
  }
  for (const part of r.data.parts) checkPartName(part, where);
  return { parts: r.data.parts, ...(r.data.options !== undefined ? { options: parseJobOptions(r.data.options, `${where} (options)`) } : {}) };
}

function checkPartName(part: string, where: string): void {
  const segments = part.split('/');
  if (part.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new UsageError(`${where}: part ${JSON.stringify(part)}: parts are keys relative to the job file's folder, without a leading /, empty, . or .. segments`);
  }
  if (isJobFileKey(part)) throw new UsageError(`${where}: part ${JSON.stringify(part)} is a job file itself: list the trajectory's parts`);
}

/** The parts' keys: relative to the job file's folder. */
export function partKeys(jobFileKey: string, file: JobFile): string[] {
  const folder = jobFileKey.slice(0, jobFileKey.lastIndexOf('/') + 1);
  return file.parts.map((p) => folder + p);
}

export function encodeJobFile(file: JobFile): string {
  return `${JSON.stringify({ parts: file.parts, ...(file.options && Object.keys(file.options).length > 0 ? { options: file.options } : {}) }, null, 2)}\n`;
}
