import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../lib/core/errors.ts';
import { makeDirs } from '../../lib/local/dirs.ts';

const tmp = mkdtempSync(join(tmpdir(), 'fanout-dirs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('makeDirs', () => {
  it('makes every missing level, and is happy when they exist', () => {
    const dir = join(tmp, 'a', 'b', 'c');
    makeDirs(dir);
    makeDirs(dir);
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  it('names the file that stands where a directory should be', () => {
    writeFileSync(join(tmp, 'file'), 'x');
    for (const dir of [join(tmp, 'file'), join(tmp, 'file', 'below', 'deeper')]) {
      const err = (() => {
        try {
          makeDirs(dir);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toBe(`${join(tmp, 'file')} is a file, not a directory: cannot create ${dir}`);
    }
  });

  // Node's recursive mkdir spins for ever there (ENOENT for a directory whose parent exists).
  it.skipIf(!existsSync('/proc/self'))('fails at once, with a UsageError, where the kernel refuses a directory (/proc)', () => {
    expect(() => makeDirs('/proc/fanout-state/jobs')).toThrow(new UsageError('cannot create the directory /proc/fanout-state (ENOENT)'));
  });
});
