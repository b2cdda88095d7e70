import { describe, expect, it } from 'vitest';
import { colourWanted, CountBar, ProgressBar } from '../../lib/cli/progress.ts';
import { fanout, tempDir } from '../helpers/cli.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function sink() {
  const out: string[] = [];
  return { out, stream: { write: (s: string) => out.push(s) } };
}
const progress = (done: number, total = 3) => ({ slicesDone: done, slicesTotal: total, resumedSlices: 0, bytesDone: done * 100, bytesTotal: total * 100, startedAt: Date.now() - 1000 });

describe('ProgressBar', () => {
  it('prints the finished state once when stderr is not a terminal', () => {
    const { out, stream } = sink();
    const bar = new ProgressBar({ stream, tty: false, intervalMs: 0 });
    for (let i = 0; i <= 3; i++) bar.update(progress(i));
    bar.finish();
    expect(out.filter((l) => l.includes('3/3 slices'))).toHaveLength(1);
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r') && !l.includes('\x1b'))).toBe(true);
  });

  it('prints the finished state once when the run reports it twice (the last slice, then the whole job)', () => {
    const { out, stream } = sink();
    const bar = new ProgressBar({ stream, tty: false, intervalMs: 60_000 });
    bar.update(progress(0));
    bar.update(progress(3));
    bar.update({ ...progress(3), bytesDone: 300 });
    bar.finish();
    expect(out.filter((l) => l.includes('3/3 slices'))).toHaveLength(1);
  });

  it('still prints the final state when the last update was throttled', () => {
    const { out, stream } = sink();
    const bar = new ProgressBar({ stream, tty: false, intervalMs: 60_000 });
    bar.update(progress(0, 5));
    bar.update(progress(4, 5));
    bar.finish();
    expect(out).toHaveLength(2);
    expect(out[1]).toContain('4/5 slices');
  });

  it('redraws one line on a terminal (cli-progress) and ends it with a newline', () => {
    const { out, stream } = sink();
    const bar = new ProgressBar({ stream, tty: true, intervalMs: 0, colour: false });
    for (let i = 0; i <= 3; i++) bar.update(progress(i));
    bar.finish();
    const text = out.join('');
    // every line is drawn from column 1 and cleared to its end; no newline until the end
    expect(text.indexOf('\n')).toBe(text.length - 1);
    const lines = text.split('\x1b[1G').slice(1);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^\[-{24}\] 0\/3 slices/);
    expect(lines[lines.length - 1]).toMatch(/^\[#{24}\] 3\/3 slices .*ETA 0:00/);
    expect(lines.every((l) => l.includes('\x1b[0K'))).toBe(true);
  });
});

describe('a chained job (rmsf: two stages)', () => {
  const staged = (stage: string, done: number) => ({ ...progress(done), stage });

  it('names the stage on every line and prints each stage\'s finished state once, without a terminal', () => {
    const { out, stream } = sink();
    const bar = new ProgressBar({ stream, tty: false, intervalMs: 60_000 });
    for (const stage of ['stage 1 of 2 (rmsf-average)', 'stage 2 of 2 (rmsf)']) for (let i = 0; i <= 3; i++) bar.update(staged(stage, i));
    bar.finish();
    expect(out.filter((l) => l.includes('3/3 slices')).map((l) => l.split(' [')[0])).toEqual(['stage 1 of 2 (rmsf-average)', 'stage 2 of 2 (rmsf)']);
    expect(out[0]).toMatch(/^stage 1 of 2 \(rmsf-average\) \[-{24}\] 0\/3 slices/);
  });

  it('leaves the first stage\'s bar on its own line on a terminal and draws the second below it', () => {
    const { out, stream } = sink();
    const bar = new ProgressBar({ stream, tty: true, intervalMs: 0, colour: false });
    for (const stage of ['stage 1 of 2 (rmsf-average)', 'stage 2 of 2 (rmsf)']) for (let i = 0; i <= 3; i++) bar.update(staged(stage, i));
    bar.finish();
    const lines = out.join('').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]!.split('\x1b[1G').pop()).toMatch(/^stage 1 of 2 \(rmsf-average\) \[#{24}\] 3\/3 slices/);
    expect(lines[1]!.split('\x1b[1G').pop()).toMatch(/^stage 2 of 2 \(rmsf\) \[#{24}\] 3\/3 slices/);
  });
});

describe('colour', () => {
  it.each([
    [true, {}, true],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: '' }, true],
    [false, {}, false],
  ])('on a terminal %s with env %j is %s', (tty, env, expected) => {
    expect(colourWanted(tty, env as NodeJS.ProcessEnv)).toBe(expected);
  });

  it('colours the bar only when asked', () => {
    const { out, stream } = sink();
    const coloured = new CountBar({ stream, tty: true, colour: true, intervalMs: 0 });
    coloured.update({ label: 'upload', done: 5, total: 10, startedAt: Date.now() - 1000, unit: 'bytes' });
    coloured.finish();
    expect(out.join('')).toContain('\x1b[32m');
    const plain = sink();
    const bar = new CountBar({ stream: plain.stream, tty: true, colour: false, intervalMs: 0 });
    bar.update({ label: 'job', done: 2, total: 8, startedAt: Date.now() - 1000, unit: 'partials' });
    bar.finish();
    expect(plain.out.join('')).toContain(`\x1b[1Gjob [${'#'.repeat(6)}${'-'.repeat(18)}] 2/8 partials  ETA 0:03\x1b[0K`);
    expect(plain.out.join('')).not.toContain('\x1b[32m');
  });
});

describe('fanout run progress', () => {
  it('writes plain lines to a pipe, the last one once, and keeps --json stdout clean', () => {
    const tmp = tempDir();
    try {
      const csv = join(tmp.path, 'p.csv');
      writeFileSync(csv, Array.from({ length: 5000 }, (_, i) => `${i}\n`).join(''));
      const r = fanout(['run', csv, '--progress', '--json', '--slices', '4', '--workers', '1', '--state-dir', join(tmp.path, 's')], { env: { FORCE_COLOR: '1' } });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).records).toBe(5000);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines.filter((l) => l.includes('4/4 slices'))).toHaveLength(1);
      expect(r.stderr.includes('\x1b') || r.stderr.includes('\r')).toBe(false);
    } finally {
      tmp.cleanup();
    }
  });
});
