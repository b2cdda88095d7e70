/**
 * npm run bench [-- --quick] [-- --runs N] [-- --workers N] [-- --only csv] [-- --baseline DIR]
 *
 * Times whole processes side by side on the same files: fanout (one worker and the
 * default), each peer in its fastest idiomatic form (polars readCSV + column sums with its
 * default threads, DuckDB read_csv + sum, numpy a.sum(axis=2).sum(axis=0), a.sum() and
 * a.mean(axis=0) on a memory-mapped .npy), and a plain Node loop. Datasets are generated once into
 * bench-cache/ (bench-cache/quick/ with --quick) by bench/generate.py. Every process runs
 * under /usr/bin/time, which gives its peak resident memory and CPU time; wall time is
 * measured here. Tools take turns within each round so that a change in the machine's
 * load (it may be shared) hits all of them alike. The table is printed and written into
 * BENCHMARKS.md between the bench markers.
 *
 * --workers N gives fanout's "default workers" rows N workers (for a machine with more
 * cores than this one; the default is one per core) and sets the scaling rows: fanout with
 * 1 and N workers against N independent fanout processes (1 worker each) on N parts of the
 * same data taking turns, which is what N cores allow with nothing shared between them.
 *
 * --only csv times the two CSV datasets alone (fanout, polars, DuckDB, numpy, plain Node)
 * and prints the table without writing BENCHMARKS.md. --baseline DIR adds fanout rows run
 * from another checkout (DIR/bin/fanout.mjs, its bundle built), taking turns with the
 * rest: an A/B of two versions against the same peers in one run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fromNpyBytes } from '../lib/core/result-array.ts';
import { median, type Row, takeTurns, type Tool } from './measure.ts';
import { polarsHome, POLARS_VERSION } from './peers.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, runs: { type: 'string' }, workers: { type: 'string' }, 'no-write': { type: 'boolean' }, only: { type: 'string' }, baseline: { type: 'string' } } });
if (args.only !== undefined && args.only !== 'csv') throw new Error(`--only takes csv: ${args.only}`);
const baseline = args.baseline === undefined ? undefined : resolve(args.baseline);
const workers = args.workers === undefined ? undefined : Number(args.workers);
if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) throw new Error(`--workers must be a whole number from 1: ${args.workers}`);
// fanout's "default workers" rows: one per core, or --workers N.
const defaultWorkers = workers === undefined ? [] : ['--workers', String(workers)];
const defaultLabel = workers === undefined ? 'default workers' : `default workers (--workers ${workers})`;
const quick = args.quick ?? false;
const runs = Number(args.runs ?? (quick ? 2 : 3));
const cache = join(ROOT, 'bench-cache', quick ? 'quick' : '');
const node = process.execPath;
const fanoutBin = join(ROOT, 'bin/fanout.mjs');
function fanoutTool(name: string, extra: string[], bin = fanoutBin): Tool {
  let stateDir = '';
  // The sum of each large result array (a .npy beside result.json), read before the state dir goes.
  let arraySums = new Map<string, number>();
  return {
    name,
    argv: (file) => {
      stateDir = mkdtempSync(join(tmpdir(), 'fanout-bench-state-'));
      return [node, bin, 'run', file, '--quiet', '--json', '--state-dir', stateDir, ...extra];
    },
    total: (out) => {
      const r = JSON.parse(out).result;
      const values = (v: unknown): number => (v && typeof v === 'object' && '$npy' in v ? arraySums.get((v as { $npy: string }).$npy)! : ([v].flat(2) as (number | null)[]).reduce<number>((a, x) => a + (x ?? NaN), 0));
      if (r.mean !== undefined) return values(r.mean);
      return r.sum ?? values(r.rowSums);
    },
    after: () => {
      arraySums = new Map();
      for (const job of readdirSync(join(stateDir, 'jobs'))) {
        for (const f of readdirSync(join(stateDir, 'jobs', job)).filter((n) => n.endsWith('.npy'))) {
          arraySums.set(f, fromNpyBytes(f, readFileSync(join(stateDir, 'jobs', job, f))).data.reduce((a, b) => a + b, 0));
        }
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

const py = (code: string): Tool => ({
  name: 'numpy',
  argv: (file) => ['python3', '-c', `import sys, numpy as np\n${code}`, file],
  total: (out) => Number(out.trim()),
});

const polars = polarsHome(ROOT);

const baselineTools = (): Tool[] =>
  baseline === undefined
    ? []
    : [fanoutTool(`baseline fanout (${baseline}), 1 worker`, ['--workers', '1'], join(baseline, 'bin/fanout.mjs')), fanoutTool(`baseline fanout (${baseline}), ${defaultLabel}`, defaultWorkers, join(baseline, 'bin/fanout.mjs'))];

const csvTools = (columns: number): Tool[] => [
  fanoutTool('fanout, 1 worker', ['--workers', '1']),
  fanoutTool(`fanout, ${defaultLabel}`, defaultWorkers),
  ...baselineTools(),
  ...('dir' in polars ? [{ name: 'polars readCSV + column sums', argv: (f: string) => [node, join(ROOT, 'bench/polars-sum.mjs'), polars.dir, f], total: (o: string) => JSON.parse(o).sum }] : []),
  { name: 'DuckDB read_csv + sum', argv: (f) => [node, join(ROOT, 'bench/duckdb-sum.mjs'), f, String(columns)], total: (o) => JSON.parse(o).sum },
  py(`print(repr(float(np.loadtxt(sys.argv[1], delimiter=',').sum())))`),
  { name: 'Node readline + split + parseFloat', argv: (f) => [node, join(ROOT, 'bench/node-baseline.mjs'), f], total: (o) => JSON.parse(o).sum },
];

// numpy's fastest idiomatic forms: contiguous reductions (the strided sum(axis=(0, 2)) is
// several times slower, and was this bench's baseline before).
const npyRowSumTools: Tool[] = [
  fanoutTool('fanout row-sums, 1 worker', ['--workers', '1', '--analysis', 'row-sums']),
  fanoutTool(`fanout row-sums, ${defaultLabel}`, [...defaultWorkers, '--analysis', 'row-sums']),
  { ...py(`print(repr(float(np.load(sys.argv[1], mmap_mode='r').sum(axis=2).sum(axis=0).sum())))`), name: 'numpy load(mmap_mode=r).sum(axis=2).sum(axis=0)' },
];

const npySumTools: Tool[] = [
  fanoutTool('fanout sum, 1 worker', ['--workers', '1']),
  fanoutTool(`fanout sum, ${defaultLabel}`, defaultWorkers),
  { ...py(`print(repr(float(np.load(sys.argv[1], mmap_mode='r').sum())))`), name: 'numpy load(mmap_mode=r).sum()' },
];

// A million atoms: one exact sum per atom and axis, against numpy's float32 mean over frames.
const atomTools: Tool[] = [
  fanoutTool(`fanout mean-structure, ${defaultLabel}`, [...defaultWorkers, '--analysis', 'mean-structure']),
  { ...py(`print(repr(float(np.load(sys.argv[1], mmap_mode='r').mean(axis=0).sum())))`), name: 'numpy load(mmap_mode=r).mean(axis=0)' },
];

const bench = (dataset: string, file: string, tools: Tool[], rounds = runs): Promise<Row[]> => takeTurns(dataset, file, tools, rounds);

/** `n` fanout processes of one worker each, one a part, run at once (the shell waits for all). */
function partsTool(name: string, parts: string[]): Tool {
  let dir = '';
  return {
    name,
    argv: () => {
      dir = mkdtempSync(join(tmpdir(), 'fanout-bench-parts-'));
      const each = parts.map((p, k) => `'${node}' '${fanoutBin}' run '${p}' --quiet --json --workers 1 --state-dir '${dir}/s${k}' > '${dir}/out${k}.json' &`);
      return ['sh', '-c', `${each.join(' ')} wait; for k in ${parts.map((_, k) => k).join(' ')}; do cat '${dir}'/out$k.json; echo '@@@'; done`];
    },
    total: (out) => out.split('@@@').filter((doc) => doc.trim() !== '').reduce((a, doc) => a + (JSON.parse(doc).result.sum as number), 0),
    after: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Scaling: fanout with 1 and `w` workers against `w` independent processes on `w` parts of the file. */
function scalingTools(file: string, w: number): Tool[] {
  const parts = execFileSync('python3', [join(ROOT, 'bench/parts.py'), file, String(w)], { encoding: 'utf8' }).trim().split('\n');
  for (const p of parts) execFileSync('cat', [p], { stdio: ['ignore', 'ignore', 'inherit'] });
  return [fanoutTool('fanout, 1 worker', ['--workers', '1']), fanoutTool(`fanout, ${w} workers`, ['--workers', String(w)]), partsTool(`${w} fanout processes of 1 worker, on ${w} parts`, parts)];
}

function table(rows: Row[]): string {
  const out = [
    '| dataset | tool | wall s, median (min–max) | MB/s | time / fanout default (or first row) | CPU s (user+sys) | peak RSS MB | total |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const ref = rows.find((x) => x.dataset === r.dataset && x.tool.startsWith('fanout') && x.tool.includes('default')) ?? rows.find((x) => x.dataset === r.dataset)!;
    const w = median(r.wall);
    out.push(
      `| ${r.dataset} | ${r.tool} | ${w.toFixed(2)} (${Math.min(...r.wall).toFixed(2)}–${Math.max(...r.wall).toFixed(2)}) | ${(r.mb / w).toFixed(0)} | ${(w / median(ref.wall)).toFixed(2)}× | ${median(r.cpu).toFixed(2)} | ${Math.max(...r.rss).toFixed(0)} | ${r.total.toPrecision(12)} |`,
    );
  }
  return out.join('\n');
}

function machine(): string {
  const cpu = cpus();
  const version = (cmd: string, a: string[]): string => {
    try {
      return execFileSync(cmd, a, { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  const duck = JSON.parse(readFileSync(join(ROOT, 'node_modules/@duckdb/node-api/package.json'), 'utf8')).version;
  return [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${cpu[0]?.model ?? '?'}, ${cpu.length} logical cores; RAM ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- load average when the run started: ${loadavg().map((x) => x.toFixed(1)).join(', ')} (the machine may be shared: see CPU s for a load-independent figure)`,
    `- Node ${process.version}, DuckDB (@duckdb/node-api) ${duck}, polars (nodejs-polars) ${'dir' in polars ? POLARS_VERSION : `not run: ${polars.skipped}`}, numpy ${version('python3', ['-c', 'import numpy; print(numpy.__version__)'])}`,
    `- ${runs} runs per tool (2 for the slice and memory rows), taking turns; page cache warm (every file is read once before timing)`,
  ].join('\n');
}

async function main(): Promise<void> {
  const load = loadavg().map((x) => x.toFixed(1)).join(', ');
  process.stderr.write(`Building the bundle (npm run build); load average ${load}\n`);
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  process.stderr.write(`Generating datasets in ${cache} (once)\n`);
  execFileSync('python3', [join(ROOT, 'bench/generate.py'), cache, quick ? '0.1' : '1'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const f = (name: string): string => join(cache, name);
  const warm = args.only === 'csv' ? ['f6.csv', 'e18.csv'] : ['f6.csv', 'e18.csv', 'traj.npy', 'atoms.npy', 'f6-200MB.csv', 'big.csv'];
  for (const name of warm) execFileSync('cat', [f(name)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const header = machine();
  if (args.only === 'csv') return onlyCsv(header, f);

  const rows = [
    ...(await bench('CSV %.6f (≤15 digits), sum', f('f6.csv'), csvTools(100))),
    ...(await bench('CSV %.18e (19 digits), sum', f('e18.csv'), csvTools(100))),
    ...(await bench('.npy (F, 50, 100) float64, row-sums', f('traj.npy'), npyRowSumTools)),
    ...(await bench('.npy (F, 50, 100) float64, sum', f('traj.npy'), npySumTools)),
    ...(await bench('.npy (F, 10^6, 3) float32, mean-structure', f('atoms.npy'), atomTools)),
  ];

  // Compressed input: the CSV ≤15 digits as gzip (one slice: zlib inflates on libuv's pool
  // while the main thread parses) and as BGZF (slices of whole members, on every worker),
  // against DuckDB read_csv on the same .csv.gz.
  const gz = f('f6.csv.gz');
  const bgz = f('f6.bgzf.csv.gz');
  if (!existsSync(gz)) execFileSync('sh', ['-c', `gzip -6 -c '${f('f6.csv')}' > '${gz}.tmp' && mv '${gz}.tmp' '${gz}'`]);
  const bgzip = execFileSync('sh', ['-c', 'command -v bgzip || true'], { encoding: 'utf8' }).trim();
  if (!existsSync(bgz) && bgzip) execFileSync('sh', ['-c', `bgzip -c '${f('f6.csv')}' > '${bgz}.tmp' && mv '${bgz}.tmp' '${bgz}'`]);
  rows.push(
    ...(await bench('CSV %.6f as .csv.gz (gzip -6), sum', gz, [
      fanoutTool(`fanout, ${defaultLabel}`, defaultWorkers),
      { name: 'DuckDB read_csv + sum', argv: (file) => [node, join(ROOT, 'bench/duckdb-sum.mjs'), file, '100'], total: (o) => JSON.parse(o).sum },
    ])),
    ...(existsSync(bgz) ? await bench('CSV %.6f as BGZF .csv.gz (bgzip), sum', bgz, [fanoutTool(`fanout, ${defaultLabel}`, defaultWorkers)]) : []),
  );

  // Many small slices cost only their per-slice overhead (one partial each).
  const sliceRows = await bench(`slices: ${(statSync(f('f6-200MB.csv')).size / 1e6).toFixed(0)} MB CSV`, f('f6-200MB.csv'), [
    fanoutTool('fanout, 16 slices', ['--slices', '16']),
    fanoutTool('fanout, 10000 slices', ['--slices', '10000']),
  ], Math.min(runs, 2));
  const memRows = await bench(`memory: ${(statSync(f('big.csv')).size / 1e9).toFixed(2)} GB CSV`, f('big.csv'), [fanoutTool(`fanout, ${defaultLabel}`, defaultWorkers)], Math.min(runs, 2));
  // Scaling with workers (item 4 of issue 17): what the runtime gives against what the cores allow.
  const w = workers ?? cpus().length;
  const scaleRows = [
    ...(await bench('scaling: .npy (F, 50, 100) float64, sum', f('traj.npy'), scalingTools(f('traj.npy'), w))),
    ...(await bench('scaling: CSV %.6f, sum', f('f6.csv'), scalingTools(f('f6.csv'), w))),
  ];
  const scaling = (d: string): string => {
    const [one, many, parts] = scaleRows.filter((r) => r.dataset.startsWith(d));
    const m = (r: Row) => median(r.wall);
    return `1 → ${w} workers: ${(m(one!) / m(many!)).toFixed(2)}× faster (CPU ${median(one!.cpu).toFixed(2)} → ${median(many!.cpu).toFixed(2)} s); ${w} processes on ${w} parts: ${(m(one!) / m(parts!)).toFixed(2)}× (CPU ${median(parts!.cpu).toFixed(2)} s)`;
  };
  const r16 = median(sliceRows[0]!.wall);
  const r10k = median(sliceRows[1]!.wall);

  const byName = (d: string, t: string): Row => rows.find((r) => r.dataset.startsWith(d) && r.tool.startsWith(t))!;
  const ratio = (d: string, a: string, b: string): number => median(byName(d, a).wall) / median(byName(d, b).wall);
  const peer = (d: string, t: string, target: string): string =>
    rows.some((r) => r.dataset.startsWith(d) && r.tool.startsWith(t)) ? `${(1 / ratio(d, 'fanout, default', t)).toFixed(2)} (target ${target})` : `not measured (${'skipped' in polars ? polars.skipped : 'no such row'})`;
  const targets = [
    `- CSV ≤15 digits: polars time / fanout time = ${peer('CSV %.6f', 'polars', '≥ 1.5')}; DuckDB time / fanout time = ${peer('CSV %.6f', 'DuckDB', '≥ 3')}`,
    `- CSV 19 digits: polars time / fanout time = ${peer('CSV %.18e', 'polars', '≥ 1.2')}; DuckDB time / fanout time = ${peer('CSV %.18e', 'DuckDB', '≥ 2')}`,
    `- .npy row-sums: fanout time / numpy time = ${ratio('.npy (F, 50, 100) float64, row-sums', 'fanout row-sums, default', 'numpy').toFixed(2)} (target ≤ 1.25)`,
    `- .npy sum: fanout time / numpy time = ${ratio('.npy (F, 50, 100) float64, sum', 'fanout sum, default', 'numpy').toFixed(2)} (target ≤ 1.25)`,
    `- CSV as .csv.gz: DuckDB time / fanout time = ${peer('CSV %.6f as .csv.gz', 'DuckDB', '> 1')}`,
    `- 10^6 atoms mean-structure: fanout time / numpy time = ${ratio('.npy (F, 10^6, 3)', 'fanout mean-structure', 'numpy').toFixed(2)} (target ≤ 2); peak RSS ${Math.max(...byName('.npy (F, 10^6, 3)', 'fanout mean-structure').rss).toFixed(0)} MB (target ≤ 500 MB)`,
    `- 10,000 slices / 16 slices = ${(r10k / r16).toFixed(2)} (target ≤ 1.25)`,
    `- peak RSS on ${(memRows[0]!.mb / 1e3).toFixed(2)} GB: ${Math.max(...memRows[0]!.rss).toFixed(0)} MB (target ≤ 150 MB)`,
    `- scaling, .npy sum: ${scaling('scaling: .npy')}`,
    `- scaling, CSV sum: ${scaling('scaling: CSV')}`,
  ];
  let dcd = '';
  if (existsSync(join(ROOT, 'bench/dcd.ts'))) {
    process.stderr.write('Running bench/dcd.ts\n');
    try {
      dcd = execFileSync(node, ['--import', 'tsx', join(ROOT, 'bench/dcd.ts'), ...(quick ? ['--mb', '16'] : [])], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    } catch (e) {
      dcd = `bench/dcd.ts failed: ${(e as Error).message}`;
    }
  }
  const report = [
    header,
    '',
    table([...rows, ...sliceRows, ...memRows, ...scaleRows]),
    '',
    'Against the targets (wall-time medians of this run):',
    '',
    ...targets,
    ...(dcd ? ['', '#### DCD (bench/dcd.ts)', '', dcd.trim()] : []),
  ].join('\n');
  process.stdout.write(`${report}\n`);
  if (!args['no-write'] && !quick) {
    const path = join(ROOT, 'BENCHMARKS.md');
    const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\n<!-- bench:begin -->\n<!-- bench:end -->\n';
    const begin = '<!-- bench:begin -->';
    const end = '<!-- bench:end -->';
    const a = doc.indexOf(begin);
    const b = doc.indexOf(end);
    const next = a >= 0 && b > a ? `${doc.slice(0, a + begin.length)}\n${report}\n${doc.slice(b)}` : `${doc}\n${begin}\n${report}\n${end}\n`;
    writeFileSync(path, next);
    process.stderr.write(`Wrote ${path}\n`);
  }
}

/** --only csv: the two CSV datasets, their targets in wall and CPU time; printed, not written. */
async function onlyCsv(header: string, f: (name: string) => string): Promise<void> {
  const rows = [...(await bench('CSV %.6f (≤15 digits), sum', f('f6.csv'), csvTools(100))), ...(await bench('CSV %.18e (19 digits), sum', f('e18.csv'), csvTools(100)))];
  const by = (d: string, t: string): Row | undefined => rows.find((r) => r.dataset.startsWith(d) && r.tool.startsWith(t));
  const lines: string[] = [];
  for (const [d, targets] of [
    ['CSV %.6f', { polars: 1.5, DuckDB: 3 }],
    ['CSV %.18e', { polars: 1.2, DuckDB: 2 }],
  ] as const) {
    for (const ours of ['fanout, default', 'baseline fanout']) {
      const us = rows.find((r) => r.dataset.startsWith(d) && r.tool.startsWith(ours) && r.tool.includes('default'));
      if (!us) continue;
      const parts = Object.entries(targets).map(([peer, target]) => {
        const p = by(d, peer);
        if (!p) return `${peer}: not run`;
        return `${peer} / ${ours.split(',')[0]}: ${(median(p.wall) / median(us.wall)).toFixed(2)} wall, ${(median(p.cpu) / median(us.cpu)).toFixed(2)} CPU (target ≥ ${target} wall)`;
      });
      lines.push(`- ${d}: ${parts.join('; ')}`);
    }
  }
  process.stdout.write(`${header}\n\n${table(rows)}\n\nRatios (peer time / fanout time, medians of this run):\n\n${lines.join('\n')}\n`);
}

await main();
