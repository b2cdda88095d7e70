import { describe, expect, it } from 'vitest';
import { defineAnalysis, traitsOf } from '../../lib/core/analysis.ts';
import { FrameProblemError, InputError } from '../../lib/index.ts';
import { scanSlice } from '../../lib/core/job.ts';
import { planJob, sliceBounds } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { encodeDcd, randomCoords, type SyntheticDcd } from '../helpers/dcd.ts';

/** A user analysis that refuses the frame whose first atom's x is `bad`. */
const refuse = (bad: number, frameRows: number) =>
  defineAnalysis<object, null>({
    name: 'refuse',
    needsFrames: true,
    wholeFrames: true,
    empty: () => ({}),
    add(state, row, rowIndex) {
      if (rowIndex % frameRows === 0 && row[0] === bad) throw new FrameProblemError(rowIndex / frameRows, `x is ${bad}`);
    },
    combine: (l) => l,
    finish: () => null,
  });

describe('FrameProblemError from an analysis', () => {
  it.each([
    ['a DCD', {}],
    ['a DCD with fixed atoms (frame 0 has its own size)', { freeAtoms: [0, 2, 3, 5] }],
  ] as [string, Partial<SyntheticDcd>][])('is an InputError at the byte offset of the frame in %s, whichever slice holds it', async (_, change) => {
    const atoms = 6;
    const frames = 9;
    const coords = randomCoords(frames, atoms, 3);
    const d: SyntheticDcd = { atoms, coords, ...change };
    const bytes = encodeDcd(d);
    const fb = 3 * ((d.freeAtoms?.length ?? atoms) * 4 + 8);
    const firstEnd = bytes.length - (frames - 1) * fb;
    for (const bad of [0, 4, 8]) {
      const want = bad === 0 ? firstEnd - 3 * (atoms * 4 + 8) : firstEnd + (bad - 1) * fb;
      const analysis = refuse(coords[bad * atoms * 3]!, atoms);
      const source = new MemorySource(bytes, 'refuse.dcd');
      for (const slices of [1, 4, 9]) {
        const spec = await planJob(source, { name: 'refuse', options: {}, ...traitsOf(analysis) }, { slices }, 'x');
        const errors: InputError[] = [];
        for (let i = 0; i < spec.sliceCount; i++) await scanSlice(source, spec, i, analysis).catch((e: unknown) => errors.push(e as InputError));
        expect(errors, `frame ${bad}, ${slices} slices, slices ${Array.from({ length: spec.sliceCount }, (_, i) => JSON.stringify(sliceBounds(spec, i)))}`).toHaveLength(1);
        expect(errors[0]).toBeInstanceOf(InputError);
        expect([errors[0]!.file, errors[0]!.offset, errors[0]!.problem]).toEqual(['refuse.dcd', want, `x is ${coords[bad * atoms * 3]}`]);
      }
    }
  });
});
