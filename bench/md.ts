/**
 * fanout against the MD tools a researcher would use instead, side by side in one run:
 *   npx tsx bench/md.ts [--runs 3] [--quick]
 * Trajectories (written once into bench-cache/md/):
 *   - XTC, >= 500 MB: the real adk_oplsaa.xtc of ../shared/data/md (47,681 atoms, 10
 *     frames) repeated 310 times (a concatenation of XTC files is an XTC file), or, without
 *     ../shared, a trajectory of the same size written by MDAnalysis;
 *   - DCD, 492 MB: 12,240 frames of 3,341 atoms (adk's size), random coordinates.
 * Peers, serial, each in its fastest idiomatic form: MDAnalysis 2.4.2 (the format's reader,
 * ts.positions per frame, numpy for the statistic) with its offsets already cached beside
 * the file, and on first open (the offsets pass a user meets); MDTraj 1.9.7 (its file
 * object's read() in chunks of 500 frames, numpy). Analyses: rg of every frame, the mean
 * structure, and the fitting analyses rmsd and rmsf (MDAnalysis's rms.RMSD and its RMSF
 * recipe only: MDTraj has no RMSF recipe of its own). Every run is a whole process under
 * /usr/bin/time, taking turns. `--analyses rmsd,rmsf` runs some of them.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomCoords, writeDcd } from '../test/helpers/dcd.ts';
import { median, type Row, takeTurns, type Tool } from './measure.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({ options: { runs: { type: 'string' }, quick: { type: 'boolean' }, analyses: { type: 'string' } } });
const ANALYSES = ['rg', 'mean-structure', 'rmsd', 'rmsf'];
const analyses = args.analyses?.split(',') ?? ANALYSES;
for (const a of analyses) if (!ANALYSES.includes(a)) throw new Error(`--analyses: ${a} is not one of ${ANALYSES.join(', ')}`);
const quick = args.quick ?? false;
const runs = Number(args.runs ?? (quick ? 1 : 3));
const cache = join(ROOT, 'bench-cache', 'md');
mkdirSync(cache, { recursive: true });
const PY = '/usr/bin/python3';
const node = process.execPath;
const fanoutBin = join(ROOT, 'bin/fanout.mjs');
const shared = resolve(ROOT, '../shared/data/md/adk_oplsaa.xtc');

function xtcFile(): string {
  const copies = quick ? 31 : 310;
  const path = join(cache, `adk_oplsaa-x${copies}.xtc`);
  if (existsSync(path)) return path;
  if (existsSync(shared)) {
    const one = readFileSync(shared);
    const fd = openSync(path, 'w');
    for (let i = 0; i < copies; i++) writeSync(fd, one);
    closeSync(fd);
  } else {
    const r = spawnSync(PY, ['-W', 'ignore', '-c', WRITE_XTC, path, String(copies * 10)], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`could not write ${path} with MDAnalysis`);
  }
  return path;
}

const WRITE_XTC = `
import sys, numpy as np, MDAnalysis as mda
from MDAnalysis.coordinates.XTC import XTCWriter
path, frames, n = sys.argv[1], int(sys.argv[2]), 47681
rng = np.random.default_rng(1)
x = rng.uniform(0, 80, size=(n, 3)).astype(np.float32)
with XTCWriter(path, n) as w:
    u = mda.Universe.empty(n, trajectory=True)
    for f in range(frames):
        x += rng.normal(scale=0.1, size=x.shape).astype(np.float32)
        u.atoms.positions = x
        w.write(u)
`;

function dcdFile(): string {
  const frames = quick ? 1224 : 12_240;
  const atoms = 3341;
  const path = join(cache, `adk-size-${frames}x${atoms}.dcd`);
  if (!existsSync(path)) writeDcd(path, { atoms, coords: randomCoords(frames, atoms, 5) });
  return path;
}

// One script for both peers and both analyses: prints the sum of rg over frames (or of the
// mean structure's values), a check that every tool read the same numbers.
const PEER = `
import sys, numpy as np
tool, fmt, analysis, path = sys.argv[1:5]
def frames():
    if tool == 'mda':
        from MDAnalysis.coordinates.XTC import XTCReader
        from MDAnalysis.coordinates.DCD import DCDReader
        r = (XTCReader if fmt == 'xtc' else DCDReader)(path)
        for ts in r:
            # MDAnalysis converts XTC's nm to Å, as fanout does
            yield ts.positions[None]
    else:
        import mdtraj
        F = mdtraj.formats.XTCTrajectoryFile if fmt == 'xtc' else mdtraj.formats.DCDTrajectoryFile
        with F(path) as f:
            while True:
                xyz = f.read(n_frames=500)[0]
                if len(xyz) == 0:
                    break
                # MDTraj reads XTC in nm: to Å, as fanout and MDAnalysis give it
                yield xyz.astype(np.float64) * (10.0 if fmt == 'xtc' else 1.0)
total, count, acc = 0.0, 0, None
for x in frames():
    x = x.astype(np.float64)
    if analysis == 'rg':
        c = x - x.mean(axis=1, keepdims=True)
        total += np.sqrt((c * c).sum(axis=2).mean(axis=1)).sum()
    else:
        s = x.sum(axis=0)
        acc = s if acc is None else acc + s
    count += len(x)
print(repr(float(total if analysis == 'rg' else (acc / count).sum())))
`;

// The fitting analyses in MDAnalysis, serial, with all atoms fitted and measured: rms.RMSD
// to frame 0, and the RMSF recipe of its documentation (AverageStructure to frame 0,
// AlignTraj to the average, RMSF); AlignTraj writes the fitted trajectory to a file (in
// memory it would hold 1.7 GB for the XTC). Prints the sum over the series (or over atoms)
// in Å (MDAnalysis converts, as fanout does), the check column.
const PEER_FIT = `
import sys, os, tempfile, shutil, numpy as np, MDAnalysis as mda
from MDAnalysis.analysis import align, rms
fmt, analysis, path = sys.argv[1:4]
from MDAnalysis.coordinates.core import reader
r = reader(path); n = r.n_atoms; r.close()
u = mda.Universe.empty(n, trajectory=True)
u.load_new(path)
for attr, values in (('masses', np.ones(n)), ('resids', [1]), ('resnames', ['X']), ('names', ['A'] * n)):
    u.add_TopologyAttr(attr, values)
if analysis == 'rmsd':
    values = rms.RMSD(u, u, select='all', ref_frame=0).run().results.rmsd[:, 2]
else:
    d = tempfile.mkdtemp()
    try:
        ref = align.AverageStructure(u, u, select='all', ref_frame=0).run().results.universe
        out = os.path.join(d, 'fitted.' + fmt)
        align.AlignTraj(u, ref, select='all', filename=out).run()
        v = mda.Universe.empty(n, trajectory=True)
        v.load_new(out)
        values = rms.RMSF(v.atoms).run().results.rmsf
    finally:
        shutil.rmtree(d)
print(repr(float(values.sum())))
`;

const mdaFit = (fmt: string, analysis: string): Tool => ({
  name: 'MDAnalysis, offsets cached',
  argv: (file) => {
    const link = join(cache, 'mda', basename(file));
    if (!existsSync(link)) {
      mkdirSync(resolve(link, '..'), { recursive: true });
      linkSync(file, link);
    }
    return [PY, '-W', 'ignore', '-c', PEER_FIT, fmt, analysis, link];
  },
  total: (out) => Number(out.trim()),
});

const fanout = (analysis: string, extra: string[], label: string): Tool => {
  let dir = '';
  return {
    name: `fanout ${label}`,
    argv: (file) => {
      dir = mkdtempSync(join(tmpdir(), 'fanout-md-bench-'));
      return [node, fanoutBin, 'run', file, '--analysis', analysis, '--json', '--quiet', '--state-dir', dir, ...extra];
    },
    total: (out) => {
      const r = JSON.parse(out).result;
      const series = analysis === 'rg' ? r.rg : analysis === 'rmsd' ? r.rmsd : analysis === 'rmsf' ? r.rmsf : (r.mean as number[][]).flat();
      return (series as number[]).reduce((a, b) => a + b, 0);
    },
    after: () => rmSync(dir, { recursive: true, force: true }),
  };
};

/** MDAnalysis on a path whose offsets are cached (a warm-up run wrote them), or on a fresh folder each time (first open). */
const mda = (fmt: string, analysis: string, firstOpen: boolean): Tool => {
  let dir = '';
  let link = '';
  return {
    name: firstOpen ? 'MDAnalysis, first open (offsets pass)' : 'MDAnalysis, offsets cached',
    before: () => {
      // In bench-cache/, so that a hard link to the trajectory can be made there.
      dir = mkdtempSync(join(cache, 'fresh-'));
    },
    argv: (file) => {
      // MDAnalysis keeps its offsets beside the file it opens (following a symbolic link to
      // the real file): a hard link in a folder of our own is a file it has not seen.
      link = firstOpen ? join(dir, `t.${fmt}`) : join(cache, 'mda', basename(file));
      if (!existsSync(link)) {
        mkdirSync(resolve(link, '..'), { recursive: true });
        linkSync(file, link);
      }
      return [PY, '-W', 'ignore', '-c', PEER, 'mda', fmt, analysis, link];
    },
    total: (out) => Number(out.trim()),
    after: () => rmSync(dir, { recursive: true, force: true }),
  };
};

const mdtraj = (fmt: string, analysis: string): Tool => ({ name: 'MDTraj', argv: (file) => [PY, '-W', 'ignore', '-c', PEER, 'mdtraj', fmt, analysis, file], total: (out) => Number(out.trim()) });

const bench = (dataset: string, file: string, tools: Tool[]): Promise<Row[]> => takeTurns(dataset, file, tools, runs);

const xtc = xtcFile();
const dcd = dcdFile();
// MDAnalysis's offsets for the cached rows: written by one untimed open.
spawnSync(PY, ['-W', 'ignore', '-c', PEER, 'mda', 'xtc', 'rg', (mda('xtc', 'rg', false).argv(xtc) as string[]).pop()!], { stdio: 'ignore' });
const rows: Row[] = [];
for (const analysis of analyses) {
  if (analysis === 'rmsd' || analysis === 'rmsf') {
    for (const [fmt, file] of [
      ['XTC', xtc],
      ['DCD', dcd],
    ] as const) {
      rows.push(
        ...(await bench(`${fmt} ${(statSync(file).size / 1e6).toFixed(0)} MB, ${analysis}`, file, [
          fanout(analysis, [], 'default workers'),
          fanout(analysis, ['--workers', '1'], '1 worker'),
          mdaFit(fmt.toLowerCase(), analysis),
        ])),
      );
    }
    continue;
  }
  rows.push(
    ...(await bench(`XTC ${(statSync(xtc).size / 1e6).toFixed(0)} MB, ${analysis}`, xtc, [
      fanout(analysis, [], 'default workers'),
      fanout(analysis, ['--workers', '1'], '1 worker'),
      mda('xtc', analysis, false),
      mda('xtc', analysis, true),
      mdtraj('xtc', analysis),
    ])),
  );
  rows.push(...(await bench(`DCD ${(statSync(dcd).size / 1e6).toFixed(0)} MB, ${analysis}`, dcd, [fanout(analysis, [], 'default workers'), fanout(analysis, ['--workers', '1'], '1 worker'), mda('dcd', analysis, false), mdtraj('dcd', analysis)])));
}

const lines = ['| dataset | tool | wall s, median (min–max) | CPU s | peak RSS MB | peer time / fanout time | check |', '|---|---|---|---|---|---|---|'];
for (const r of rows) {
  const ours = rows.find((x) => x.dataset === r.dataset && x.tool === 'fanout default workers')!;
  const w = median(r.wall);
  lines.push(
    `| ${r.dataset} | ${r.tool} | ${w.toFixed(2)} (${Math.min(...r.wall).toFixed(2)}–${Math.max(...r.wall).toFixed(2)}) | ${median(r.cpu).toFixed(2)} | ${Math.max(...r.rss).toFixed(0)} | ${(w / median(ours.wall)).toFixed(2)}× | ${r.total.toPrecision(8)} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
