/**
 * The state dir's partial logs: what a kill -9 can leave behind (a torn last line), two
 * writers committing the same slice, and reading partials back one at a time.
 */
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalPartialLog, partialsInLog } from '../../lib/local/partial-log.ts';
import type { Partial } from '../../lib/core/job.ts';
import { PartialConflictError } from '../../lib/job/documents.ts';
import { tempDir } from '../helpers/cli.ts';

const tmp = tempDir('fanout-partial-log-');
afterAll(() => tmp.cleanup());
let dirs = 0;
const JOB = 'abc123';

function partial(index: number, sum: number, worker = 'main', slices = 1): Partial {
  return {
    job: JOB,
    index,
    ...(slices > 1 ? { slices } : {}),
    start: index * 10,
    end: (index + slices) * 10,
    rows: 1,
    skipped: 0,
    skippedExamples: [],
    state: { sum, text: 'a "quoted"\nline' },
    run: { bytesRead: 10, startedAt: 1, finishedAt: 2, worker },
  };
}

function freshDir(): { stateDir: string; logs: () => string[] } {
  const stateDir = join(tmp.path, `state-${dirs++}`);
  const partials = join(stateDir, 'jobs', JOB, 'partials');
  return { stateDir, logs: () => readdirSync(partials).map((f) => join(partials, f)) };
}

describe('LocalPartialLog', () => {
  it('reads back every partial appended, by slice, from any writer', () => {
    const { stateDir, logs } = freshDir();
    const a = new LocalPartialLog(stateDir, JOB);
    const b = new LocalPartialLog(stateDir, JOB);
    const refs = [a.append(partial(2, 2.5)), b.append(partial(0, 0.5)), a.append(partial(1, 1.5))];
    a.close();
    b.close();
    expect(logs()).toHaveLength(2);
    const reader = new LocalPartialLog(stateDir, JOB);
    const committed = reader.committed();
    expect([...committed.keys()].sort()).toEqual([0, 1, 2]);
    expect(committed.get(2)).toEqual(refs[0]);
    for (const i of [0, 1, 2]) expect(reader.read(committed.get(i)!)).toEqual(partial(i, i + 0.5));
    reader.close();
  });

  it('ignores a torn last line, as kill -9 in the middle of a write leaves it', () => {
    const { stateDir, logs } = freshDir();
    const w = new LocalPartialLog(stateDir, JOB);
    w.append(partial(0, 1));
    w.append(partial(1, 2));
    w.close();
    const [log] = logs();
    const line = `${JSON.stringify(partial(2, 3))}\n`;
    // Every cut of the third line short of its newline leaves it uncommitted.
    for (const cut of [1, 20, line.length - 2, line.length - 1]) {
      const torn = readFileSync(log!, 'utf8').split('\n').slice(0, 2).join('\n') + '\n' + line.slice(0, cut);
      writeFileSync(log!, torn);
      const reader = new LocalPartialLog(stateDir, JOB);
      expect([...reader.committed().keys()]).toEqual([0, 1]);
      reader.close();
      expect(partialsInLog(readFileSync(log!), JOB).map((p) => p.index)).toEqual([0, 1]);
    }
    appendFileSync(log!, line.slice(line.length - 1));
    expect([...new LocalPartialLog(stateDir, JOB).committed().keys()]).toEqual([0, 1, 2]);
  });

  it('accepts a slice committed twice with the same content, whatever the run story says', () => {
    const { stateDir } = freshDir();
    new LocalPartialLog(stateDir, JOB).append(partial(0, 1, 'thread-1'));
    new LocalPartialLog(stateDir, JOB).append(partial(0, 1, 'main'));
    expect([...new LocalPartialLog(stateDir, JOB).committed().keys()]).toEqual([0]);
  });

  it('refuses a slice committed twice with different content', () => {
    const { stateDir } = freshDir();
    new LocalPartialLog(stateDir, JOB).append(partial(0, 1));
    new LocalPartialLog(stateDir, JOB).append(partial(0, 2));
    expect(() => new LocalPartialLog(stateDir, JOB).committed()).toThrow(PartialConflictError);
  });

  it('leaves out lines that are not partials of this job', () => {
    const { stateDir, logs } = freshDir();
    const w = new LocalPartialLog(stateDir, JOB);
    w.append(partial(0, 1));
    w.close();
    const badExtents = [0, -2, 1.5, '3', null].map((slices) => JSON.stringify({ ...partial(1, 1), slices })).join('\n');
    appendFileSync(logs()[0]!, `not json\n${JSON.stringify({ ...partial(1, 1), job: 'other' })}\n{"job":"${JOB}"}\n${badExtents}\n`);
    expect([...new LocalPartialLog(stateDir, JOB).committed().keys()]).toEqual([0]);
  });

  it('finds lines longer than its read block', () => {
    const { stateDir } = freshDir();
    const big = { ...partial(0, 1), state: { values: Array.from({ length: 300_000 }, (_, i) => i / 7) } };
    const w = new LocalPartialLog(stateDir, JOB);
    w.append(partial(1, 1));
    const ref = w.append(big);
    w.append(partial(2, 1));
    w.close();
    expect(ref.length).toBeGreaterThan(1 << 20);
    const reader = new LocalPartialLog(stateDir, JOB);
    const committed = reader.committed();
    expect(committed.get(0)).toEqual(ref);
    expect(reader.read(committed.get(0)!)).toEqual(big);
    expect(reader.read(committed.get(2)!)).toEqual(partial(2, 1));
    reader.close();
  });

  it('keys a run of slices by its first slice, and leaves out a later partial of another writer that overlaps it', () => {
    const { stateDir } = freshDir();
    const a = new LocalPartialLog(stateDir, JOB);
    const run = a.append(partial(2, 7, 'main', 3));
    expect(run).toMatchObject({ index: 2, slices: 3 });
    a.append(partial(0, 1));
    a.close();
    // a second run at the same time cut the same slices otherwise: 1..3 overlaps 2..4, 5 does not
    const b = new LocalPartialLog(stateDir, JOB);
    b.append(partial(1, 9, 'thread-1', 3));
    b.append(partial(5, 5, 'thread-1'));
    b.close();
    const reader = new LocalPartialLog(stateDir, JOB);
    const committed = reader.committed();
    const got = [...committed.values()].map((r) => [r.index, r.slices]).sort((x, y) => x[0]! - y[0]!);
    // Logs are read in name order, so which of the two overlapping runs is kept depends on
    // the names, never both; the slice neither kept run covers is scanned again.
    expect([
      [[0, 1], [1, 3], [5, 1]],
      [[0, 1], [2, 3], [5, 1]],
    ]).toContainEqual(got);
    reader.close();
  });

  it('refuses the same run committed twice with different content', () => {
    const { stateDir } = freshDir();
    new LocalPartialLog(stateDir, JOB).append(partial(3, 1, 'main', 4));
    new LocalPartialLog(stateDir, JOB).append(partial(3, 1, 'thread-1', 4));
    expect([...new LocalPartialLog(stateDir, JOB).committed().keys()]).toEqual([3]);
    new LocalPartialLog(stateDir, JOB).append(partial(3, 2, 'main', 4));
    expect(() => new LocalPartialLog(stateDir, JOB).committed()).toThrow(PartialConflictError);
  });

  it('writes logs that a version without runs does not read, and reads that version\'s logs', () => {
    const { stateDir, logs } = freshDir();
    const w = new LocalPartialLog(stateDir, JOB);
    w.append(partial(0, 1, 'main', 3));
    w.close();
    // fanout before runs read `*.jsonl` and took every line for one slice: it would fold a run
    // of three slices as one and scan slices 1 and 2 again, a wrong sum. It must see no log.
    expect(logs().filter((f) => f.endsWith('.jsonl'))).toEqual([]);
    // ... while its logs, one slice a line, are still resumed from.
    const old = logs()[0]!.replace(/[^/]+$/, '1234-0-abcdef01.jsonl');
    writeFileSync(old, `${JSON.stringify(partial(3, 3))}\n${JSON.stringify(partial(4, 4))}\n`);
    const reader = new LocalPartialLog(stateDir, JOB);
    expect([...reader.committed().values()].map((r) => [r.index, r.slices]).sort((x, y) => x[0]! - y[0]!)).toEqual([
      [0, 3],
      [3, 1],
      [4, 1],
    ]);
    reader.close();
  });

  it('leaves out a partial that reaches past the plan, so that it hides no slice of it', () => {
    const { stateDir, logs } = freshDir();
    const w = new LocalPartialLog(stateDir, JOB);
    w.append(partial(0, 1, 'main', 2));
    w.append(partial(2, 1));
    w.close();
    // a damaged line, read first: it would cover all four slices of the plan and more
    const damaged = logs()[0]!.replace(/[^/]+$/, '0-0-00000000.ndjson');
    writeFileSync(damaged, `${JSON.stringify(partial(0, 9, 'main', 5))}\n${JSON.stringify(partial(1, 1, 'main', 20_000_000))}\n`);
    const reader = new LocalPartialLog(stateDir, JOB);
    expect([...reader.committed(4).values()].map((r) => [r.index, r.slices]).sort((x, y) => x[0]! - y[0]!)).toEqual([
      [0, 2],
      [2, 1],
    ]);
    reader.close();
  });

  it('reads back binary partials, also one whose binary fields are all empty (an XTC slice that holds no frame start)', () => {
    const { stateDir } = freshDir();
    const w = new LocalPartialLog(stateDir, JOB);
    const withBytes = { ...partial(0, 1), state: { cells: 2, hi: Uint8Array.of(1, 10, 3) } };
    const empty = { ...partial(1, 0), state: { cells: 0, hi: new Uint8Array(0), lo: new Uint8Array(0) } };
    w.append(withBytes);
    w.append(empty);
    w.append(partial(2, 2));
    w.close();
    const reader = new LocalPartialLog(stateDir, JOB);
    const committed = reader.committed();
    expect([...committed.keys()].sort()).toEqual([0, 1, 2]);
    const first = reader.read(committed.get(0)!) as typeof withBytes;
    expect([...first.state.hi]).toEqual([1, 10, 3]);
    const back = reader.read(committed.get(1)!) as typeof empty;
    expect(back.state.cells).toBe(0);
    expect(back.state.hi).toBeInstanceOf(Uint8Array);
    expect(back.state.lo).toBeInstanceOf(Uint8Array);
    expect(back.state.hi.length + back.state.lo.length).toBe(0);
    expect(reader.read(committed.get(2)!)).toEqual(partial(2, 2));
    reader.close();
  });
});
