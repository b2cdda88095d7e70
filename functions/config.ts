/**
 * The Lambda functions' configuration, read once when the module loads. A missing or
 * malformed variable stops the cold start with a message naming it, rather than
 * failing later inside some event.
 */
import { DEFAULT_LIMITS, type OptionSpec, type JobOptions, MERGE_FAN_IN, OptionValueError, parseJobOptions, parseOptionValue, STACK_LIMITS, type StackLimits } from '../lib/job/options.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface Config {
  bucketName: string;
  /** only the coordinator needs it: the function it invokes once per slice */
  workerFunctionName: string | undefined;
  defaults: JobOptions;
  /** group size of the merge tree */
  mergeFanin: number;
  /** what any job may ask for, and its deadline (STACK_LIMITS, from the construct's props) */
  limits: StackLimits;
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const bucketName = env.BUCKET_NAME?.trim();
  if (!bucketName) throw new ConfigError('BUCKET_NAME is not set: it names the bucket holding input/, jobs/ and results/');
  let defaults: JobOptions = {};
  if (env.FANOUT_DEFAULTS?.trim()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.FANOUT_DEFAULTS);
    } catch (e) {
      throw new ConfigError(`FANOUT_DEFAULTS is not JSON: ${(e as Error).message}`);
    }
    try {
      defaults = parseJobOptions(parsed, 'FANOUT_DEFAULTS');
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  }
  let mergeFanin: number = MERGE_FAN_IN.default;
  if (env.FANOUT_MERGE_FANIN?.trim()) {
    try {
      mergeFanin = parseOptionValue(MERGE_FAN_IN, env.FANOUT_MERGE_FANIN) as number;
    } catch (e) {
      if (!(e instanceof OptionValueError)) throw e;
      throw new ConfigError(`FANOUT_MERGE_FANIN ${e.problem}`);
    }
  }
  const limits: StackLimits = { ...DEFAULT_LIMITS };
  for (const [name, spec] of Object.entries(STACK_LIMITS) as [keyof StackLimits, OptionSpec & { env: string }][]) {
    const raw = env[spec.env]?.trim();
    if (!raw) continue;
    try {
      limits[name] = parseOptionValue(spec, raw) as number;
    } catch (e) {
      if (!(e instanceof OptionValueError)) throw e;
      throw new ConfigError(`${spec.env} ${e.problem}`);
    }
  }
  return { bucketName, workerFunctionName: env.WORKER_FUNCTION_NAME?.trim() || undefined, defaults, mergeFanin, limits };
}

export const config: Config = loadConfig(process.env);
