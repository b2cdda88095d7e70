/**
 * The command line's options as commander options. The job options come from their
 * declaration (lib/job/options.ts): flag, placeholder, help, default and the parser of
 * their values, so `--slice-bytes 1MiB` means what `fanout-slice-bytes=1MiB` means. This
 * module loads neither the commands nor their dependencies (the AWS SDK, vega): main.ts
 * imports a command only when it runs it.
 */
import { Option } from 'commander';
import { UsageError } from '../core/errors.ts';
import {
  defaultDoc,
  flagOf,
  JOB_OPTIONS,
  MERGE_FAN_IN,
  type OptionName,
  type OptionSpec,
  OptionValueError,
  parseKeyValue,
  parseOptionValue,
  rangeDoc,
  valueNameOf,
} from '../job/options.ts';

const GROUPS = { analysis: 'Analysis:', input: 'Input:', slicing: 'Slicing and state:', output: 'Output:', aws: 'AWS:' } as const;

/** Options of the commands themselves (not of a job), declared like the job's. */
export interface CommandOptionSpec extends Omit<OptionSpec, 'applies' | 'group'> {
  flag: string;
  group: keyof typeof GROUPS;
}

export const OUTPUT_OPTIONS = {
  json: { kind: 'boolean', flag: '--json', help: 'the result document as JSON on stdout, and nothing else', group: 'output' },
  out: { kind: 'string', flag: '--out', valueName: 'FILE', help: 'also write the result document to FILE', group: 'output' },
  progress: { kind: 'boolean', flag: '--progress', help: 'progress on stderr (slices done, MB/s, ETA) even when stderr is not a terminal', group: 'output' },
  quiet: { kind: 'boolean', flag: '--quiet', help: 'no progress, no summary', group: 'output' },
} as const satisfies Record<string, CommandOptionSpec>;

export const AWS_OPTIONS = {
  bucket: { kind: 'string', flag: '--bucket', valueName: 'NAME', help: 'the fanout bucket (or FANOUT_BUCKET)', group: 'aws' },
  stack: { kind: 'string', flag: '--stack', valueName: 'NAME', help: 'read the bucket from this stack\'s outputs (or FANOUT_STACK)', group: 'aws' },
  key: { kind: 'string', flag: '--key', valueName: 'KEY', help: 'where to upload (default input/<file name>); for parts, the job file (default input/<name>.fanout.json), the parts beside it', group: 'aws' },
  detach: { kind: 'boolean', flag: '--detach', help: 'return once the job has started', group: 'aws' },
  timeout: { kind: 'string', flag: '--timeout', valueName: 'DURATION', help: 'give up (exit 2 with the reason) if the job has not ended after this long: 30s, 10m, 1h', group: 'aws' },
  endpoint: { kind: 'string', flag: '--endpoint', valueName: 'URL', help: 'an S3-compatible endpoint with SQS (or AWS_ENDPOINT_URL)', group: 'aws' },
  fanin: { ...MERGE_FAN_IN, group: 'aws' },
  bytes: { kind: 'bytes', flag: '--bytes', valueName: 'N', help: 'plan an input of this size without a file (takes 2G, 64MiB, ...)', group: 'aws' },
  region: { kind: 'string', flag: '--region', valueName: 'R', help: 'price in this region (default AWS_REGION, else us-east-1)', group: 'aws' },
  // The construct's default memorySize.
  memory: { kind: 'int', flag: '--memory', valueName: 'MB', min: 128, max: 10240, default: 1024, help: 'memory of each function', group: 'aws' },
} as const satisfies Record<string, CommandOptionSpec>;

/** The parts of a declared option a command-line flag needs. */
type FlagSpec = Omit<OptionSpec, 'applies' | 'group'>;

/** Help text: what it does, then its range and default. */
export function helpOf(spec: FlagSpec): string {
  const notes = [rangeDoc(spec as OptionSpec), defaultDoc(spec as OptionSpec) && `default: ${defaultDoc(spec as OptionSpec)}`].filter(Boolean);
  return notes.length > 0 ? `${spec.help} (${notes.join('; ')})` : spec.help;
}

/** One commander option; a bad value is a one-line usage error that echoes it. */
export function commanderOption(spec: FlagSpec, flag: string, group: keyof typeof GROUPS): Option {
  const placeholder = valueNameOf(spec as OptionSpec);
  const o = new Option(placeholder === undefined ? flag : spec.flagAlone !== undefined ? `${flag} [${placeholder}]` : `${flag} <${placeholder}>`, helpOf(spec)).helpGroup(GROUPS[group]);
  if (spec.kind === 'boolean') return o;
  if (spec.flagAlone !== undefined) o.preset(spec.flagAlone);
  return o.argParser((text: string, previous: unknown): unknown => {
    try {
      if (spec.kind !== 'map') return parseOptionValue(spec as OptionSpec, text);
      const [k, v] = parseKeyValue(text);
      return { ...(previous as Record<string, string> | undefined), [k]: v };
    } catch (e) {
      // `fanout run --skip-header data.csv` gives the file as the flag's value.
      const alone = spec.flagAlone !== undefined ? ` (for ${spec.flagAlone}, write ${flag} after the input file, or give the value)` : '';
      if (e instanceof OptionValueError) throw new UsageError(`${flag} ${e.problem}${alone}`);
      throw e;
    }
  });
}

export const jobOption = (name: OptionName): Option => commanderOption(JOB_OPTIONS[name], flagOf(name), JOB_OPTIONS[name].group);
export const commandOption = (spec: CommandOptionSpec): Option => commanderOption(spec, spec.flag, spec.group);

/** The key commander stores a flag's value under: `--state-dir` in stateDir, `--option` in option. */
export const attributeOf = (flag: string): string => flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The job options among commander's parsed values, under their declared names. */
export function jobValues<N extends OptionName>(values: Record<string, unknown>, names: readonly N[]): { [K in N]?: unknown } {
  const out: { [K in N]?: unknown } = {};
  for (const name of names) {
    const v = values[attributeOf(flagOf(name))];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
