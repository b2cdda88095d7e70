/** The Lambda functions' configuration: the fan-in's default and range come from its declaration. */
import { describe, expect, it } from 'vitest';
import { MERGE_FAN_IN } from '../../lib/job/options.ts';

process.env.BUCKET_NAME ??= 'config-test';
const { ConfigError, loadConfig } = await import('../../functions/config.ts');

describe('loadConfig', () => {
  it('defaults the merge fan-in to the declared default, and takes one in range', () => {
    expect(loadConfig({ BUCKET_NAME: 'b' }).mergeFanin).toBe(MERGE_FAN_IN.default);
    expect(loadConfig({ BUCKET_NAME: 'b', FANOUT_MERGE_FANIN: '1000' }).mergeFanin).toBe(1000);
  });

  it.each(['1', '1001', 'abc'])('refuses FANOUT_MERGE_FANIN=%s, echoing it', (value) => {
    const load = () => loadConfig({ BUCKET_NAME: 'b', FANOUT_MERGE_FANIN: value });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(`FANOUT_MERGE_FANIN takes an integer from 2 to 1000, not "${value}"`);
  });

  it('reads sizes with units in FANOUT_DEFAULTS', () => {
    expect(loadConfig({ BUCKET_NAME: 'b', FANOUT_DEFAULTS: '{"sliceBytes": "1MiB", "format": "dcd"}' }).defaults).toEqual({ sliceBytes: 1 << 20, format: 'dcd' });
  });
});
