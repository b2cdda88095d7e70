/**
 * The user's side of a deployed pipeline, over a fake bucket: which job an upload
 * started, and following a job to its result or its failure.
 */
import { describe, expect, it } from 'vitest';
import { followJob, JobFailedError, jobState, type JobState, JobSupersededError, newestJobOf, parseDuration, waitForJob, WaitTimeoutError } from '../../lib/cloud/client.ts';
import { UsageError } from '../../lib/core/errors.ts';
import type { ResultDocument } from '../../lib/core/job.ts';
import { encodeResult, failedPointer, type InputPointer, ManifestReader, writePointer, writeStatus } from '../../lib/job/documents.ts';
import { nodeKey, tailClaimKey } from '../../lib/job/keys.ts';
import { DEFAULT_LIMITS } from '../../lib/job/options.ts';
import { startJob } from '../../lib/cloud/coordinator.ts';
import { sliceBounds } from '../../lib/core/plan.ts';
import { CountingStore, MemoryInputs } from './fakes.ts';

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
    // Scripted by the status and pointer reads of each poll (a poll also reads the manifest, for the bytes).
    if (!key.endsWith('/manifest.json')) await this.script[++this.reads]?.(this);
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
    expect(await waitForJob(store, KEY, { etag: '"ours"' }, { pollMs: 0 })).toBe('aaaa0002');
  });

  it('tells uploads of the same bytes apart by their version ids', async () => {
    const store = new ScriptedStore({
      1: (s) => writePointer(s, pointerTo('aaaa0001', '"same"', 'v1')),
      2: (s) => writePointer(s, pointerTo('aaaa0002', '"same"', 'v2')),
    });
    expect(await waitForJob(store, KEY, { etag: '"same"', versionId: 'v2' }, { pollMs: 0 })).toBe('aaaa0002');
  });

  it('fails with the reason when this upload could not start a job', async () => {
    const store = new CountingStore();
    await writePointer(store, failedPointer(pinned('"ours"'), 's3://b/input/x.csv: invalid fanout options: frameRows'));
    await expect(waitForJob(store, KEY, { etag: '"ours"' }, { pollMs: 0 })).rejects.toThrow(new JobFailedError('the job could not start: s3://b/input/x.csv: invalid fanout options: frameRows'));
  });
});

describe('waitForJob and uploads of the same key', () => {
  it('does not report the failure of an earlier upload of the same bytes for a newer one (their upload ids differ)', async () => {
    const store = new ScriptedStore({
      2: (s) => writePointer(s, { ...pointerTo('aaaa0009', '"same"'), upload: { id: 'second' } }),
    });
    await writePointer(store, failedPointer(pinned('"same"'), 'invalid fanout options', Date.now(), { id: 'first' }));
    expect(await waitForJob(store, KEY, { etag: '"same"', uploadId: 'second' }, { pollMs: 0 })).toBe('aaaa0009');
  });

  it('says superseded when a newer upload replaced this one before its job started', async () => {
    const store = new CountingStore();
    await writePointer(store, pointerTo('aaaa0002', '"newer"', 'v2'));
    const current = async () => ({ ...pinned('"newer"', 'v2'), metadata: {} });
    await expect(waitForJob(store, KEY, { etag: '"ours"', versionId: 'v1' }, { pollMs: 0 }, current)).rejects.toThrow(JobSupersededError);
    await expect(waitForJob(store, KEY, { etag: '"ours"', versionId: 'v1' }, { pollMs: 0 }, current)).rejects.toThrow(/superseded: a newer upload of input\/x.csv .*job aaaa0002 owns results\/x.csv.json/);
  });

  it('keeps waiting while this upload is still the current object, then gives up at --timeout', async () => {
    const store = new CountingStore();
    await writePointer(store, pointerTo('aaaa0001', '"older"', 'v1'));
    let t = 0;
    const current = async () => ({ ...pinned('"ours"', 'v2'), metadata: {} });
    const waiting = waitForJob(store, KEY, { etag: '"ours"', versionId: 'v2' }, { pollMs: 0, deadline: 5, now: () => t++ }, current);
    await expect(waiting).rejects.toThrow(WaitTimeoutError);
    expect(t).toBeGreaterThan(5);
  });
});

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1500ms', 1500],
    ['45', 45_000],
    ['0.5s', 500],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', 'soon', '10 minutes', '-1s'])('refuses %j with a usage error', (text) => expect(() => parseDuration(text)).toThrow(UsageError));
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
    expect(await followJob(store, job, (s) => seen.push(s), { pollMs: 0 })).toEqual(doc);
    expect(seen.map((s) => [s.status?.state, s.partialsDone, s.slices])).toEqual([
      ['running', 0, 3],
      ['running', 2, 3],
      ['done', 3, 3],
    ]);
  });

  it('reports the bytes the written partials cover, out of the input\'s, from the manifest', async () => {
    const store = new CountingStore();
    const inputs = new MemoryInputs();
    inputs.add('b', KEY, new TextEncoder().encode(Array.from({ length: 1000 }, (_, i) => `${i}\n`).join('')), { 'fanout-max-slices': '4' });
    const started = (await startJob({ store, inputs, invoker: { invoke: async () => {} }, defaults: { sliceBytes: 1 }, fanin: 2, limits: { ...DEFAULT_LIMITS, minSliceBytes: 1 } }, { bucket: 'b', key: KEY })) as { jobId: string };
    const manifest = (await new ManifestReader(store, 0).read(started.jobId)).spec;
    expect(await jobState(store, started.jobId)).toMatchObject({ partialsDone: 0, bytesDone: 0, bytesTotal: manifest.input.bytes });
    await store.put(nodeKey(started.jobId, 0, 1, 2), '{}');
    await store.put(nodeKey(started.jobId, 0, 3, 2), '{}');
    const { start: s1, end: e1 } = sliceBounds(manifest, 1);
    const { start: s3, end: e3 } = sliceBounds(manifest, 3);
    const state = await jobState(store, started.jobId);
    expect(state).toMatchObject({ partialsDone: 2, bytesDone: e1 - s1 + (e3 - s3), bytesTotal: manifest.input.bytes });
    // Backups of stragglers: the tail helpers' backup claims (of any run of the job), not their splits or watches.
    expect(state.backups).toBe(0);
    await store.put(tailClaimKey(started.jobId, 5, 'backup', 1), '{"at":5}');
    await store.put(tailClaimKey(started.jobId, 9, 'backup', 3), '{"at":9}');
    await store.put(tailClaimKey(started.jobId, 9, 'watch', 2), '{"at":9}');
    expect((await jobState(store, started.jobId)).backups).toBe(2);
  });

  it('follows the first stage of a chained analysis to the job that continues it, and returns that job\'s result', async () => {
    const store = new CountingStore();
    const second = 'abcd0009';
    const average = { ...doc, analysis: 'rmsf-average', result: { mean: [[1, 2, 3]] } };
    const rmsf = { ...doc, analysis: 'rmsf', job: second, result: { rmsf: [0.5] } };
    await store.put(`jobs/${job}/result.json`, encodeResult(average));
    await writeStatus(store, { state: 'done', job, input, slices: 3, next: second });
    await store.put('results/x.csv.json', encodeResult(rmsf));
    await writeStatus(store, { state: 'done', job: second, input, slices: 3, resultKey: 'results/x.csv.json' });
    const seen: string[] = [];
    expect(await followJob(store, job, (s) => seen.push(s.job), { pollMs: 0 })).toEqual(rmsf);
    expect(seen).toEqual([job, second]);
  });

  it('says superseded for a job a newer upload replaced', async () => {
    const store = new CountingStore();
    await writeStatus(store, { state: 'superseded', job, input, slices: 3, reason: 'a newer upload of s3://b/input/x.csv (job abcd0002) owns results/x.csv.json' });
    await expect(followJob(store, job, () => {}, { pollMs: 0 })).rejects.toThrow(new JobSupersededError(`job ${job} was superseded: a newer upload of s3://b/input/x.csv (job abcd0002) owns results/x.csv.json`));
  });

  it('reports a running job past its deadline as failed, and gives up at --timeout', async () => {
    const store = new CountingStore();
    await writeStatus(store, { state: 'running', job, input, slices: 3, deadline: new Date(1000).toISOString() });
    await expect(followJob(store, job, () => {}, { pollMs: 0, now: () => 2000 })).rejects.toThrow(/failed: did not finish by its deadline \(1970-01-01T00:00:01.000Z\)/);
    await writeStatus(store, { state: 'running', job, input, slices: 3, deadline: new Date(10_000).toISOString() });
    let t = 0;
    await expect(followJob(store, job, () => {}, { pollMs: 0, deadline: 3, now: () => t++ })).rejects.toThrow(new WaitTimeoutError(`gave up waiting (--timeout): job ${job} is still running (0/3 partials)`));
  });

  it('fails with the slice and the reason of a failed job', async () => {
    const store = new CountingStore();
    await writeStatus(store, { state: 'failed', job, input, slices: 3, slice: 1, reason: 'x.csv: at byte 4: not a number: "x"' });
    await expect(followJob(store, job, () => {}, { pollMs: 0 })).rejects.toThrow(new JobFailedError(`job ${job} failed at slice 1: x.csv: at byte 4: not a number: "x"`));
  });
});
