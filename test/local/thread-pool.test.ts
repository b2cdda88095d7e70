/**
 * The shared slice queue: consumers take runs of consecutive slices, sized by bytes and
 * shrinking towards the end so the last slices are still shared out, and every slice is
 * taken exactly once (one atomic add per take: threads taking at once are covered by the
 * runtime's tests with two workers).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RUN_BYTES, SliceQueue } from '../../lib/local/slice-queue.ts';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll } from 'vitest';
import { planJob } from '../../lib/core/plan.ts';
import { analysisRef } from '../../lib/job/analysis-loader.ts';
import { openFiles } from '../../lib/local/file-source.ts';
import { runOnThreads, StartedThreads } from '../../lib/local/thread-pool.ts';
import { LocalPartialLog } from '../../lib/local/partial-log.ts';
import { partialContent } from '../../lib/job/documents.ts';
import type { Partial } from '../../lib/core/job.ts';
import { tempDir } from '../helpers/cli.ts';
import { python } from '../helpers/python.ts';
import { statePartials } from '../helpers/state-dir.ts';
import type { JobSpec } from '../../lib/core/plan.ts';

describe('SliceQueue.takeRuns', () => {
  it('hands out every slice once, as maximal runs of consecutive slices, never more than the byte budget or a quarter of what is left per consumer', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat({ max: 3000 }), { minLength: 1, maxLength: 1500 }).map((xs) => xs.sort((a, b) => a - b)),
        fc.integer({ min: 1, max: 4 * RUN_BYTES }),
        fc.integer({ min: 1, max: 8 }),
        (missing, sliceBytes, consumers) => {
          const queue = new SliceQueue(missing);
          const taken: number[] = [];
          for (let left = missing.length, runs = queue.takeRuns({ sliceBytes, consumers }); runs.length > 0; runs = queue.takeRuns({ sliceBytes, consumers })) {
            const slices = runs.flatMap((r) => Array.from({ length: r.slices }, (_, i) => r.index + i));
            const cap = Math.max(1, Math.min(Math.floor(RUN_BYTES / sliceBytes), Math.ceil(left / (4 * consumers))));
            expect(slices.length).toBeLessThanOrEqual(cap);
            // maximal: two runs of one take are never adjacent
            for (let i = 1; i < runs.length; i++) expect(runs[i]!.index).toBeGreaterThan(runs[i - 1]!.index + runs[i - 1]!.slices);
            taken.push(...slices);
            left -= slices.length;
          }
          expect(taken).toEqual(missing);
        },
      ),
    );
  });

  it('takes one slice at a time when a slice holds the byte budget, and whole runs of small slices', () => {
    expect(new SliceQueue([0, 1, 2, 3]).takeRuns({ sliceBytes: RUN_BYTES, consumers: 1 })).toEqual([{ index: 0, slices: 1 }]);
    const queue = new SliceQueue(Array.from({ length: 10_000 }, (_, i) => i));
    expect(queue.takeRuns({ sliceBytes: 20_000, consumers: 2 })).toEqual([{ index: 0, slices: Math.floor(RUN_BYTES / 20_000) }]);
    expect([...queue.runs({ sliceBytes: 20_000, consumers: 2 })].reduce((a, r) => a + r.slices, 0)).toBe(10_000 - Math.floor(RUN_BYTES / 20_000));
  });

  it('takes nothing after clear(), and a consumer starts none of the runs it has taken but not begun', () => {
    const queue = new SliceQueue([5, 6, 7]);
    queue.clear();
    expect(queue.takeRuns({ sliceBytes: 1, consumers: 1 })).toEqual([]);
    // a resumed job: one take holds three runs
    const gaps = new SliceQueue([1, 3, 5, 7, 9, 11, 13, 15]);
    const runs = gaps.runs({ sliceBytes: 1, consumers: 1 });
    expect(runs.next().value).toEqual({ index: 1, slices: 1 });
    gaps.clear();
    expect(runs.next().done).toBe(true);
  });
});

describe('runOnThreads', () => {
  it('with no threads, leaves the queue to the other consumers and returns at once', async () => {
    const queue = new SliceQueue([0, 1, 2]);
    const done: unknown[] = [];
    await runOnThreads({} as JobSpec, queue, 0, { sliceBytes: 1, consumers: 1 }, '/nonexistent', { progress() {}, done: (r) => done.push(r) });
    expect(done).toEqual([]);
    expect(queue.takeRuns({ sliceBytes: 1, consumers: 1 })).toEqual([{ index: 0, slices: 1 }]);
  });
});

describe('runOnThreads: large partials handed to the main thread', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  // 60,000 atoms: a partial's cells are 1.4 MB of float64; 6 atoms: 144 bytes.
  it.each([
    [60_000, true],
    [6, false],
  ])('mean-structure of %i atoms: each committed partial comes with its report (%s), holding what the log holds', async (atoms, handed) => {
    const path = join(tmp.path, `hand-${atoms}.npy`);
    python(`np.save(args, np.random.default_rng(5).normal(0, 30, (32, ${atoms}, 3)).astype(np.float32))\nprint(1)`, path);
    const ref = await analysisRef('mean-structure');
    const source = await openFiles([path]);
    const stateDir = join(tmp.path, `state-${atoms}`);
    try {
      const spec = await planJob(source, ref, { slices: 2 }, source.identity);
      expect(spec.sliceCount).toBe(2);
      const queue = new SliceQueue([0, 1]);
      const done: { index: number; handed?: Partial; content: string }[] = [];
      const log = new LocalPartialLog(stateDir, spec.id);
      await runOnThreads(spec, queue, 1, { sliceBytes: spec.input.bytes / 2, consumers: 1 }, stateDir, {
        progress() {},
        done: (r, p) => done.push({ index: r.index, ...(p ? { handed: p } : {}), content: partialContent(log.read(r)) }),
      });
      log.close();
      expect(done.map((d) => d.index)).toEqual([0, 1]);
      for (const d of done) {
        expect(d.handed !== undefined).toBe(handed);
        if (d.handed) expect(partialContent(d.handed)).toBe(d.content);
      }
    } finally {
      await source.close();
    }
  });
});

describe('StartedThreads: threads started before the job is planned', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('a thread started early waits for its job as a message, then scans every slice of the queue', async () => {
    const path = join(tmp.path, 'early.npy');
    python('np.save(args, np.random.default_rng(3).normal(0, 1, (40, 6, 3)).astype(np.float32))\nprint(1)', path);
    const ref = await analysisRef('mean-structure');
    // Started before anything is planned, as runLocal does.
    const started = new StartedThreads(1, ref);
    const source = await openFiles([path]);
    try {
      const spec = await planJob(source, ref, { slices: 8 }, source.identity);
      const queue = new SliceQueue(Array.from({ length: 8 }, (_, i) => i));
      const done: number[] = [];
      await runOnThreads(spec, queue, 1, { sliceBytes: spec.input.bytes / 8, consumers: 1 }, tmp.path, { progress() {}, done: (r) => done.push(r.index) }, started);
      // The one started thread was the one that ran (none other was started), and took all.
      expect(started.take(1)).toEqual([]);
      const partials = statePartials(tmp.path, spec.id);
      expect(partials.flatMap((p) => Array.from({ length: p.slices ?? 1 }, (_, i) => p.index + i)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(partials.every((p) => p.run.worker.startsWith('thread-'))).toBe(true);
      expect(done.length).toBe(partials.length);
    } finally {
      await started.close();
      await source.close();
    }
  });

  it('takes the thread bin/fanout.mjs started before loading the CLI, or stops it when no thread is wanted', async () => {
    const ref = await analysisRef('mean-structure');
    const url = new StartedThreads(0, ref).url;
    const early = (): Worker => {
      const thread = new Worker(url, { workerData: null });
      thread.unref();
      (globalThis as Record<symbol, unknown>)[Symbol.for('fanout.earlyThread')] = { url: url.href, thread };
      return thread;
    };
    const taken = early();
    const started = new StartedThreads(2, ref);
    const threads = started.take(2);
    expect(threads).toContain(taken);
    expect(threads.length).toBe(2);
    await started.close();
    await Promise.all(threads.map((w) => w.terminate()));
    const unwanted = early();
    const exited = new Promise((resolve) => unwanted.once('exit', resolve));
    const none = new StartedThreads(0, ref);
    expect(none.take(1)).toEqual([]);
    await exited;
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('fanout.earlyThread')]).toBeUndefined();
  });

  it('threads never given a job are stopped by close()', async () => {
    const started = new StartedThreads(2, await analysisRef('sum'));
    await started.close();
    expect(started.take(2)).toEqual([]);
  });
});
