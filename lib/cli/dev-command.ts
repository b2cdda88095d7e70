/** `fanout dev`: the cloud pipeline's real handlers on an S3-compatible endpoint (lib/cloud/dev/). */
import { startDispatcher } from '../cloud/dev/dispatcher.ts';
import { UsageError } from '../core/errors.ts';
import { flagOf, type OptionName, parseJobOptions } from '../job/options.ts';

export interface DevValues {
  endpoint?: string;
  bucket?: string;
  /** merge fan-in, parsed against its declared range */
  fanin?: number;
}

/** The job defaults are the cloud job options given on the command line, as in `fanout submit`. */
export async function devCommand(values: DevValues, jobOptions: Record<string, unknown>): Promise<number> {
  const endpoint = values.endpoint ?? process.env.AWS_ENDPOINT_URL;
  if (!endpoint || !values.bucket) throw new UsageError('fanout dev needs --endpoint URL (or AWS_ENDPOINT_URL) and --bucket NAME');
  const defaults = parseJobOptions(jobOptions, 'fanout dev', (n) => flagOf(n as OptionName));
  const d = await startDispatcher({ endpoint, bucket: values.bucket, defaults, fanin: values.fanin, loadHandlers: () => import('../../functions/dev-handlers.ts') });
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  process.stderr.write('fanout dev: stopping (waiting for work in progress)\n');
  await d.stop();
  return 0;
}
