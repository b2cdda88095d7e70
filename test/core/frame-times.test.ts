import { expect, it } from 'vitest';
import { defineAnalysis, traitsOf } from '../../lib/core/analysis.ts';
import { finishResult, mergePartials, scanSlice } from '../../lib/core/job.ts';
import { planJob } from '../../lib/core/plan.ts';
import { FileSource } from '../../lib/local/file-source.ts';
import { describeMd, mdaMissing, mdaPython, mdFile, missing, skipNote } from '../helpers/md.ts';

/** A user analysis (defineAnalysis) that keeps every frame's time, with the row it came for. */
const times = defineAnalysis<{ times: number[][] }, number[][]>({
  name: 'times',
  needsFrames: true,
  empty: () => ({ times: [] }),
  addTime(state, firstRow, ps) {
    state.times.push([firstRow, ps]);
  },
  add() {},
  combine(left, right, leftRows) {
    for (const [row, ps] of right.times) left.times.push([row! + leftRows, ps!]);
    return left;
  },
  finish: (s) => s.times,
});

describeMd('frame times for your own analyses (addTime)', () => {
  it.skipIf(missing(mdaMissing)).each(['test_5atoms.xtc', 'cobrotoxin.trr', 'tz2.truncoct.nc'])(skipNote('%s: every frame, for the first row of its frame, the time MDAnalysis reads, at 1 to 9 slices', mdaMissing), async (name) => {
    if (mdaMissing) return;
    const want = mdaPython<number[]>(
      `
import shutil, tempfile
from MDAnalysis.coordinates.core import get_reader_for
d = tempfile.mkdtemp()
print(json.dumps([float(ts.time) for ts in get_reader_for(args)(shutil.copy(args, d))]))
shutil.rmtree(d)`,
      mdFile(name),
    );
    const source = await FileSource.open(mdFile(name));
    try {
      for (const slices of [1, 2, 9]) {
        const spec = await planJob(source, { name: 'times', options: {}, ...traitsOf(times) }, { slices }, 'x');
        const partials = [];
        for (let i = 0; i < spec.sliceCount; i++) partials.push(await scanSlice(source, spec, i, times));
        const got = (await finishResult(spec, times, mergePartials(spec, times, partials))) as number[][];
        expect(got, `${slices} slices`).toEqual(want.map((ps, f) => [f * spec.frameRows, ps]));
      }
    } finally {
      await source.close();
    }
  });
});
