/** Ctrl-C during fanout run: one line saying what was kept and how to resume, exit 130, no spool left behind. */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interruptedMessage } from '../../lib/cli/main.ts';
import { BIN, tempDir } from '../helpers/cli.ts';

const tmp = tempDir('fanout-interrupt-');
afterAll(() => tmp.cleanup());

describe('an interrupted run', () => {
  it('says how many slices are kept, where, and that the same command resumes', () => {
    const progress = { slicesDone: 5, slicesTotal: 16, resumedSlices: 0, bytesDone: 0, bytesTotal: 0, startedAt: 0 };
    expect(interruptedMessage(progress, '/data/.fanout', false)).toBe('fanout: interrupted: 5 of 16 slices are kept in /data/.fanout; run the same command again to resume');
    expect(interruptedMessage(undefined, '/data/.fanout', false)).toBe('fanout: interrupted before any slice was scanned; run the same command again to start');
    expect(interruptedMessage({ ...progress, stage: 'stage 2 of 2 (rmsf)' }, '/data/.fanout', false)).toBe(
      'fanout: interrupted in stage 2 of 2 (rmsf): 5 of 16 slices are kept in /data/.fanout; run the same command again to resume',
    );
    expect(interruptedMessage(progress, '/data/.fanout', true)).toBe('fanout: interrupted: a run over standard input is not resumed (nothing kept)');
  });

  it('ends a run over standard input on SIGINT with that line, exit 130, and removes the spooled input', async () => {
    const state = join(tmp.path, 'state');
    const child = spawn(process.execPath, [BIN, 'run', '-', '--state-dir', state]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    // Some input, and the pipe kept open: fanout is spooling it when the signal comes.
    child.stdin.write('1,2\n3,4\n');
    const spoolDir = join(state, 'stdin');
    while (!(existsSync(spoolDir) && readdirSync(spoolDir).length > 0)) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toBe('fanout: interrupted: a run over standard input is not resumed (nothing kept)\n');
    expect(readdirSync(spoolDir)).toEqual([]);
  });
});
