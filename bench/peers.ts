/**
 * Speed peers that are not fanout's dependencies: installed once, pinned, into
 * bench-cache/peers/ (git-ignored), so that the product's lock file stays free of a
 * benchmark's native packages (nodejs-polars ships its binary as one package per
 * platform, and this machine's registry holds only the Linux x64 one).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const POLARS_VERSION = '0.26.1';

/** The folder whose node_modules holds nodejs-polars, or why there is none. */
export function polarsHome(root: string): { dir: string } | { skipped: string } {
  const dir = join(root, 'bench-cache', 'peers');
  if (existsSync(join(dir, 'node_modules', 'nodejs-polars', 'package.json'))) return { dir };
  if (process.platform !== 'linux' || process.arch !== 'x64') return { skipped: `nodejs-polars-linux-x64-gnu is for Linux x64, this is ${process.platform} ${process.arch}` };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fanout-bench-peers', private: true }, null, 2));
  try {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--save-exact', `nodejs-polars@${POLARS_VERSION}`, `nodejs-polars-linux-x64-gnu@${POLARS_VERSION}`], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (e) {
    return { skipped: `npm install nodejs-polars@${POLARS_VERSION} failed: ${(e as Error).message}` };
  }
  return { dir };
}
