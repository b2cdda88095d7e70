/**
 * The real trajectories from the MDAnalysis test suite (../shared/data/md, with their
 * provenance in its README) sit beside the checkout in CI and on the developers' machines,
 * not in a user's fresh clone. Tests on them use `describeMd`: skipped there, with the
 * reason printed once.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe } from 'vitest';
import { ROOT } from './cli.ts';

export const MD_DATA = resolve(ROOT, '../shared/data/md');
export const hasMdData = existsSync(join(MD_DATA, 'README.md'));
export const mdFile = (name: string): string => join(MD_DATA, name);

let told = false;
/** `describe` for tests that read the real trajectories. */
export function describeMd(name: string, body: () => void): void {
  if (!hasMdData && !told) {
    told = true;
    console.warn(`MD reference data SKIPPED: no ${MD_DATA} beside this checkout (it holds the real trajectories from the MDAnalysis test suite; CI has it)`);
  }
  describe.skipIf(!hasMdData)(name, body);
}
