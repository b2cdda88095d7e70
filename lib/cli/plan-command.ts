/**
 * `fanout plan <file | s3://... | --bytes N> [run options]`: how the job would be cut,
 * locally and on AWS, and what it would cost there, without scanning anything.
 */
import { UsageError } from '../core/errors.ts';
import { describeCompression } from '../core/compressed/plan.ts';
import { progressBytes } from '../core/job.ts';
import { PartsSource } from '../core/parts.ts';
import { type JobSpec, type PlanOptions, planJob, sliceBounds } from '../core/plan.ts';
import type { ByteSource } from '../core/source.ts';
import { openFiles } from '../local/file-source.ts';
import { cloudSliceCount, MERGE_FAN_IN, OptionValueError, parseOptionValue } from '../job/options.ts';
import { type CloudPlan, estimateCloud, type Requests } from '../report/estimate.ts';
import { type LocalRunOptions } from '../local/run.ts';
import { analysisRef } from '../job/analysis-loader.ts';
import { formatBytes } from '../core/units.ts';
import { AWS_OPTIONS } from './commands.ts';

/** The worker memory the CDK construct deploys by default (FanoutPipeline's memorySize). */
export const DEFAULT_MEMORY_MB = AWS_OPTIONS.memory.default;

/** As the command line parsed them (lib/cli/commands.ts). */
export interface PlanValues {
  bytes?: number;
  region?: string;
  memory?: number;
  fanin?: number;
  json?: boolean;
}

/** An input of N bytes of one-number lines, for planning a file that does not exist yet. */
class SizedTextSource implements ByteSource {
  readonly name: string;
  constructor(readonly size: number) {
    this.name = `(${size} bytes of text)`;
  }
  async *chunks(start: number, end: number): AsyncIterable<Uint8Array> {
    const block = new Uint8Array(1 << 16).fill(48);
    for (let i = 1; i < block.length; i += 2) block[i] = 10;
    for (let at = start; at < end; ) {
      // even offsets hold a digit, odd ones a newline: keep that phase
      const off = at % 2;
      const n = Math.min(block.length - off, end - at);
      yield block.subarray(off, off + n);
      at += n;
    }
  }
}

export interface SlicePlan {
  slices: number;
  minBytes: number;
  maxBytes: number;
  totalBytes: number;
  sliceBytes: number[];
  /** a trajectory in parts: the first and last slice that hold bytes of each part (a slice may run from one part into the next) */
  parts?: { path: string; slices: [number, number] }[];
}

function slicePlan(spec: JobSpec, source: ByteSource): SlicePlan {
  // A compressed stream's decompressed size is unknown: its one slice is counted in compressed bytes.
  const sliceBytes = Array.from({ length: spec.sliceCount }, (_, i) => progressBytes(spec, i));
  const plan: SlicePlan = { slices: spec.sliceCount, minBytes: Math.min(...sliceBytes), maxBytes: Math.max(...sliceBytes), totalBytes: sliceBytes.reduce((a, b) => a + b, 0), sliceBytes };
  if (source instanceof PartsSource) plan.parts = partSlices(spec, source);
  return plan;
}

/** For each part, the first and last slice whose bytes [start, end) overlap it. */
function partSlices(spec: JobSpec, parts: PartsSource): { path: string; slices: [number, number] }[] {
  const bounds = Array.from({ length: spec.sliceCount }, (_, i) => sliceBounds(spec, i));
  return parts.parts.map((part, p) => {
    const from = parts.starts[p]!;
    const to = parts.starts[p + 1]!;
    const overlapping = bounds.flatMap(({ start, end }, i) => (start < to && end > from ? [i] : []));
    return { path: part.name, slices: [overlapping[0] ?? -1, overlapping[overlapping.length - 1] ?? -1] };
  });
}

export async function planCommand(args: string[], values: PlanValues, runOptions: LocalRunOptions): Promise<number> {
  if (values.bytes !== undefined ? args.length > 0 : args.length === 0) throw new UsageError('fanout plan takes an input file (or the parts of one trajectory), an s3:// object, or --bytes N');
  // The inputs run takes: one file or object, or the parts of one trajectory (local files), planned as one job.
  if (args.length > 1 && args.some((a) => a.startsWith('s3://'))) throw new UsageError('an input in parts is read from local files only: give one s3:// object, or the local parts');
  let source: ByteSource & { close?: () => Promise<void> };
  if (values.bytes !== undefined) source = new SizedTextSource(values.bytes); else if (args[0]!.startsWith('s3://')) source = await (await import('../cloud/aws/s3-source.ts')).openS3Url(args[0]!);
  else source = await openFiles(args);
  const fanin = values.fanin ?? fanInFromEnv();
  const memoryMb = values.memory ?? DEFAULT_MEMORY_MB;
  const region = values.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  try {
    const ref = await analysisRef(runOptions.analysis, runOptions.analysisOptions);
    const local = await planJob(source, ref, runOptions, 'plan');
    // The cloud cuts by --slices if given, else by slice size (64 MiB by default), capped.
    const cloudOptions: PlanOptions = { ...runOptions, sliceBytes: undefined, slices: runOptions.slices ?? cloudSliceCount(source.size, runOptions.sliceBytes) };
    const cloudSpec = await planJob(source, ref, cloudOptions, 'plan');
    const localPlan = slicePlan(local, source);
    const cloudSlices = slicePlan(cloudSpec, source);
    const cloud = estimateCloud({ slices: cloudSlices.slices, sliceBytes: cloudSlices.sliceBytes, binary: cloudSpec.layout.kind !== 'text', fanin, memoryMb, region, inputBytes: source.size });
    if (values.json) {
      const strip = ({ sliceBytes: _s, ...rest }: SlicePlan) => rest;
      process.stdout.write(`${JSON.stringify({ input: { name: source.name, bytes: source.size, format: local.format, ...(local.shape ? { shape: local.shape } : {}), ...(local.input.parts ? { parts: local.input.parts.map((q) => ({ path: q.name, bytes: q.bytes })) } : {}) }, analysis: local.analysis.name, local: { workers: runOptions.workers, ...strip(localPlan) }, cloud: { memoryMb, fanin, ...strip(cloudSlices), ...cloud } }, null, 2)}\n`);
    } else {
      process.stdout.write(`${describePlan(local, localPlan, runOptions.workers, cloudSlices, cloud, { memoryMb, fanin })}\n`);
    }
    return 0;
  } finally {
    await source.close?.();
  }
}

/** The deployment's fan-in, as the functions read it (functions/config.ts). */
function fanInFromEnv(): number {
  const text = process.env.FANOUT_MERGE_FANIN?.trim();
  if (!text) return MERGE_FAN_IN.default;
  try {
    return parseOptionValue(MERGE_FAN_IN, text) as number;
  } catch (e) {
    throw e instanceof OptionValueError ? new UsageError(`FANOUT_MERGE_FANIN ${e.problem}`) : e;
  }
}

const sizes = (p: SlicePlan): string => (p.minBytes === p.maxBytes ? `${formatBytes(p.minBytes)} each` : `${formatBytes(p.minBytes)} to ${formatBytes(p.maxBytes)}`);
const range = (a: number, b: number): string => (a === b ? String(a) : `${a}-${b}`);
const money = (usd: number): string => (usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`);

function requestsLine(r: { fewest: Requests; most: Requests }): string {
  return (['get', 'put', 'head', 'list'] as const).map((k) => `${range(r.fewest[k], r.most[k])} ${k.toUpperCase()}`).join(', ');
}

/** Which slices hold each part's frames, after `label`; none for one file. */
function partLines(plan: SlicePlan, label: string): string[] {
  if (!plan.parts) return [];
  return [`${label}${plan.parts.map((q, i) => `part ${i + 1}: ${range(q.slices[0], q.slices[1])}`).join(', ')} (a slice may run from one part into the next)`];
}

function describePlan(spec: JobSpec, local: SlicePlan, workers: number, cloudSlices: SlicePlan, cloud: CloudPlan, opts: { memoryMb: number; fanin: number }): string {
  const shape = spec.shape ? ` (${spec.shape.join(' x ')})` : '';
  const tree = cloud.levels.length === 1 ? `${cloud.levels[0]} partials merged into the result` : `${cloud.levels.join(' -> ')} -> result`;
  return [
    `${spec.analysis.name} of ${spec.input.name}: ${formatBytes(spec.input.bytes)} ${spec.format}${shape}`,
    '',
    ...(local.parts ? [`In ${local.parts.length} parts, in frame order, read as one trajectory:`, ...(spec.input.parts ?? []).map((q, i) => `  part ${i + 1}: ${q.name} (${formatBytes(q.bytes)})`)] : []),
    '',
    `Local (fanout run, ${workers} worker thread${workers === 1 ? '' : 's'}): ${local.slices} slice${local.slices === 1 ? '' : 's'}, ${sizes(local)}`,
    ...partLines(local, '  slices by part: '),
    ...(spec.compression && spec.compression.bytes === null ? [`${describeCompression(spec.compression).why} (sizes are compressed bytes)`] : []),
    '',
    `AWS Lambda (fanout submit; arm64, ${opts.memoryMb} MB):`,
    `  slices           ${cloudSlices.slices}, ${sizes(cloudSlices)}`,
    ...partLines(cloudSlices, '  by part          '),
    `  merge tree       ${tree} (fan-in ${opts.fanin})`,
    `  invocations      ${cloud.invocations.total}: coordinator ${cloud.invocations.coordinator}, workers ${cloud.invocations.workers}, merger ${cloud.invocations.merger}`,
    `  S3 requests      job documents: ${requestsLine(cloud.documentRequests)}`,
    `                   input: ${cloud.inputRequests.head} HEAD, about ${cloud.inputRequests.get} GET`,
    `  estimated time   ${cloud.timeSeconds.toFixed(1)} s`,
    `  estimated cost   ${money(cloud.cost.total)}: Lambda compute ${money(cloud.cost.lambdaCompute)} (${cloud.gbSeconds.toFixed(1)} GB-s), requests ${money(cloud.cost.lambdaRequests)}, S3 ${money(cloud.cost.s3Requests)}`,
    `                   ${cloud.cost.region} list prices of ${cloud.cost.pricesAsOf}${cloud.cost.pricesKnown ? '' : ` (not known for ${cloud.cost.region}: us-east-1 prices shown)`}`,
    ...cloud.assumptions.map((a, i) => `  ${i === 0 ? 'assuming' : '        '}         ${a}`),
  ].join('\n');
}
