/**
 * What a report reads of a job's partials: their stories, not their states, from the
 * state dir's logs and from the cloud's merge-tree leaves alike.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LocalDirStore } from '../../lib/adapters/local-store.ts';
import { LocalPartialLog } from '../../lib/adapters/partial-log.ts';
import type { Partial } from '../../lib/core/job.ts';
import { nodeKey } from '../../lib/pipeline/tree.ts';
import { loadPartials } from '../../lib/report/job-data.ts';
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
    for (const i of [0, 1]) await store.put(nodeKey('job2', 0, i, 32), JSON.stringify(partial('job2', i)));
    await store.put(nodeKey('job2', 0, 2, 32), JSON.stringify(partial('other', 2)));
    const got = await loadPartials(store, 'job2');
    expect(got).toEqual([partial('job2', 0), partial('job2', 1)].map((p) => ({ ...p, state: null })));
  });
});
