/**
 * The user's side of a deployed pipeline, over a fake bucket: which job an upload
 * started, and following a job to its result or its failure.
 */
import { describe, expect, it } from 'vitest';
import { followJob, JobFailedError, type JobState, newestJobOf, waitForJob } from '../../lib/cloud/client.ts';
import { UsageError } from '../../lib/core/errors.ts';
import type { ResultDocument } from '../../lib/core/job.ts';
import { encodeResult, failedPointer, type InputPointer, writePointer, writeStatus } from '../../lib/job/documents.ts';
import { nodeKey } from '../../lib/job/keys.ts';
import { CountingStore } from './fakes.ts';

const KEY = 'input/x.csv';
const pinned = (etag: string, versionId?: string) => ({ bucket: 'b', key: KEY, size: 10, etag, ...(versionId ? { versionId } : {}) });
const pointerTo = (job: string, etag: string, versionId?: string): InputPointer => ({ job, input: pinned(etag, versionId), status: `jobs/${job}/status.json`, result: 'results/x.csv.json' });

/** A bucket that changes right after its n-th read (from 1): what a coordinator or merger does meanwhile. */
class ScriptedStore extends CountingStore {
  private reads = 0;
  constructor(private readonly script: Record<number, (store: CountingStore) => Promise<void>>) {
    super();
  }
  override async get(key: string): Promise<Uint8Array | undefined> {
    const body = await super.get(key);
    await this.script[++this.reads]?.(this);
    return body;
  }
}

describe('waitForJob', () => {
  it('waits past the pointers of other uploads until one names this upload', async () => {
    const store = new ScriptedStore({
      1: (s) => writePointer(s, pointerTo('aaaa0001', '"other"')),
      2: (s) => writePointer(s, failedPointer(pinned('"older"'), 'bad options')),
      3: (s) => writePointer(s, pointerTo('aaaa0002', '"ours"')),
    });
    expect(await waitForJob(store, KEY, { etag: '"ours"' }, 0)).toBe('aaaa0002');
  });

  it('tells uploads of the same bytes apart by their version ids', async () => {
    const store = new ScriptedStore({
      1: (s) => writePointer(s, pointerTo('aaaa0001', '"same"', 'v1')),
      2: (s) => writePointer(s, pointerTo('aaaa0002', '"same"', 'v2')),
    });
    expect(await waitForJob(store, KEY, { etag: '"same"', versionId: 'v2' }, 0)).toBe('aaaa0002');
  });

  it('fails with the reason when this upload could not start a job', async () => {
    const store = new CountingStore();
    await writePointer(store, failedPointer(pinned('"ours"'), 's3://b/input/x.csv: invalid fanout options: frameRows'));
    await expect(waitForJob(store, KEY, { etag: '"ours"' }, 0)).rejects.toThrow(new JobFailedError('the job could not start: s3://b/input/x.csv: invalid fanout options: frameRows'));
  });
});

describe('newestJobOf', () => {
  it('names the job of an input, or says why there is none', async () => {
    const store = new CountingStore();
    await expect(newestJobOf(store, KEY, 's3://b/input/x.csv')).rejects.toThrow(UsageError);
    await expect(newestJobOf(store, KEY, 's3://b/input/x.csv')).rejects.toThrow('s3://b/input/x.csv: no job has started for this object (no jobs/inputs/x.csv.json)');
    await writePointer(store, failedPointer(pinned('"e"'), 'bad header'));
    await expect(newestJobOf(store, KEY, 's3://b/input/x.csv')).rejects.toThrow(new JobFailedError('s3://b/input/x.csv: the job could not start: bad header'));
    await writePointer(store, pointerTo('aaaa0003', '"e"'));
    expect(await newestJobOf(store, KEY, 's3://b/input/x.csv')).toBe('aaaa0003');
  });
});

describe('followJob', () => {
  const job = 'abcd0001';
  const input = { bucket: 'b', key: KEY };
  const doc = { analysis: 'sum', job, input: { path: 'x.csv', bytes: 10, format: 'text' }, slices: 3, records: 5, skipped: 0, resumedSlices: 0, elapsedMs: 7, result: { sum: 15 } } satisfies ResultDocument;

  it('reports the partials as they come and returns the result document once the job is done', async () => {
    const store = new ScriptedStore({
      1: async (s) => {
        await s.put(nodeKey(job, 0, 0, 2), '{}');
        await s.put(nodeKey(job, 0, 2, 2), '{}');
      },
      2: async (s) => {
        await s.put(nodeKey(job, 0, 1, 2), '{}');
        await s.put('results/x.csv.json', encodeResult(doc));
        await writeStatus(s, { state: 'done', job, input, slices: 3, resultKey: 'results/x.csv.json' });
      },
    });
    await writeStatus(store, { state: 'running', job, input, slices: 3 });
    const seen: JobState[] = [];
    expect(await followJob(store, job, (s) => seen.push(s), 0)).toEqual(doc);
    expect(seen.map((s) => [s.status?.state, s.partialsDone, s.slices])).toEqual([
      ['running', 0, 3],
      ['running', 2, 3],
      ['done', 3, 3],
    ]);
  });

  it('fails with the slice and the reason of a failed job', async () => {
    const store = new CountingStore();
    await writeStatus(store, { state: 'failed', job, input, slices: 3, slice: 1, reason: 'x.csv: at byte 4: not a number: "x"' });
    await expect(followJob(store, job, () => {}, 0)).rejects.toThrow(new JobFailedError(`job ${job} failed at slice 1: x.csv: at byte 4: not a number: "x"`));
  });
});
