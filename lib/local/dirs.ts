/**
 * Creating the directories a user names (the state dir, an output folder). Node's
 * `mkdirSync(dir, { recursive: true })` spins for ever at 100% CPU where the kernel
 * answers ENOENT for a directory whose parent exists (under /proc), so the missing
 * levels are made one at a time, and every failure is a one-line UsageError.
 */
import { mkdirSync, type Stats, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../core/errors.ts';

export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  for (;;) {
    const st = statOrNothing(at);
    if (st) {
      if (!st.isDirectory()) throw new UsageError(`${at} is a file, not a directory: cannot create ${resolve(dir)}`);
      break;
    }
    missing.push(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      // Another writer made it in the meantime: fine.
      if (err.code === 'EEXIST' && statOrNothing(d)?.isDirectory()) continue;
      throw new UsageError(`cannot create the directory ${d} (${err.code ?? err.message})`);
    }
  }
}

/** A path's stat, or undefined where nothing is (also below a file: ENOTDIR). */
function statOrNothing(path: string): Stats | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}
