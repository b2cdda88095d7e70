/**
 * Job options of the cloud pipeline: defaults (from the deployment) overlaid with the
 * uploaded object's user metadata (`x-amz-meta-fanout-<option>`) and, for a direct
 * invoke, the options it names. Every layer is validated: a typo in metadata fails the
 * job with a message that names the option, instead of being silently ignored.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { UsageError } from '../core/errors.ts';
import type { PlanOptions } from '../core/plan.ts';

// zod/mini (a fraction of zod's size in the worker bundle) ships without messages: every
// issue would read "Invalid input". These errors are read by someone who mistyped an
// option, so the English messages are installed (for events.ts too, which imports this).
z.config(en());

const positiveInt = z.pipe(z.coerce.number(), z.int().check(z.minimum(1)));
const nonEmpty = z.string().check(z.minLength(1));

// Metadata gives strings ("50,100"), a direct invoke may give an array: the string is
// parsed first, so that a malformed one gets its own message.
const shape = z.pipe(
  z.transform((v: unknown, payload) => {
    if (typeof v !== 'string') return v;
    const parts = v.split(/[,x]/).map((p) => p.trim());
    if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) {
      payload.issues.push({ code: 'custom', message: 'takes positive integers such as 50,100', input: v });
      return z.NEVER;
    }
    return parts.map(Number);
  }),
  z.array(positiveInt).check(z.minLength(1)),
);

export const jobOptionsSchema = z.partial(
  z.strictObject({
    analysis: nonEmpty,
    /** free-form analysis options (metadata `fanout-option-<key>`) */
    options: z.record(z.string(), z.string()),
    frameRows: positiveInt,
    sliceBytes: positiveInt,
    maxSlices: positiveInt,
    delimiter: nonEmpty,
    skipHeader: z.union([z.boolean(), z.pipe(z.enum(['true', 'false']), z.transform((s) => s === 'true'))]),
    format: z.enum(['auto', 'text', 'npy', 'raw', 'dcd', 'xtc', 'trr', 'netcdf']),
    dtype: nonEmpty,
    recordShape: shape,
    headerBytes: z.pipe(z.coerce.number(), z.int().check(z.minimum(0))),
    onBadRecord: z.enum(['fail', 'skip']),
    concurrency: positiveInt,
  }),
);

export type JobOptions = z.output<typeof jobOptionsSchema>;

/** The built-in default: 64 MiB slices, at most 10,000 of them. */
export const DEFAULT_SLICE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_SLICES = 10_000;

export function parseJobOptions(value: unknown, where: string): JobOptions {
  const r = jobOptionsSchema.safeParse(value);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
    throw new UsageError(`${where}: invalid fanout options: ${problems}`);
  }
  return r.data;
}

const METADATA_PREFIX = 'fanout-';
const OPTION_PREFIX = 'fanout-option-';

const kebabToCamel = (s: string): string => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Options from S3 user metadata. S3 lower-cases metadata names, so they are kebab-case:
 * `fanout-frame-rows` sets frameRows, `fanout-option-ddof` sets the analysis option ddof.
 * Metadata not starting with `fanout-` belongs to someone else and is left alone.
 */
export function optionsFromMetadata(metadata: Record<string, string> | undefined, where: string): JobOptions {
  const raw: Record<string, unknown> = {};
  const analysisOptions: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) {
    const key = name.toLowerCase();
    if (key.startsWith(OPTION_PREFIX)) analysisOptions[key.slice(OPTION_PREFIX.length)] = value;
    else if (key.startsWith(METADATA_PREFIX)) raw[kebabToCamel(key.slice(METADATA_PREFIX.length))] = value;
  }
  if (Object.keys(analysisOptions).length > 0) raw.options = analysisOptions;
  return parseJobOptions(raw, `${where} (x-amz-meta-fanout-* metadata)`);
}

/** Later layers win; analysis options merge key by key. */
export function mergeJobOptions(...layers: JobOptions[]): JobOptions {
  const out: JobOptions = {};
  for (const layer of layers) {
    const { options, ...rest } = layer;
    Object.assign(out, Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)));
    if (options) out.options = { ...out.options, ...options };
  }
  return out;
}

/** The planner's options: the slice count is sliceBytes-based, capped at maxSlices. */
export function planOptionsFor(opts: JobOptions, inputBytes: number): PlanOptions {
  const sliceBytes = opts.sliceBytes ?? DEFAULT_SLICE_BYTES;
  const maxSlices = opts.maxSlices ?? DEFAULT_MAX_SLICES;
  const slices = Math.max(1, Math.min(maxSlices, Math.ceil(inputBytes / sliceBytes)));
  return {
    format: opts.format ?? 'auto',
    dtype: opts.dtype,
    recordShape: opts.recordShape,
    headerBytes: opts.headerBytes,
    frameRows: opts.frameRows,
    delimiter: opts.delimiter,
    skipHeader: opts.skipHeader ?? false,
    slices,
    onBadRecord: opts.onBadRecord ?? 'fail',
  };
}
