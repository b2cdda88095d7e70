#!/usr/bin/env node
// The fanout command. It runs the bundle in dist/ (npm run build, also run by npm
// install) when that is at least as new as every source file (lib/ and functions/), and otherwise the
// TypeScript sources through tsx's loader, so an edit never runs stale code. The loader
// costs a few hundred ms of start-up. FANOUT_SOURCE=1 forces the sources, FANOUT_BUNDLE=1
// the bundle.
import { readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const root = new URL('..', import.meta.url);

function newestSourceMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMs(url) : statSync(url).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  if (process.env.FANOUT_SOURCE === '1') return false;
  try {
    const builtMs = statSync(new URL('dist/cli.js', root)).mtimeMs;
    // The benchmark builds the bundle itself and must time it even while sources change.
    // functions/ too: `fanout dev` runs the Lambda handlers from the bundle.
    return process.env.FANOUT_BUNDLE === '1' || builtMs >= Math.max(newestSourceMs(new URL('lib/', root)), newestSourceMs(new URL('functions/', root)));
  } catch {
    return false;
  }
}

// fanout is tested on Node 20 as well as 22 and 24 (package.json engines): the AWS SDK's
// notice that its releases from 2027 on need Node 22 is for fanout's maintainers, who pin
// the SDK, not for its users, so it is not printed to them.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A reader that stops early (`fanout run … --json | head -1`) closes the pipe: the result
// is complete by then, so fanout ends quietly, as Unix tools do, not with a stack trace.
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
});
process.stderr.on('error', (e) => {
  if (e.code !== 'EPIPE') throw e;
});

const argv = process.argv.slice(2);

/**
 * `fanout run` of a large local file: one worker thread is started before the CLI is
 * loaded (about 50 ms of the main thread), so that it loads its own code meanwhile: a
 * thread's start-up (about 0.1 s) was the longest stretch of a 10^6-atom mean-structure
 * that ran on one core. It waits for a job (lib/local/thread-pool.ts, StartedThreads,
 * which takes it or stops it) and, unreferenced until then, never keeps the process
 * alive. A guess from the arguments alone (the full rules are runLocal's): `run`, a
 * second core, not --workers 1, and an argument that names a file of 64 MiB or more.
 */
function startThreadEarly() {
  if (argv[0] !== 'run' || availableParallelism() < 2) return;
  if (argv.some((a, i) => a === '--workers=1' || a === '-w1' || (a === '1' && (argv[i - 1] === '--workers' || argv[i - 1] === '-w')))) return;
  const size = (a) => {
    try {
      return statSync(a, { throwIfNoEntry: false })?.size ?? 0;
    } catch {
      return 0; // unreadable, not a path: the CLI says what is wrong with it
    }
  };
  const big = argv.slice(1).some((a) => !a.startsWith('-') && size(a) >= 64 * 1024 * 1024);
  if (!big) return;
  const url = new URL('dist/thread-worker.js', root);
  const thread = new Worker(url, { workerData: null });
  thread.on('error', () => {});
  thread.unref();
  globalThis[Symbol.for('fanout.earlyThread')] = { url: url.href, thread };
}
// A user's analysis module imports fanout's sources (defineAnalysis, registerAnalysis),
// which must be the very modules the runtime uses: such runs take the sources.
const analysisModule = argv.some((a, i) => {
  const value = a.startsWith('--analysis=') ? a.slice(11) : argv[i - 1] === '--analysis' ? a : undefined;
  return value !== undefined && (value.includes('/') || /\.(m?[jt]s|cjs)$/.test(value));
});
let main;
if (!analysisModule && bundleIsFresh()) {
  startThreadEarly();
  ({ main } = await import('../dist/cli.js'));
} else {
  (await import('tsx/esm/api')).register();
  ({ main } = await import('../lib/cli/main.ts'));
}
process.exitCode = await main(argv);
