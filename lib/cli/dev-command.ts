/** `fanout dev`: the cloud pipeline's real handlers on an S3-compatible endpoint (lib/cloud/dev/). */
import { startDispatcher } from '../cloud/dev/dispatcher.ts';
import { UsageError } from '../core/errors.ts';
import { parseJobOptions } from '../job/options.ts';

/** Job defaults come from the same flags as `fanout run`. */
export async function devCommand(values: Record<string, unknown>): Promise<number> {
  const endpoint = (values.endpoint as string | undefined) ?? process.env.AWS_ENDPOINT_URL;
  const bucket = values.bucket as string | undefined;
  if (!endpoint || !bucket) throw new UsageError('fanout dev needs --endpoint URL (or AWS_ENDPOINT_URL) and --bucket NAME');
  const pick: Record<string, string> = { analysis: 'analysis', 'frame-rows': 'frameRows', 'slice-bytes': 'sliceBytes', delimiter: 'delimiter', 'skip-header': 'skipHeader', format: 'format', dtype: 'dtype', 'record-shape': 'recordShape', 'header-bytes': 'headerBytes', 'on-bad-record': 'onBadRecord' };
  const raw: Record<string, unknown> = {};
  for (const [flag, name] of Object.entries(pick)) if (values[flag] !== undefined) raw[name] = values[flag];
  const defaults = parseJobOptions(raw, 'fanout dev');
  const fanin = values.fanin === undefined ? undefined : Number(values.fanin);
  if (fanin !== undefined && (!Number.isInteger(fanin) || fanin < 2 || fanin > 1000)) throw new UsageError('--fanin takes an integer from 2 to 1000');
  const d = await startDispatcher({ endpoint, bucket, defaults, fanin, loadHandlers: () => import('../../functions/dev-handlers.ts') });
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  process.stderr.write('fanout dev: stopping (waiting for work in progress)\n');
  await d.stop();
  return 0;
}
