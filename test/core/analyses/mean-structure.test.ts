import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { meanStructure } from '../../../lib/core/analyses/mean-structure.ts';
import { UsageError } from '../../../lib/core/errors.ts';
import { scanSlice } from '../../../lib/core/job.ts';
import { planJob } from '../../../lib/core/plan.ts';
import { encodePartial } from '../../../lib/job/documents.ts';
import { MemorySource } from '../../../lib/core/source.ts';
import { tempDir } from '../../helpers/cli.ts';
import { runInProcess } from '../../helpers/dcd-run.ts';
import { python } from '../../helpers/python.ts';

const tmp = tempDir('fanout-mean-');
afterAll(() => tmp.cleanup());

describe('mean-structure', () => {
  it('equals math.fsum over frames / frames for every atom and axis, for any slicing', async () => {
    const path = join(tmp.path, 't.npy');
    python('np.save(args, np.random.default_rng(9).normal(0, 1e3, (203, 13, 3)) * 10.0 ** np.random.default_rng(1).integers(-8, 8, (203, 13, 3)))\nprint(1)', path);
    const want = python<number[][]>('d = np.load(args)\nprint(json.dumps([[math.fsum(d[:, i, k]) / d.shape[0] for k in range(3)] for i in range(d.shape[1])]))', path);
    const source = new MemorySource(new Uint8Array(readFileSync(path)), path, 777);
    for (const slices of [1, 2, 5, 61]) {
      const { result } = await runInProcess(source, meanStructure, { slices }, slices);
      expect(result).toMatchObject({ frames: 203, atoms: 13 });
      expect(result.mean).toEqual(want);
    }
  });

  it('works on text with --frame-rows, slices cut anywhere', async () => {
    const path = join(tmp.path, 't.csv');
    python('np.savetxt(args, np.random.default_rng(2).normal(0, 5, (4 * 25, 3)), delimiter=",")\nprint(1)', path);
    const want = python<number[][]>('d = np.loadtxt(args, delimiter=",").reshape(25, 4, 3)\nprint(json.dumps([[math.fsum(d[:, i, k]) / 25 for k in range(3)] for i in range(4)]))', path);
    const source = new MemorySource(new Uint8Array(readFileSync(path)), path, 100);
    for (const slices of [1, 3, 11]) expect((await runInProcess(source, meanStructure, { slices, frameRows: 4 })).result.mean).toEqual(want);
  });

  it('commits a partial of a million atoms in at most twice a frame\'s bytes (float32 frames), and a part of a frame in twice its part', async () => {
    const atoms = 1_000_000;
    const frames = 3;
    const frameBytes = atoms * 3 * 4;
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${frames}, ${atoms}, 3), }`;
    header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
    const bytes = new Uint8Array(10 + header.length + frames * frameBytes);
    bytes.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
    bytes.set(new TextEncoder().encode(header), 10);
    const values = new Float32Array(bytes.buffer, 10 + header.length, frames * atoms * 3);
    for (let i = 0; i < values.length; i++) values[i] = ((i * 2654435761) % 100003) / 997 - 50;
    const source = new MemorySource(bytes, 'big.npy');
    const ref = { name: meanStructure.name, options: {}, needsFrames: true };
    for (const slices of [1, 12]) {
      const spec = await planJob(source, ref, { slices }, 'test');
      const partial = await scanSlice(source, spec, 0, meanStructure);
      const size = encodePartial(partial).length;
      const sliceBytes = partial.end - partial.start;
      expect(size).toBeLessThanOrEqual(2 * Math.min(frameBytes, sliceBytes) + 1024);
      expect(size).toBeGreaterThan(Math.min(frameBytes, sliceBytes));
    }
  });

  it('asks for frames when the input has none', async () => {
    await expect(runInProcess(new MemorySource(new TextEncoder().encode('1\n2\n'), 'a.txt'), meanStructure, {})).rejects.toThrow(UsageError);
  });
});
