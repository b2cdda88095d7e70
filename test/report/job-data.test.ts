/**
 * What a report reads of a job's partials: their stories, not their states, from the
 * state dir's logs and from the cloud's merge-tree leaves alike.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDirStore } from '../../lib/local/local-store.ts';
import { LocalPartialLog } from '../../lib/local/partial-log.ts';
import type { Partial } from '../../lib/core/job.ts';
import { manifestKey, nodeKey } from '../../lib/job/keys.ts';
import { throughputSpec } from '../../lib/report/charts.ts';
import { loadJob, loadPartials } from '../../lib/report/job-data.ts';
import { buildModel } from '../../lib/report/model.ts';
import { tempDir } from '../helpers/cli.ts';

const tmp = tempDir('fanout-job-data-');
afterAll(() => tmp.cleanup());

const partial = (job: string, index: number, slices = 1): Partial => ({
  job,
  index,
  ...(slices > 1 ? { slices } : {}),
  start: index * 100,
  end: (index + slices) * 100,
  rows: 3,
  skipped: 0,
  skippedExamples: [],
  // as big as a mean-structure state of 10,000 atoms
  state: { mean: Array.from({ length: 30_000 }, (_, i) => i / 3) },
  run: { bytesRead: 100, startedAt: 1, finishedAt: 2, worker: 'main' },
});

describe('loadPartials', () => {
  it('keeps the stories of a state dir\'s partials and drops their states', async () => {
    const dir = tmp.path + '/state';
    const log = new LocalPartialLog(dir, 'job1');
    log.append(partial('job1', 2));
    log.append(partial('job1', 0, 2));
    log.close();
    const got = await loadPartials(new LocalDirStore(dir), 'job1');
    expect(got).toEqual([partial('job1', 0, 2), partial('job1', 2)].map((p) => ({ ...p, state: null })));
  });

  it('does the same for the cloud\'s merge-tree leaves, and leaves out another job\'s', async () => {
    const store = new LocalDirStore(tmp.path + '/bucket');
    // job ids are hex, as the merge tree's keys require
    for (const i of [0, 1]) await store.put(nodeKey('b2', 0, i, 32), JSON.stringify(partial('b2', i)));
    await store.put(nodeKey('b2', 0, 2, 32), JSON.stringify(partial('c0ffee', 2)));
    await store.put(nodeKey('b2', 0, 3, 32), '{"torn":');
    const got = await loadPartials(store, 'b2');
    expect(got).toEqual([partial('b2', 0), partial('b2', 1)].map((p) => ({ ...p, state: null })));
  });

  it('counts each slice once when two processes ran the job at once and cut its slices into other runs', async () => {
    const dir = tmp.path + '/two';
    // one process took runs 0-4 and 5-7, the other 0-2, 3-5 and 6-7
    const a = new LocalPartialLog(dir, 'job3');
    a.append(partial('job3', 0, 5));
    a.append(partial('job3', 5, 3));
    a.close();
    const b = new LocalPartialLog(dir, 'job3');
    for (const [i, n] of [[0, 3], [3, 3], [6, 2]] as const) b.append(partial('job3', i, n));
    b.close();
    const got = await loadPartials(new LocalDirStore(dir), 'job3');
    const covered = got.flatMap((p) => Array.from({ length: p.slices ?? 1 }, (_, k) => p.index + k)).sort((x, y) => x - y);
    expect(covered).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // the same cover the runtime folds
    const refs = [...new LocalPartialLog(dir, 'job3').committed().values()].map((r) => [r.index, r.slices]);
    expect(got.map((p) => [p.index, p.slices ?? 1])).toEqual(refs.sort((x, y) => x[0]! - y[0]!));
  });
});

describe('throughputSpec', () => {
  it('draws a run of slices as wide as its slices', () => {
    const ps = [partial('j', 0, 100), partial('j', 100, 50), partial('j', 150)];
    const m = buildModel({ jobId: 'j', where: 'dir', partials: ps });
    const spec = throughputSpec(m) as { layer: { data: { values: { slice: number; next: number }[] } }[] };
    expect(spec.layer[0]!.data.values.map((v) => [v.slice, v.next])).toEqual([
      [0, 100],
      [100, 150],
      [150, 151],
    ]);
  });

  it('reads a state dir of an earlier version, whose manifest is the bare spec', async () => {
    const dir = tmp.path + '/earlier';
    const spec = { version: 1, id: 'e1', input: { name: 'x.csv', bytes: 300, identity: 'test' }, format: 'text', layout: { kind: 'text' }, rowsPerRecord: 1, frameRows: 0, analysis: { name: 'sum', options: {} }, onBadRecord: 'fail', sliceCount: 3 };
    const store = new LocalDirStore(dir);
    await store.put(manifestKey('e1'), JSON.stringify(spec, null, 2));
    const log = new LocalPartialLog(dir, 'e1');
    log.append(partial('e1', 0, 2));
    log.close();
    const data = await loadJob(store, 'e1', dir);
    expect(data.spec).toEqual(spec);
    expect(data.createdAt).toBeUndefined();
    expect(data.partials.map((p) => p.index)).toEqual([0]);
    expect(buildModel(data)).toMatchObject({ slices: 3, slicesFound: 2, state: 'running' });
  });
});
