/**
 * The fanout command line: parses options, wires the local runtime, prints.
 * Exit codes: 0 success, 2 bad input or usage (message names file and byte offset),
 * 1 anything unexpected (a bug: the stack is printed).
 */
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FanoutError, UsageError } from '../core/errors.ts';
import type { Format, PlanOptions } from '../core/plan.ts';
import { type LocalRunOptions, runLocal } from '../local/run.ts';
import { DEV_OPTIONS, DEV_USAGE, PLAN_OPTIONS, PLAN_USAGE, REPORT_OPTIONS, REPORT_USAGE, SUBMIT_OPTIONS, SUBMIT_USAGE } from './commands.ts';
import { writeDemoTrajectory } from './demo.ts';
import { parseByteSize } from '../core/units.ts';
import { ProgressBar } from './progress.ts';
import { summarize } from './summary.ts';

const USAGE = `Usage: fanout run <input> [options]
       fanout demo [--frames N]
${REPORT_USAGE}
${PLAN_USAGE}
${SUBMIT_USAGE}
${DEV_USAGE}

Runs an exact analysis over one large file (CSV/TSV/whitespace text, .npy, raw binary),
in slices on worker threads, resumable after an interruption.

Analysis
  --analysis NAME|PATH     sum (default), stats, row-sums, mean-structure, rg, or a module made with defineAnalysis()
  --option KEY=VALUE       an option passed to the analysis (repeatable)
  --frame-rows N           rows per frame for row-sums on text, raw or 2-D inputs

Input
  --format auto|text|npy|raw|dcd   (default auto: .npy and DCD by their magic, otherwise text)
  --dtype T                raw: element type: f8, <f4, >i2, u1, ... (numpy names)
  --record-shape A,B       raw: shape of one record, e.g. 50,100 (a frame of 50 rows)
  --header-bytes N         raw: bytes to skip at the start
  --delimiter D            text: "," "tab" "whitespace" ";" ... (default: detect)
  --skip-header            text: the first non-comment line is a header
  --on-bad-record fail|skip   (default fail)

Parallelism and state
  --slices N | --slice-bytes B   how to cut the input (default: 16 slices of 1 to 64 MiB)
  --workers N              worker threads (default: available parallelism)
  --state-dir DIR          where partials are kept for resuming (default .fanout)

Output
  --json                   print the result document as JSON on stdout
  --out FILE               also write the result document to FILE
  --progress               show progress even when stderr is not a terminal
  --quiet                  no progress, no summary
`;

const OPTIONS = {
  analysis: { type: 'string' },
  option: { type: 'string', multiple: true },
  format: { type: 'string' },
  dtype: { type: 'string' },
  'record-shape': { type: 'string' },
  'header-bytes': { type: 'string' },
  'frame-rows': { type: 'string' },
  delimiter: { type: 'string' },
  'skip-header': { type: 'boolean' },
  slices: { type: 'string' },
  'slice-bytes': { type: 'string' },
  workers: { type: 'string' },
  json: { type: 'boolean' },
  out: { type: 'string' },
  'on-bad-record': { type: 'string' },
  progress: { type: 'boolean' },
  quiet: { type: 'boolean' },
  'state-dir': { type: 'string' },
  frames: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

// Options of the other commands, kept next to them; one strict parser for all.
const ALL_OPTIONS = { ...OPTIONS, ...REPORT_OPTIONS, ...PLAN_OPTIONS, ...SUBMIT_OPTIONS, ...DEV_OPTIONS } as const;

function positiveInt(name: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) < min) throw new UsageError(`--${name} takes an integer of at least ${min}, not ${JSON.stringify(text)}`);
  return Number(text);
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export function runOptionsFrom(values: Values): LocalRunOptions {
  const format = (values.format ?? 'auto') as Format;
  if (!['auto', 'text', 'npy', 'raw', 'dcd', 'xtc', 'trr', 'netcdf'].includes(format)) throw new UsageError(`--format must be auto, text, npy, raw, dcd, xtc, trr or netcdf, not ${JSON.stringify(values.format)}`);
  const onBad = values['on-bad-record'] ?? 'fail';
  if (onBad !== 'fail' && onBad !== 'skip') throw new UsageError('--on-bad-record must be fail or skip');
  if (values.slices !== undefined && values['slice-bytes'] !== undefined) throw new UsageError('give --slices or --slice-bytes, not both');
  let sliceBytes: number | undefined;
  if (values['slice-bytes'] !== undefined) {
    sliceBytes = parseByteSize(values['slice-bytes']);
    if (sliceBytes === undefined) throw new UsageError(`--slice-bytes takes a size such as 1048576, 64MiB or 1G, not ${JSON.stringify(values['slice-bytes'])}`);
  }
  const recordShape = values['record-shape']?.split(/[,x]/).map((s) => positiveInt('record-shape', s.trim())!);
  const analysisOptions: Record<string, string> = {};
  for (const kv of values.option ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--option takes KEY=VALUE, not ${JSON.stringify(kv)}`);
    analysisOptions[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const workers = positiveInt('workers', values.workers) ?? availableParallelism();
  const plan: PlanOptions = {
    format,
    dtype: values.dtype,
    recordShape,
    headerBytes: positiveInt('header-bytes', values['header-bytes'], 0),
    frameRows: positiveInt('frame-rows', values['frame-rows']),
    delimiter: values.delimiter,
    skipHeader: values['skip-header'] ?? false,
    slices: positiveInt('slices', values.slices),
    sliceBytes,
    onBadRecord: onBad,
  };
  return {
    ...plan,
    analysis: values.analysis ?? 'sum',
    analysisOptions,
    stateDir: resolve(values['state-dir'] ?? '.fanout'),
    workers,
  };
}

/** s3://bucket/key: the local runtime reads the object by ranges, pinned to the version it was planned on. */
async function openS3Input(url: string) {
  return (await import('../cloud/aws/s3-source.ts')).openS3Url(url);
}

async function run(input: string, values: Values): Promise<void> {
  const opts = runOptionsFrom(values);
  const quiet = values.quiet ?? false;
  const tty = process.stderr.isTTY === true;
  const bar = !quiet && (tty || values.progress) ? new ProgressBar({ stream: process.stderr, tty }) : undefined;
  let doc;
  try {
    doc = await runLocal(input, { ...opts, onProgress: (p) => bar?.update(p), openSource: input.startsWith('s3://') ? openS3Input : undefined });
  } finally {
    bar?.finish();
  }
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (values.out) await writeFile(values.out, text);
  if (values.json) process.stdout.write(text);
  else if (!quiet) process.stdout.write(`${summarize(doc)}\n`);
}

async function demo(values: Values): Promise<void> {
  const frames = positiveInt('frames', values.frames) ?? 4000;
  const path = join(resolve(values['state-dir'] ?? '.fanout'), 'demo', `trajectory-${frames}x50x100.npy`);
  process.stderr.write(`Writing a sample trajectory (${frames} frames of 50 x 100 float64) to ${path}\n`);
  await writeDemoTrajectory(path, frames);
  process.stderr.write(`Running: fanout run ${path} --analysis row-sums --progress\n`);
  await run(path, { ...values, analysis: 'row-sums', progress: true });
}

export async function main(argv: string[]): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: ALL_OPTIONS, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    const [command, ...rest] = positionals;
    if (values.help || command === undefined || command === 'help') {
      process.stdout.write(USAGE);
      return command === undefined && !values.help ? 2 : 0;
    }
    if (command === 'run') {
      if (rest.length !== 1) throw new UsageError('fanout run takes exactly one input file');
      await run(rest[0]!, values);
      return 0;
    }
    if (command === 'report') return await (await import('./report-command.ts')).reportCommand(rest, values);
    if (command === 'plan') return await (await import('./plan-command.ts')).planCommand(rest, values, runOptionsFrom(values), parseByteSize);
    if (command === 'submit') return await (await import('./submit-command.ts')).submitCommand(rest, values, parseByteSize);
    if (command === 'status') return await (await import('./submit-command.ts')).statusCommand(rest, values);
    if (command === 'dev') return await (await import('./dev-command.ts')).devCommand(values);
    if (command === 'demo') {
      await demo(values);
      return 0;
    }
    throw new UsageError(`unknown command ${JSON.stringify(command)} (try fanout --help)`);
  } catch (e) {
    return reportError(e);
  }
}

function reportError(e: unknown): number {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof FanoutError) {
    process.stderr.write(`fanout: ${err.message}\n`);
    return 2;
  }
  if (err?.code === 'ENOENT' || err?.code === 'EACCES' || err?.code === 'EISDIR') {
    process.stderr.write(`fanout: ${err.path ?? ''}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : 'permission denied'}\n`);
    return 2;
  }
  process.stderr.write(`fanout: internal error: ${err?.stack ?? String(e)}\n`);
  return 1;
}
