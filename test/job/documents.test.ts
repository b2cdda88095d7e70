/**
 * The job's documents: each reads back what its writer wrote, reads what earlier versions
 * wrote, and refuses a damaged document or one of a newer format with a message that
 * names its key.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { scanSlice } from '../../lib/core/job.ts';
import { type JobSpec, planJob } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { sum } from '../../lib/core/analyses/sum.ts';
import {
  type CloudManifest,
  decodePartial,
  decodeResult,
  DocumentError,
  encodePartial,
  failedPointer,
  isCloudManifest,
  jobPointer,
  ManifestReader,
  newManifest,
  pointedJob,
  readManifest,
  readPointer,
  readStatus,
  UnknownJobError,
  writeManifest,
  writePointer,
  writeStatus,
} from '../../lib/job/documents.ts';
import { inputPointerKey, manifestKey, statusKey } from '../../lib/job/keys.ts';
import { CountingStore } from '../cloud/fakes.ts';

const bytes = new TextEncoder().encode(Array.from({ length: 400 }, (_, i) => `${i},${i / 4}`).join('\n') + '\n');
const input = { bucket: 'b', key: 'input/x.csv', size: bytes.length, etag: '"e1"', versionId: 'v1' };
const cloudPlan = { input, fanin: 3, resultKey: 'results/x.csv.json' };
let spec: JobSpec;

beforeAll(async () => {
  spec = await planJob(new MemorySource(bytes, 'x.csv'), { name: 'sum', options: {} }, { slices: 4 }, 'etag:"e1"');
});

const text = (store: CountingStore, key: string): Record<string, unknown> => JSON.parse(store.text(key)!) as Record<string, unknown>;
const put = (store: CountingStore, key: string, doc: unknown): Promise<void> => store.put(key, typeof doc === 'string' ? doc : JSON.stringify(doc));

describe('the manifest', () => {
  it('has one shape for both runtimes: the cloud adds its plan beside the spec', async () => {
    const store = new CountingStore();
    const local = newManifest(spec, 1000);
    const cloud = newManifest(spec, 2000, cloudPlan);
    expect(await writeManifest(store, local)).toBe(true);
    expect(text(store, manifestKey(spec.id))).toEqual({ version: 1, spec, createdAt: 1000 });
    expect(await writeManifest(store, cloud)).toBe(false);
    expect(await readManifest(store, spec.id)).toEqual(local);
    expect(isCloudManifest(local)).toBe(false);

    const bucket = new CountingStore();
    await writeManifest(bucket, cloud);
    expect(text(bucket, manifestKey(spec.id))).toEqual({ version: 1, spec, ...cloudPlan, createdAt: 2000 });
    const read = await readManifest(bucket, spec.id);
    expect(read).toEqual(cloud);
    expect(isCloudManifest(read!)).toBe(true);
  });

  it('reads the bare spec that local state dirs of earlier versions hold, without a creation time', async () => {
    const store = new CountingStore();
    await put(store, manifestKey(spec.id), JSON.stringify(spec, null, 2));
    expect(await readManifest(store, spec.id)).toEqual({ spec });
  });

  it('reads a cloud manifest as deployments before it wrote them', async () => {
    const store = new CountingStore();
    await put(store, manifestKey(spec.id), { version: 1, spec, input: { bucket: 'b', key: 'input/x.csv', size: bytes.length, etag: '"e1"' }, fanin: 32, resultKey: 'results/x.csv.json', createdAt: 5 });
    expect(await new ManifestReader(store).read(spec.id)).toMatchObject({ spec, fanin: 32, createdAt: 5, input: { etag: '"e1"' } });
  });

  it.each([
    ['a newer format', (s: JobSpec) => ({ version: 2, spec: s, createdAt: 1 }), /manifest\.json: a job manifest of format version 2; this fanout reads version 1/],
    ['half a cloud plan', (s: JobSpec) => ({ version: 1, spec: s, createdAt: 1, fanin: 3 }), /manifest\.json: not a job manifest \(.*input, fanin, resultKey and createdAt together/],
    ['a spec without slices', (s: JobSpec) => ({ version: 1, spec: { ...s, sliceCount: 0 }, createdAt: 1 }), /manifest\.json: not a job manifest \(spec\.sliceCount: /],
    ['no JSON', () => '{"version": 1, "spec"', /manifest\.json: not a job manifest: not JSON/],
    ['no object', () => '[1, 2]', /manifest\.json: not a job manifest$/],
  ])('refuses %s, naming the key', async (_, doc, message) => {
    const store = new CountingStore();
    await put(store, manifestKey(spec.id), doc(spec));
    const read = readManifest(store, spec.id);
    await expect(read).rejects.toThrow(DocumentError);
    await expect(read).rejects.toThrow(new RegExp(`^jobs/${spec.id}/${message.source}`));
  });

  it('gives the cloud only cloud manifests, and keeps them', async () => {
    const store = new CountingStore();
    const reader = new ManifestReader(store);
    await expect(reader.read(spec.id)).rejects.toThrow(UnknownJobError);
    await writeManifest(store, newManifest(spec, 1));
    await expect(reader.read(spec.id)).rejects.toThrow(/the manifest of a local run, not of a cloud job/);

    const bucket = new CountingStore();
    const cached = new ManifestReader(bucket);
    await writeManifest(bucket, newManifest(spec, 1, cloudPlan));
    const first = await cached.read(spec.id);
    const gets = bucket.counts.get;
    expect(await cached.read(spec.id)).toBe(first);
    expect(bucket.counts.get).toBe(gets);
  });
});

describe('the status', () => {
  it('says its version, and reads statuses written before it did', async () => {
    const store = new CountingStore();
    await writeStatus(store, { state: 'failed', job: spec.id, input: { bucket: 'b', key: 'input/x.csv' }, slices: 4, slice: 2, reason: 'why' }, Date.UTC(2026, 0, 2));
    expect(text(store, statusKey(spec.id))).toEqual({ version: 1, state: 'failed', job: spec.id, input: { bucket: 'b', key: 'input/x.csv' }, slices: 4, slice: 2, reason: 'why', at: '2026-01-02T00:00:00.000Z' });
    expect(await readStatus(store, spec.id)).toEqual({ state: 'failed', job: spec.id, input: { bucket: 'b', key: 'input/x.csv' }, slices: 4, slice: 2, reason: 'why', at: '2026-01-02T00:00:00.000Z' });

    await put(store, statusKey(spec.id), { state: 'done', job: spec.id, input: { bucket: 'b', key: 'k' }, resultKey: 'results/k.json', at: 'then' });
    expect(await readStatus(store, spec.id)).toMatchObject({ state: 'done', resultKey: 'results/k.json' });
    await put(store, statusKey(spec.id), { state: 'finished', job: spec.id, input: { bucket: 'b', key: 'k' }, at: 'then' });
    await expect(readStatus(store, spec.id)).rejects.toThrow(/status\.json: not a job status \(state: /);
  });
});

describe('the input pointer', () => {
  it('names the newest job of an input, or says why its newest upload started none', async () => {
    const store = new CountingStore();
    const manifest = newManifest(spec, 1, cloudPlan) as CloudManifest;
    await writePointer(store, jobPointer(manifest));
    expect(text(store, inputPointerKey('input/x.csv'))).toEqual({ version: 1, job: spec.id, input, status: statusKey(spec.id), result: 'results/x.csv.json' });
    const p = await readPointer(store, 'input/x.csv');
    expect(p && pointedJob(p)).toBe(spec.id);

    await writePointer(store, failedPointer({ ...input, etag: '"e2"' }, 'x.csv: bad options', Date.UTC(2026, 0, 1)));
    const failed = await readPointer(store, 'input/x.csv');
    expect(failed).toEqual({ state: 'failed', input: { bucket: 'b', key: 'input/x.csv', etag: '"e2"', versionId: 'v1' }, reason: 'x.csv: bad options', at: '2026-01-01T00:00:00.000Z' });
    expect(pointedJob(failed!)).toBeUndefined();
    expect(await readPointer(store, 'input/other.csv')).toBeUndefined();
  });

  it('reads the pointers deployments before it wrote', async () => {
    const store = new CountingStore();
    await put(store, inputPointerKey('input/x.csv'), { job: 'abc', input: { bucket: 'b', key: 'input/x.csv', size: 3, etag: '"e"' }, status: 'jobs/abc/status.json', result: 'results/x.csv.json' });
    expect(pointedJob((await readPointer(store, 'input/x.csv'))!)).toBe('abc');
    await put(store, inputPointerKey('input/x.csv'), { state: 'failed', input: { bucket: 'b', key: 'input/x.csv', etag: '"e"' }, reason: 'r', at: 't' });
    expect(await readPointer(store, 'input/x.csv')).toMatchObject({ state: 'failed', reason: 'r' });
  });
});

describe('partials', () => {
  it('read back as written, a merge-tree level and fields of other versions included', async () => {
    const p = await scanSlice(new MemorySource(bytes, 'x.csv'), spec, 1, sum);
    const body = new TextEncoder().encode(encodePartial({ ...p, level: 2 }) as string);
    expect(decodePartial(body, 'k')).toEqual({ ...p, level: 2 });
    // a partial says no version: its content is compared with earlier runs' (partialContent)
    expect(JSON.parse(encodePartial(p) as string)).not.toHaveProperty('version');
    const other = { ...p, futureField: [1, 2] };
    expect(decodePartial(new TextEncoder().encode(JSON.stringify(other)), 'k')).toEqual(other);
  });

  it.each([
    ['a torn line', '{"job":"a","index":', /^jobs\/a\/tree\/0\/00000000\/00000000\.partial\.json: not a partial: not JSON/],
    ['a negative index', JSON.stringify({ job: 'a', index: -1, start: 0, end: 1, rows: 0, skipped: 0, skippedExamples: [], state: null, run: { bytesRead: 1, startedAt: 0, finishedAt: 0, worker: 'main' } }), /not a partial \(index: /],
    ['a newer format', JSON.stringify({ version: 2, job: 'a' }), /a partial of format version 2/],
  ])('refuses %s', (_, body, message) => {
    expect(() => decodePartial(new TextEncoder().encode(body), 'jobs/a/tree/0/00000000/00000000.partial.json')).toThrow(message);
  });
});

describe('the result document', () => {
  it('names what is missing from a document that is none', () => {
    const read = () => decodeResult(new TextEncoder().encode('{"hello": 1}'), 'other.json');
    expect(read).toThrow(DocumentError);
    expect(read).toThrow(/^other\.json: not a fanout result document \(analysis: .*; and \d+ more\)$/);
  });
});
