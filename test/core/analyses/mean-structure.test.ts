import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { meanStructure } from '../../../lib/core/analyses/mean-structure.ts';
import { UsageError } from '../../../lib/core/errors.ts';
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

  it('asks for frames when the input has none', async () => {
    await expect(runInProcess(new MemorySource(new TextEncoder().encode('1\n2\n'), 'a.txt'), meanStructure, {})).rejects.toThrow(UsageError);
  });
});
