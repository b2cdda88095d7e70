/**
 * Validation at the edge of the cloud pipeline: job options from S3 metadata and the
 * events the functions accept. A typo must fail with a message naming the option.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../lib/core/errors.ts';
import { directInvokeSchema, EventValidationError, parseEvent, s3EventSchema, sliceTaskSchema, sqsEventSchema } from '../../lib/cloud/events.ts';
import { mergeJobOptions, optionsFromMetadata, parseJobOptions, planOptionsFor } from '../../lib/job/options.ts';

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
    expect(o).toEqual({ analysis: 'stats', frameRows: 50, skipHeader: true, recordShape: [50, 100], headerBytes: 0, options: { ddof: '1' } });
  });

  it.each([
    [{ 'fanout-frame-row': '50' }, /s3:\/\/b\/k \(x-amz-meta-fanout-\* metadata\): invalid fanout options: .*frameRow/],
    [{ 'fanout-frame-rows': 'abc' }, /frameRows: /],
    [{ 'fanout-frame-rows': '0' }, /frameRows: .*1/],
    [{ 'fanout-frame-rows': '2.5' }, /frameRows: /],
    [{ 'fanout-skip-header': 'yes' }, /skipHeader: /],
    [{ 'fanout-format': 'parquet' }, /format: .*dcd/],
    [{ 'fanout-record-shape': '50,-1' }, /recordShape: takes positive integers such as 50,100/],
    [{ 'fanout-analysis': '' }, /analysis: /],
    [{ 'fanout-on-bad-record': 'ignore' }, /onBadRecord: .*skip/],
  ])('refuses %o with a message naming the option', (metadata, message) => {
    const run = (): unknown => optionsFromMetadata(metadata, 's3://b/k');
    expect(run).toThrow(UsageError);
    expect(run).toThrow(message);
  });

  it('takes typed values from a direct invoke, and layers them', () => {
    const direct = parseJobOptions({ sliceBytes: 1024, skipHeader: false, recordShape: [3], options: { a: '1' } }, 'invoke');
    const merged = mergeJobOptions({ analysis: 'sum', sliceBytes: 64, options: { a: '0', b: '2' } }, direct);
    expect(merged).toEqual({ analysis: 'sum', sliceBytes: 1024, skipHeader: false, recordShape: [3], options: { a: '1', b: '2' } });
    expect(planOptionsFor(merged, 10_000).slices).toBe(10);
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
