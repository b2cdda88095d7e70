/** What a cloud job reads: one object, or a job file's parts, each pinned when the job is planned (lib/cloud/inputs.ts). */
import { describe, expect, it } from 'vitest';
import { startJob } from '../../lib/cloud/coordinator.ts';
import { inputIdentity, openInput, resolveInput } from '../../lib/cloud/inputs.ts';
import { PartsSource } from '../../lib/core/parts.ts';
import { readManifest } from '../../lib/job/documents.ts';
import { DEFAULT_LIMITS } from '../../lib/job/options.ts';
import { CountingStore, MemoryInputs } from './fakes.ts';

const text = (s: string) => new TextEncoder().encode(s);
/** Raw XTC frames of 2 atoms (uncompressed, 9 atoms or fewer), each 80 bytes. */
function xtc(frames: number, x = 1): Uint8Array {
  const out = new Uint8Array(80 * frames);
  const v = new DataView(out.buffer);
  for (let f = 0; f < frames; f++) {
    const at = 80 * f;
    v.setInt32(at, 1995);
    v.setInt32(at + 4, 2);
    v.setInt32(at + 8, f);
    v.setInt32(at + 52, 2);
    for (let i = 0; i < 6; i++) v.setFloat32(at + 56 + 4 * i, x + f + i / 8);
  }
  return out;
}

function world() {
  const inputs = new MemoryInputs();
  inputs.add('b', 'input/runs/p1.xtc', xtc(3), { 'fanout-part': 'run' });
  inputs.add('b', 'input/runs/sub/p2.xtc', xtc(2), { 'fanout-part': 'run' });
  inputs.add('b', 'input/runs/run.fanout.json', text(JSON.stringify({ parts: ['p1.xtc', 'sub/p2.xtc'], options: { analysis: 'rg' } })), { 'fanout-slice-bytes': '100' });
  const invoked: number[] = [];
  const deps = { store: new CountingStore(), inputs, invoker: { invoke: async (t: { index: number }) => void invoked.push(t.index) }, defaults: {}, fanin: 4, limits: { ...DEFAULT_LIMITS, minSliceBytes: 1 } };
  return { inputs, deps, invoked };
}

describe('resolveInput', () => {
  it('pins a job file and each of its parts, in order, and reads its options', async () => {
    const { inputs } = world();
    const file = (await inputs.describe('b', 'input/runs/run.fanout.json'))!;
    const { input, options } = await resolveInput(inputs, file);
    expect(options).toEqual({ analysis: 'rg' });
    expect(input.parts!.map((p) => [p.key, p.size])).toEqual([
      ["input/runs/p1.xtc", 240],
      ["input/runs/sub/p2.xtc", 160],
    ]);
    expect(inputIdentity(input).split('+')).toHaveLength(3);
    const source = openInput(inputs, input);
    expect(source).toBeInstanceOf(PartsSource);
    expect([source.name, source.size]).toEqual(['s3://b/input/runs/run.fanout.json', 400]);
  });

  it('pins one object as itself', async () => {
    const { inputs } = world();
    const object = (await inputs.describe('b', 'input/runs/p1.xtc'))!;
    const { input, options } = await resolveInput(inputs, { ...object, metadata: {} });
    expect([input.parts, options]).toEqual([undefined, {}]);
    expect(inputIdentity(input)).toBe(`etag:${object.etag}`);
  });
});

describe('startJob over a job file', () => {
  it('plans one job over the parts, pinned in the manifest, with the options of the file and of its metadata', async () => {
    const { deps, invoked } = world();
    const r = await startJob(deps, { bucket: 'b', key: 'input/runs/run.fanout.json' });
    expect(r).toMatchObject({ outcome: 'started', slices: 4 });
    expect(invoked).toEqual([0, 1, 2, 3]);
    const manifest = (await readManifest(deps.store, (r as { jobId: string }).jobId))!;
    expect(manifest.spec.analysis.name).toBe('rg');
    expect(manifest.spec.input).toMatchObject({ name: 's3://b/input/runs/run.fanout.json', bytes: 400, parts: [{ name: 's3://b/input/runs/p1.xtc' }, { name: 's3://b/input/runs/sub/p2.xtc' }] });
    expect(manifest.input!.parts!.map((p) => p.key)).toEqual(['input/runs/p1.xtc', 'input/runs/sub/p2.xtc']);
  });

  it("starts nothing for a part's own upload", async () => {
    const { deps, invoked } = world();
    expect(await startJob(deps, { bucket: 'b', key: 'input/runs/p1.xtc' })).toEqual({ outcome: 'part' });
    expect([invoked, deps.store.objects.size]).toEqual([[], 0]);
  });

  it('is another job once a part has changed, though the job file has not', async () => {
    const { deps, inputs } = world();
    const first = await startJob(deps, { bucket: 'b', key: 'input/runs/run.fanout.json' });
    inputs.add('b', 'input/runs/sub/p2.xtc', xtc(2, 5), { 'fanout-part': 'run' });
    const second = await startJob(deps, { bucket: 'b', key: 'input/runs/run.fanout.json' });
    expect(second).toMatchObject({ outcome: 'started' });
    expect((second as { jobId: string }).jobId).not.toBe((first as { jobId: string }).jobId);
  });
});
