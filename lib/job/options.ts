/**
 * Every job option, declared once: its name, CLI flag, S3 metadata name, type, unit,
 * default, range, help, and where it applies (a local run, a cloud job, or both).
 *
 * Everything else is derived from JOB_OPTIONS: the zod schema that validates a direct
 * invoke, FANOUT_DEFAULTS and the CDK construct's `defaults`; the parsing of S3 user
 * metadata (`x-amz-meta-fanout-<option>`); the fanout command's flags and their help
 * (lib/cli/commands.ts); `fanout dev`'s job defaults; the construct's `FanoutDefaults`
 * type; `cdk/app.ts`'s context keys; and the option tables in README.md
 * (`npm run docs:options`, checked by test/cli/option-docs.test.ts).
 *
 * One value syntax everywhere: `64MiB` is a size on the command line, in metadata and in
 * JSON alike, and a value that does not parse is echoed back with what is accepted.
 * Cloud options are layered: deployment defaults, then the upload's metadata, then a
 * direct invoke's options; every layer is validated, so a typo fails the job with a
 * message naming the option instead of being silently ignored.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { UsageError } from '../core/errors.ts';
import { INPUT_FORMATS, type PlanOptions } from '../core/plan.ts';
import { formatRanges, parseRanges, RANGES_SYNTAX, RangesSyntaxError } from '../core/selection/ranges.ts';
import { parseByteSize } from '../core/units.ts';

// zod/mini (a fraction of zod's size in the worker bundle) ships without messages. Ours
// are written by the parsers below; the English ones cover the events (events.ts).
z.config(en());

export type OptionKind = 'int' | 'bytes' | 'enum' | 'string' | 'boolean' | 'shape' | 'map' | 'ranges';
/** where an option means something: `fanout run` (and plan), a cloud job, or both */
export type Applies = 'local' | 'cloud' | 'both';

export interface OptionSpec {
  kind: OptionKind;
  /** the flag when it is not `--<kebab-case name>` */
  flag?: string;
  /** the placeholder of the value in help: N, B, NAME, ... (an enum's is its values; a boolean has none) */
  valueName?: string;
  /** enum: the accepted values */
  values?: readonly string[];
  /** int and bytes: inclusive bounds (default: at least 1, no maximum) */
  min?: number;
  max?: number;
  /** what a number counts, for the docs: rows, bytes, slices, ... */
  unit?: string;
  /** int: the value of the flag given alone (`--skip-header` is `--skip-header 1`); `true` in metadata and JSON means it too, `false` 0 */
  flagAlone?: string;
  /** the value a job gets when no layer sets it */
  default?: unknown;
  /** the default in words, when it is computed rather than a constant */
  defaultText?: string;
  help: string;
  applies: Applies;
  /** the heading it is listed under in --help */
  group?: 'analysis' | 'input' | 'slicing';
}

const MiB = 1024 * 1024;

export const JOB_OPTIONS = {
  analysis: {
    kind: 'string',
    valueName: 'NAME|PATH',
    default: 'sum',
    help: 'sum, stats, row-sums, mean-structure, rg, rmsd, rmsf, rdf, or a module made with defineAnalysis() (on AWS: a built-in or the bundled analysis, by name)',
    applies: 'both',
    group: 'analysis',
  },
  options: { kind: 'map', flag: '--option', valueName: 'KEY=VALUE', help: 'an option passed to the analysis as ctx.options (repeatable)', applies: 'both', group: 'analysis' },
  atoms: {
    kind: 'ranges',
    valueName: 'RANGES',
    defaultText: 'every atom',
    help: 'the atoms (rows of a frame) to analyse, as 0-based inclusive index ranges: 0-213,500-599; the analysis sees only these rows of every frame (fanout run and submit: --select EXPR with --topology FILE)',
    applies: 'both',
    group: 'analysis',
  },
  fitAtoms: {
    kind: 'ranges',
    valueName: 'RANGES',
    help: 'the atoms superposed before measuring, for analyses that fit (rmsd, rmsf), as --atoms (or --fit-select EXPR)',
    applies: 'both',
    group: 'analysis',
  },
  atoms2: {
    kind: 'ranges',
    valueName: 'RANGES',
    help: 'a second group of atoms, for analyses between two groups (rdf), as --atoms (or --select2 EXPR)',
    applies: 'both',
    group: 'analysis',
  },
  frameRows: { kind: 'int', valueName: 'N', unit: 'rows', help: 'rows per frame, for row-sums on text, raw or 2-D inputs', applies: 'both', group: 'analysis' },
  format: {
    kind: 'enum',
    values: ['auto', ...INPUT_FORMATS],
    default: 'auto',
    help: 'auto recognizes .npy, DCD, XTC, TRR and NetCDF by their magic (or extension), anything else is text',
    applies: 'both',
    group: 'input',
  },
  dtype: { kind: 'string', valueName: 'T', help: "raw: element type in numpy's names: f8, <f4, >i2, u1, ...", applies: 'both', group: 'input' },
  recordShape: { kind: 'shape', valueName: 'A,B', help: 'raw: the shape of one record, e.g. 50,100 for a frame of 50 rows of 100', applies: 'both', group: 'input' },
  headerBytes: { kind: 'int', valueName: 'N', min: 0, unit: 'bytes', help: 'raw: bytes to skip at the start', applies: 'both', group: 'input' },
  delimiter: { kind: 'string', valueName: 'D', defaultText: 'detected', help: 'text: "," "tab" ";" "whitespace" ...', applies: 'both', group: 'input' },
  skipHeader: {
    kind: 'int',
    valueName: 'N',
    min: 0,
    unit: 'lines',
    flagAlone: '1',
    defaultText: 'detected: a first line with no number, followed by one with numbers',
    help: 'text: the first N non-comment lines are a header (--skip-header alone: 1; 0: none, not even a detected one)',
    applies: 'both',
    group: 'input',
  },
  missing: {
    kind: 'enum',
    values: ['fail', 'skip', 'count'],
    default: 'fail',
    help: "text: a missing value (an empty field, NA, NULL, nan and pandas' other spellings) is a bad record (fail; nan, inf are numbers then, as numpy reads them), leaves its record out (skip) or reads as NaN (count); counted per column in `missing`",
    applies: 'both',
    group: 'input',
  },
  columns: {
    kind: 'string',
    valueName: 'LIST',
    defaultText: 'all but text columns (text or nothing in the first two data lines, such as names: left out, and listed in the result)',
    help: 'text: the columns to read, by 0-based index or header name: 0,2 or x,y (any others may hold anything)',
    applies: 'both',
    group: 'input',
  },
  onBadRecord: {
    kind: 'enum',
    values: ['fail', 'skip'],
    default: 'fail',
    help: 'skip leaves bad lines out, counts them in `skipped` and shows the first few in `skippedExamples`',
    applies: 'both',
    group: 'input',
  },
  slices: {
    kind: 'int',
    valueName: 'N',
    unit: 'slices',
    defaultText: '16 slices of 1 to 64 MiB (more for inputs over 1 GiB; at least 16 frames a slice for mean-structure and row-sums), whatever --workers says',
    help: 'how many slices to cut the input into (on AWS the count follows --slice-bytes)',
    applies: 'local',
    group: 'slicing',
  },
  sliceBytes: {
    kind: 'bytes',
    valueName: 'B',
    unit: 'bytes',
    default: 64 * MiB,
    defaultText: '64 MiB on AWS; locally --slices decides',
    help: 'bytes per slice, instead of --slices (takes 64MiB, 1G, ...)',
    applies: 'both',
    group: 'slicing',
  },
  maxSlices: {
    kind: 'int',
    valueName: 'N',
    unit: 'slices',
    default: 10_000,
    help: 'the most slices a job is cut into: slices grow beyond --slice-bytes to stay under it',
    applies: 'cloud',
    group: 'slicing',
  },
  // Lambda's default concurrency quota of an account is 1000.
  concurrency: { kind: 'int', valueName: 'N', unit: 'invocations', max: 1000, default: 32, help: 'worker invocations in flight while the job starts', applies: 'cloud', group: 'slicing' },
  maxWorkers: {
    kind: 'int',
    valueName: 'N',
    unit: 'workers',
    max: 1000,
    defaultText: "the deployment's maxWorkersPerJob (100)",
    help: 'workers of the job running at once: the first N slices are invoked, and each finished slice invokes the next (at most the deployment allows)',
    applies: 'cloud',
    group: 'slicing',
  },
  toleratedFailures: {
    kind: 'int',
    valueName: 'N',
    unit: 'slices',
    min: 0,
    default: 0,
    help: 'slices that may fail (bad bytes, or failing past their retries) with the job still finishing: its result is marked incomplete and lists their byte ranges',
    applies: 'cloud',
    group: 'slicing',
  },
  toleratedFailurePercent: {
    kind: 'int',
    valueName: 'P',
    unit: 'percent',
    min: 0,
    max: 100,
    default: 0,
    help: 'the same as a percentage of the slices (the larger of the two counts wins)',
    applies: 'cloud',
    group: 'slicing',
  },
  workers: { kind: 'int', valueName: 'N', unit: 'threads', defaultText: 'the available parallelism', help: 'worker threads', applies: 'local', group: 'slicing' },
  stateDir: { kind: 'string', valueName: 'DIR', default: '.fanout', help: 'where partials are kept for resuming', applies: 'local', group: 'slicing' },
} as const satisfies Record<string, OptionSpec>;

/**
 * The merge tree's fan-in: a setting of the deployment (FANOUT_MERGE_FANIN, the construct's
 * `mergeFanIn`, `fanout plan|dev --fanin`), not of a job. A merge group is listed with one
 * ListObjectsV2 call, which returns at most 1000 keys.
 */
export const MERGE_FAN_IN = {
  kind: 'int',
  flag: '--fanin',
  valueName: 'G',
  unit: 'partials',
  min: 2,
  max: 1000,
  default: 32,
  help: 'partials per merge-tree node; the functions read it from FANOUT_MERGE_FANIN',
  applies: 'cloud',
  group: 'slicing',
} as const satisfies OptionSpec;

/**
 * What the deployment allows any job, whatever its upload's metadata says: construct
 * props, passed to the functions as environment variables. A job asking for more is
 * failed with a message naming the limit.
 */
export const STACK_LIMITS = {
  jobTimeoutSeconds: { kind: 'int', applies: 'cloud', env: 'FANOUT_JOB_TIMEOUT_SECONDS', unit: 'seconds', default: 3600, max: 30 * 24 * 3600, help: 'a job not finished this long after it started is failed' },
  maxSlices: { kind: 'int', applies: 'cloud', env: 'FANOUT_LIMIT_MAX_SLICES', unit: 'slices', default: 10_000, help: 'the most slices a job may ask for (fanout-max-slices)' },
  minSliceBytes: { kind: 'bytes', applies: 'cloud', env: 'FANOUT_LIMIT_MIN_SLICE_BYTES', unit: 'bytes', default: 4096, help: 'the smallest slice a job may ask for (fanout-slice-bytes)' },
  maxWorkersPerJob: { kind: 'int', applies: 'cloud', env: 'FANOUT_LIMIT_MAX_WORKERS', unit: 'workers', default: 100, max: 1000, help: 'the most workers one job may run at once (fanout-max-workers)' },
} as const satisfies Record<string, OptionSpec & { env: string }>;

export type StackLimits = { -readonly [K in keyof typeof STACK_LIMITS]: number };
export const DEFAULT_LIMITS: StackLimits = Object.fromEntries(Object.entries(STACK_LIMITS).map(([k, v]) => [k, v.default])) as StackLimits;

/** A job's options checked against the deployment's limits: a UsageError names the limit it exceeds. */
export function checkLimits(opts: JobOptions, limits: StackLimits, where: string): void {
  const refuse = (what: string) => {
    throw new UsageError(`${where}: ${what}`);
  };
  if (opts.maxSlices !== undefined && opts.maxSlices > limits.maxSlices) refuse(`${metadataOf('maxSlices')} ${opts.maxSlices} is more than this deployment allows (maxSlices ${limits.maxSlices})`);
  if (opts.sliceBytes !== undefined && opts.sliceBytes < limits.minSliceBytes) refuse(`${metadataOf('sliceBytes')} ${opts.sliceBytes} is less than this deployment allows (minSliceBytes ${limits.minSliceBytes})`);
  if (opts.maxWorkers !== undefined && opts.maxWorkers > limits.maxWorkersPerJob) refuse(`${metadataOf('maxWorkers')} ${opts.maxWorkers} is more than this deployment allows (maxWorkersPerJob ${limits.maxWorkersPerJob})`);
}

/** The slices of a job of `slices` slices that may fail: the larger of the count and the percentage. */
export function toleratedFailuresOf(opts: JobOptions, slices: number): number {
  return Math.max(opts.toleratedFailures ?? 0, Math.floor(((opts.toleratedFailurePercent ?? 0) * slices) / 100));
}

/**
 * The metadata `fanout submit` gives every upload, so that it can tell its upload from
 * another of the same bytes; not an option (the coordinator records it in the input pointer).
 */
export const UPLOAD_ID_METADATA = 'fanout-upload-id';

export type OptionName = keyof typeof JOB_OPTIONS;
type Specs = typeof JOB_OPTIONS;

/** The TypeScript type of an option's value, read off its declaration. */
export type ValueOf<S> = S extends { kind: 'int' | 'bytes' }
  ? number
  : S extends { kind: 'enum'; values: readonly (infer V)[] }
    ? V
    : S extends { kind: 'boolean' }
      ? boolean
      : S extends { kind: 'shape' }
        ? number[]
        : S extends { kind: 'map' }
          ? Record<string, string>
          : string;

type NamesFor<A extends Applies> = { [K in OptionName]: Specs[K]['applies'] extends A | 'both' ? K : never }[OptionName];

/** The options of a cloud job: what metadata, FANOUT_DEFAULTS, a direct invoke and the construct's `defaults` may set. */
export type JobOptions = { [K in NamesFor<'cloud'>]?: ValueOf<Specs[K]> };
/** The options of a local run, as the CLI parsed them. */
export type LocalOptions = { [K in NamesFor<'local'>]?: ValueOf<Specs[K]> };

export const optionNames = Object.keys(JOB_OPTIONS) as OptionName[];
export const appliesTo = (name: OptionName, where: 'local' | 'cloud'): boolean => {
  const a: Applies = JOB_OPTIONS[name].applies;
  return a === 'both' || a === where;
};
export const cloudOptionNames = optionNames.filter((n) => appliesTo(n, 'cloud')) as NamesFor<'cloud'>[];
export const localOptionNames = optionNames.filter((n) => appliesTo(n, 'local')) as NamesFor<'local'>[];

export const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const flagOf = (name: OptionName): string => (JOB_OPTIONS[name] as OptionSpec).flag ?? `--${kebab(name)}`;

const METADATA_PREFIX = 'fanout-';
const OPTION_PREFIX = 'fanout-option-';
/** The S3 user-metadata name (S3 lower-cases them, hence kebab-case); `options` is a prefix. */
export const metadataOf = (name: OptionName): string => (JOB_OPTIONS[name].kind === 'map' ? `${OPTION_PREFIX}<key>` : `${METADATA_PREFIX}${kebab(name)}`);

/** The declared constant default, where there is one. */
export function defaultOf<K extends OptionName>(name: K): ValueOf<Specs[K]> | undefined {
  return (JOB_OPTIONS[name] as OptionSpec).default as ValueOf<Specs[K]> | undefined;
}

export const DEFAULT_SLICE_BYTES = defaultOf('sliceBytes')!;
export const DEFAULT_MAX_SLICES = defaultOf('maxSlices')!;
export const DEFAULT_CONCURRENCY = defaultOf('concurrency')!;
export const DEFAULT_MERGE_FAN_IN = MERGE_FAN_IN.default;

/** The placeholder of an option's value in help and docs: N, B, auto|text|npy|raw|dcd. */
export function valueNameOf(spec: OptionSpec): string | undefined {
  if (spec.kind === 'boolean') return undefined;
  return spec.kind === 'enum' ? spec.values!.join('|') : (spec.valueName ?? 'VALUE');
}

const binaryUnits: [number, string][] = [
  [2 ** 40, 'TiB'],
  [2 ** 30, 'GiB'],
  [2 ** 20, 'MiB'],
  [2 ** 10, 'KiB'],
];

/**
 * An integer with thousands grouped as `toLocaleString('en-US')` writes it (`10,000`),
 * without it: the first `toLocaleString` of a process loads ICU's data (10-45 ms here),
 * and `fanout run` builds every option's help at start-up.
 */
function grouped(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US');
  const digits = String(Math.abs(n));
  let out = digits.slice(0, digits.length % 3 || 3);
  for (let i = out.length; i < digits.length; i += 3) out += ',' + digits.slice(i, i + 3);
  return n < 0 ? '-' + out : out;
}

/** The default as help and the README show it: `64 MiB`, `32`, `auto`, or its words. */
export function defaultDoc(spec: OptionSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  const d = spec.default;
  if (d === undefined || d === false) return undefined;
  if (spec.kind === 'bytes' && typeof d === 'number') {
    const unit = binaryUnits.find(([size]) => d % size === 0);
    if (unit) return `${d / unit[0]} ${unit[1]}`;
  }
  return typeof d === 'number' ? grouped(d) : String(d);
}

/** The range where it is not just "a positive integer": `0 or more`, `2 to 1000`. */
export function rangeDoc(spec: OptionSpec): string | undefined {
  if (spec.kind !== 'int' && spec.kind !== 'bytes') return undefined;
  const min = spec.min ?? 1;
  if (spec.max !== undefined) return `${min} to ${grouped(spec.max)}`;
  return min === 1 ? undefined : `${min} or more`;
}

// --- values -------------------------------------------------------------------------

/** A value that does not parse: `problem` says what is accepted and echoes what was given. */
export class OptionValueError extends UsageError {
  override name = 'OptionValueError';
  constructor(readonly problem: string) {
    super(problem);
  }
}

const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : typeof v === 'object' ? JSON.stringify(v) : String(v));
const either = (values: readonly string[]): string => (values.length === 1 ? values[0]! : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`);

/** "of at least 1", "from 2 to 1000" */
export function rangeText(spec: Pick<OptionSpec, 'min' | 'max'>): string {
  const min = spec.min ?? 1;
  return spec.max === undefined ? `of at least ${min}` : `from ${min} to ${spec.max}`;
}

/** What the option accepts, as a predicate: "takes an integer from 2 to 1000". */
export function acceptsText(spec: OptionSpec): string {
  switch (spec.kind) {
    case 'int':
      return `takes an integer ${rangeText(spec)}${spec.flagAlone !== undefined ? `, true (${spec.flagAlone}) or false (0)` : ''}`;
    case 'bytes':
      return 'takes a size such as 1048576, 64MiB or 1G';
    case 'enum':
      return `must be ${either(spec.values!)}`;
    case 'boolean':
      return 'must be true or false';
    case 'shape':
      return 'takes positive integers such as 50,100';
    case 'map':
      return 'takes KEY=VALUE';
    case 'string':
      return 'takes a non-empty value';
    case 'ranges':
      return `takes ${RANGES_SYNTAX}`;
  }
}

function intIn(spec: Pick<OptionSpec, 'min' | 'max'>, v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= (spec.min ?? 1) && n <= (spec.max ?? Number.MAX_SAFE_INTEGER) ? n : undefined;
}

/**
 * Parses one value of an option, from text (command line, metadata, context) or from
 * JSON (a direct invoke, FANOUT_DEFAULTS, the construct). Throws OptionValueError with
 * the accepted syntax and the value given.
 */
export function parseOptionValue(spec: OptionSpec, v: unknown): unknown {
  const fail = (): never => {
    throw new OptionValueError(`${acceptsText(spec)}, not ${shown(v)}`);
  };
  switch (spec.kind) {
    case 'int':
      if (spec.flagAlone !== undefined && (v === true || v === 'true')) return Number(spec.flagAlone);
      if (spec.flagAlone !== undefined && (v === false || v === 'false')) return 0;
      return intIn(spec, v) ?? fail();
    case 'bytes': {
      const n = typeof v === 'string' ? parseByteSize(v) : v;
      if (typeof n === 'number' && Number.isSafeInteger(n) && n >= (spec.min ?? 1) && n <= (spec.max ?? Number.MAX_SAFE_INTEGER)) return n;
      return fail();
    }
    case 'enum':
      return typeof v === 'string' && spec.values!.includes(v) ? v : fail();
    case 'boolean':
      if (typeof v === 'boolean') return v;
      return v === 'true' ? true : v === 'false' ? false : fail();
    case 'shape': {
      const parts = typeof v === 'string' ? v.split(/[,x]/).map((p) => p.trim()) : Array.isArray(v) ? v : [];
      const dims = parts.map((p) => intIn({ min: 1 }, p));
      return dims.length > 0 && dims.every((d) => d !== undefined) ? dims : fail();
    }
    case 'map':
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) return fail();
      return { ...(v as Record<string, string>) };
    case 'string':
      return typeof v === 'string' && v.length > 0 ? v : fail();
    case 'ranges':
      if (typeof v !== 'string') return fail();
      try {
        return formatRanges(parseRanges(v));
      } catch (e) {
        if (e instanceof RangesSyntaxError) throw new OptionValueError(e.message.startsWith('takes') ? `${e.message}` : `takes ${RANGES_SYNTAX}: ${e.message}`);
        throw e;
      }
  }
}

/** A value as metadata or context text: the inverse of parseOptionValue for text. */
export function formatOptionValue(spec: OptionSpec, v: unknown): string {
  return spec.kind === 'shape' ? (v as number[]).join(',') : String(v);
}

/** One `--option KEY=VALUE`. */
export function parseKeyValue(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new OptionValueError(`takes KEY=VALUE, not ${JSON.stringify(text)}`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

// --- the schema ---------------------------------------------------------------------

function fieldSchema(spec: OptionSpec) {
  return z.transform((v: unknown, payload) => {
    try {
      return parseOptionValue(spec, v);
    } catch (e) {
      if (!(e instanceof OptionValueError)) throw e;
      payload.issues.push({ code: 'custom', message: e.problem, input: v });
      return z.NEVER;
    }
  });
}

let schema: z.ZodMiniType<JobOptions, unknown> | undefined;

/**
 * Strict: an unknown option is an error, not something silently ignored. Built on first
 * use: building it costs a few ms at the start of every process and thread that imports
 * this module, and a local run validates its options without it.
 */
export function jobOptionsSchema(): z.ZodMiniType<JobOptions, unknown> {
  return (schema ??= z.partial(z.strictObject(Object.fromEntries(cloudOptionNames.map((n) => [n, fieldSchema(JOB_OPTIONS[n])])))) as unknown as z.ZodMiniType<JobOptions, unknown>);
}

/**
 * Validates options given as an object (a direct invoke, FANOUT_DEFAULTS, the construct's
 * defaults, parsed flags). `nameOf` names an option as the user wrote it (a flag, a
 * metadata name); by default its camelCase name.
 */
export function parseJobOptions(value: unknown, where: string, nameOf: (name: string) => string = (n) => n): JobOptions {
  const r = jobOptionsSchema().safeParse(value);
  if (!r.success) {
    const problems = r.error.issues.map((i) => {
      if (i.code === 'unrecognized_keys') return `unknown option${i.keys.length > 1 ? 's' : ''} ${i.keys.map(nameOf).join(', ')} (known: ${cloudOptionNames.map(nameOf).join(', ')})`;
      const [first] = i.path;
      return first === undefined ? i.message : `${nameOf(String(first))} ${i.message}`;
    });
    throw new UsageError(`${where}: invalid fanout options: ${problems.join('; ')}`);
  }
  return r.data;
}

const byMetadataName = new Map(cloudOptionNames.filter((n) => JOB_OPTIONS[n].kind !== 'map').map((n) => [metadataOf(n), n]));

/**
 * Options from S3 user metadata: `fanout-frame-rows` sets frameRows, `fanout-option-ddof`
 * sets the analysis option ddof. Metadata not starting with `fanout-` belongs to someone
 * else and is left alone; an error names the metadata as the user wrote it.
 */
export function optionsFromMetadata(metadata: Record<string, string> | undefined, where: string): JobOptions {
  const raw: Record<string, unknown> = {};
  const analysisOptions: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata ?? {})) {
    const key = name.toLowerCase();
    if (key === UPLOAD_ID_METADATA) continue;
    if (key.startsWith(OPTION_PREFIX)) analysisOptions[key.slice(OPTION_PREFIX.length)] = value;
    else if (key.startsWith(METADATA_PREFIX)) raw[byMetadataName.get(key) ?? key] = value;
  }
  if (Object.keys(analysisOptions).length > 0) raw.options = analysisOptions;
  return parseJobOptions(raw, `${where} (x-amz-meta-fanout-* metadata)`, (n) => (n in JOB_OPTIONS ? metadataOf(n as OptionName) : n));
}

/** The metadata that carries these options: what `fanout submit` attaches to an upload. */
export function metadataFor(opts: JobOptions): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const name of cloudOptionNames) {
    const v = opts[name];
    if (v === undefined) continue;
    if (name === 'options') for (const [k, x] of Object.entries(v as Record<string, string>)) meta[`${OPTION_PREFIX}${k.toLowerCase()}`] = x;
    else meta[metadataOf(name)] = formatOptionValue(JOB_OPTIONS[name], v);
  }
  return meta;
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

/** What the planner needs to read the input, the same for both runtimes; how it is cut is each runtime's. */
export function inputPlanOptions(opts: JobOptions): Omit<PlanOptions, 'slices' | 'sliceBytes'> {
  return {
    format: opts.format ?? defaultOf('format'),
    dtype: opts.dtype,
    recordShape: opts.recordShape,
    headerBytes: opts.headerBytes,
    frameRows: opts.frameRows,
    delimiter: opts.delimiter,
    skipHeader: opts.skipHeader ?? defaultOf('skipHeader'),
    missing: opts.missing ?? defaultOf('missing'),
    columns: opts.columns,
    onBadRecord: opts.onBadRecord ?? defaultOf('onBadRecord'),
    atoms: opts.atoms,
    fitAtoms: opts.fitAtoms,
    atoms2: opts.atoms2,
  };
}

/** The planner's options for a cloud job: the slice count is sliceBytes-based, capped at maxSlices. */
export function planOptionsFor(opts: JobOptions, inputBytes: number): PlanOptions {
  return { ...inputPlanOptions(opts), slices: cloudSliceCount(inputBytes, opts.sliceBytes, opts.maxSlices) };
}

/** How many slices a cloud job cuts an input of this size into (`fanout plan` shows the same). */
export function cloudSliceCount(inputBytes: number, sliceBytes = DEFAULT_SLICE_BYTES, maxSlices = DEFAULT_MAX_SLICES): number {
  return Math.max(1, Math.min(maxSlices, Math.ceil(inputBytes / sliceBytes)));
}
