/**
 * Validation at the edge of the cloud pipeline: job options from S3 metadata and the
 * events the functions accept. A typo must fail with a message naming the option.
 */
import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../lib/core/errors.ts';
import { directInvokeSchema, EventValidationError, parseEvent, s3EventSchema, sliceTaskSchema, sqsEventSchema } from '../../lib/cloud/events.ts';
import { cloudOptionNames, defaultDoc, flagOf, JOB_OPTIONS, type JobOptions, type OptionSpec, rangeDoc, mergeJobOptions, metadataFor, metadataOf, optionsFromMetadata, parseJobOptions, planOptionsFor } from '../../lib/job/options.ts';
import { jobOption } from '../../lib/cli/commands.ts';

describe('job options', () => {
  it('reads kebab-case metadata into typed options, analysis options apart', () => {
    const o = optionsFromMetadata(
      {
        'fanout-analysis': 'stats',
        'fanout-frame-rows': '50',
        'fanout-skip-header': 'true',
        'fanout-record-shape': '50x100',
        'fanout-header-bytes': '0',
        'fanout-option-ddof': '1',
        'other-tool': 'ignored',
      },
      's3://b/input/x.csv',
    );
    expect(o).toEqual({ analysis: 'stats', frameRows: 50, skipHeader: 1, recordShape: [50, 100], headerBytes: 0, options: { ddof: '1' } });
  });

  it.each([
    [{ 'fanout-frame-row': '50' }, /^s3:\/\/b\/k \(x-amz-meta-fanout-\* metadata\): invalid fanout options: unknown option fanout-frame-row \(known: .*fanout-frame-rows/],
    [{ 'fanout-frame-rows': 'abc' }, /fanout-frame-rows takes an integer of at least 1, not "abc"$/],
    [{ 'fanout-frame-rows': '0' }, /fanout-frame-rows takes an integer of at least 1, not "0"/],
    [{ 'fanout-frame-rows': '2.5' }, /fanout-frame-rows takes an integer of at least 1, not "2\.5"/],
    [{ 'fanout-skip-header': 'yes' }, /fanout-skip-header takes an integer of at least 0, true \(1\) or false \(0\), not "yes"/],
    [{ 'fanout-skip-header': '-1' }, /fanout-skip-header takes an integer of at least 0, true \(1\) or false \(0\), not "-1"/],
    [{ 'fanout-format': 'parquet' }, /fanout-format must be auto, text, npy, raw, dcd, xtc, trr or netcdf, not "parquet"/],
    [{ 'fanout-record-shape': '50,-1' }, /fanout-record-shape takes positive integers such as 50,100, not "50,-1"/],
    [{ 'fanout-analysis': '' }, /fanout-analysis takes a non-empty value, not ""/],
    [{ 'fanout-on-bad-record': 'ignore' }, /fanout-on-bad-record must be fail or skip, not "ignore"/],
    [{ 'fanout-slice-bytes': 'abc' }, /fanout-slice-bytes takes a size such as 1048576, 64MiB or 1G, not "abc"/],
    [{ 'fanout-slice-bytes': '-3' }, /fanout-slice-bytes takes a size .*, not "-3"/],
    [{ 'fanout-concurrency': '5000' }, /fanout-concurrency takes an integer from 1 to 1000, not "5000"/],
  ])('refuses %o with a message naming the option and echoing the value', (metadata, message) => {
    const run = (): unknown => optionsFromMetadata(metadata, 's3://b/k');
    expect(run).toThrow(UsageError);
    expect(run).toThrow(message);
  });

  it('takes sizes with units in metadata as on the command line', () => {
    expect(optionsFromMetadata({ 'fanout-slice-bytes': '1MiB' }, 'k')).toEqual({ sliceBytes: 1 << 20 });
    expect(optionsFromMetadata({ 'fanout-slice-bytes': '64M', 'fanout-max-slices': '7' }, 'k')).toEqual({ sliceBytes: 64 << 20, maxSlices: 7 });
    expect(optionsFromMetadata({ 'fanout-slice-bytes': '4096' }, 'k')).toEqual({ sliceBytes: 4096 });
  });

  it('writes metadata that reads back as the same options', () => {
    const opts: JobOptions = { analysis: 'stats', sliceBytes: 3 << 20, recordShape: [50, 100], skipHeader: 2, format: 'dcd', concurrency: 100, options: { Ddof: '1' } };
    const meta = metadataFor(opts);
    expect(meta).toEqual({
      'fanout-analysis': 'stats',
      'fanout-slice-bytes': String(3 << 20),
      'fanout-record-shape': '50,100',
      'fanout-skip-header': '2',
      'fanout-format': 'dcd',
      'fanout-concurrency': '100',
      'fanout-option-ddof': '1',
    });
    expect(optionsFromMetadata(meta, 'k')).toEqual({ ...opts, options: { ddof: '1' } });
  });

  it('refuses a bad value in a direct invoke or the deployment defaults by its JSON name', () => {
    expect(() => parseJobOptions({ sliceBytes: -3 }, 'FANOUT_DEFAULTS')).toThrow(/^FANOUT_DEFAULTS: invalid fanout options: sliceBytes takes a size such as .*, not -3$/);
    expect(() => parseJobOptions({ slices: 3 }, 'invoke')).toThrow(/unknown option slices/);
    expect(parseJobOptions({ sliceBytes: '2KiB', format: 'dcd' }, 'invoke')).toEqual({ sliceBytes: 2048, format: 'dcd' });
  });

  it('takes typed values from a direct invoke, and layers them', () => {
    const direct = parseJobOptions({ sliceBytes: 1024, skipHeader: true, recordShape: [3], options: { a: '1' } }, 'invoke');
    const merged = mergeJobOptions({ analysis: 'sum', sliceBytes: 64, options: { a: '0', b: '2' } }, direct);
    expect(merged).toEqual({ analysis: 'sum', sliceBytes: 1024, skipHeader: 1, recordShape: [3], options: { a: '1', b: '2' } });
    expect(planOptionsFor(merged, 10_000).slices).toBe(10);
  });
});

describe('metadata and the command line', () => {
  // The same values, bad and good, for every cloud option that has a flag: metadata must
  // refuse what `fanout submit` refuses, with the same problem, and accept the same values.
  const samples = ['', ' ', '0', '1', '-1', '2.5', '1e3', 'abc', 'true', 'false', '64MiB', '1G', '50,100', '50x0', '9007199254740993', '1000000000', 'text', 'stats', 'skip', 'count'];
  it.each(cloudOptionNames.filter((n) => JOB_OPTIONS[n].kind !== 'map'))('%s: the same values refused, with the same reason, as its flag', (name) => {
    for (const text of samples) {
      let cli: unknown;
      let meta: unknown;
      try {
        cli = { value: (jobOption(name) as unknown as { parseArg: (t: string, p: unknown) => unknown }).parseArg(text, undefined) };
      } catch (e) {
        // (the flag's own hint about where to write a flag given alone is left out)
        cli = { problem: (e as Error).message.replace(flagOf(name), '<name>').replace(/ \(for .*, write .* after the input file, or give the value\)$/, '') };
      }
      try {
        meta = { value: (optionsFromMetadata({ [metadataOf(name)]: text }, 'k') as Record<string, unknown>)[name] };
      } catch (e) {
        meta = { problem: (e as Error).message.replace(/^k \(x-amz-meta-fanout-\* metadata\): invalid fanout options: /, '').replace(metadataOf(name), '<name>') };
      }
      expect(meta, `${name} = ${JSON.stringify(text)}`).toEqual(cli);
    }
  });
});

describe('events', () => {
  const record = { eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'input/a+b.csv', size: 3 } } };

  it('accepts an S3 notification, a direct invoke, a slice task and an SQS batch', () => {
    expect(parseEvent(s3EventSchema, { Records: [record] }, 'S3 event').Records[0]!.s3.object.key).toBe('input/a+b.csv');
    expect(parseEvent(directInvokeSchema, { bucket: 'b', key: 'k', options: { frameRows: '5' } }, 'invoke').options).toEqual({ frameRows: 5 });
    expect(parseEvent(sliceTaskSchema, { jobId: 'abcdef0123', index: 3 }, 'slice task')).toEqual({ jobId: 'abcdef0123', index: 3 });
    expect(parseEvent(sqsEventSchema, { Records: [{ body: '{}', eventSource: 'aws:sqs', messageId: 'm' }] }, 'SQS batch').Records).toHaveLength(1);
  });

  it.each([
    [s3EventSchema, { Records: [] }, /not a valid S3 event: Records: /],
    [s3EventSchema, { Records: [{ ...record, s3: { ...record.s3, object: { key: '' } } }] }, /Records\.0\.s3\.object\.key: /],
    [directInvokeSchema, { bucket: 'b', key: 'k', extra: 1 }, /extra/],
    [sliceTaskSchema, { jobId: 'NOT-HEX', index: 0 }, /jobId: /],
    [sliceTaskSchema, { jobId: 'abcdef0123', index: -1 }, /index: /],
  ])('refuses a malformed event, naming the field', (schema, event, message) => {
    const run = (): unknown => parseEvent(schema as never, event, schema === s3EventSchema ? 'S3 event' : 'event');
    expect(run).toThrow(EventValidationError);
    expect(run).toThrow(message);
  });
});

describe('defaults and ranges in help', () => {
  it('groups thousands as en-US does, without loading ICU (its first toLocaleString costs 10-45 ms of every run)', () => {
    const toLocale = vi.spyOn(Number.prototype, 'toLocaleString');
    try {
      expect(defaultDoc({ kind: 'int', default: 10_000 } as OptionSpec)).toBe('10,000');
      expect(defaultDoc({ kind: 'int', default: 3600 } as OptionSpec)).toBe('3,600');
      expect(defaultDoc({ kind: 'int', default: 32 } as OptionSpec)).toBe('32');
      expect(defaultDoc({ kind: 'int', default: 0 } as OptionSpec)).toBe('0');
      expect(defaultDoc({ kind: 'bytes', default: 64 * 2 ** 20 } as OptionSpec)).toBe('64 MiB');
      expect(defaultDoc({ kind: 'bytes', default: 1_234_567 } as OptionSpec)).toBe('1,234,567');
      expect(rangeDoc({ kind: 'int', min: 1, max: 30 * 24 * 3600 } as OptionSpec)).toBe('1 to 2,592,000');
      expect(rangeDoc({ kind: 'int', min: 2, max: 1000 } as OptionSpec)).toBe('2 to 1,000');
      expect(toLocale).not.toHaveBeenCalled();
    } finally {
      toLocale.mockRestore();
    }
    for (const n of [-1234567, 999, 1000, 123456789012, 2 ** 53 - 1]) expect(defaultDoc({ kind: 'int', default: n } as OptionSpec)).toBe(n.toLocaleString('en-US'));
  });
});
