"""Sweeps real trajectories (from other projects' test suites, kept outside the repo):
runs `fanout run FILE` with several --slices and --workers and compares with what
MDAnalysis 2.4.2 reads from a copy of the same file: frames, atoms, the exact mean
structure (math.fsum), numpy's rg of every frame, the first and last unit cell, and
where they make sense rmsd (rms.RMSD), rmsf (the AverageStructure + AlignTraj + RMSF
recipe) and rdf (InterRDF, with a unit cell in every frame). A file MDAnalysis cannot
read is reported with fanout's message. One line per file and check; exit 1 when any
check fails.

Usage: /usr/bin/python3 bench/md-sweep.py [--quick] [--no-fit] FILE ...
(run it from any folder: it changes to a temporary one, as a folder named `chemfiles`
in the current one hides the chemfiles module MDAnalysis imports)
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

warnings.simplefilter('ignore')
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, '..', 'bin', 'fanout.mjs')
files = [os.path.abspath(f) for f in sys.argv[1:] if not f.startswith('--')]
quick = '--quick' in sys.argv
fit = '--no-fit' not in sys.argv
work = tempfile.mkdtemp(prefix='fanout-sweep-')
os.chdir(work)

import numpy as np  # noqa: E402
import MDAnalysis as mda  # noqa: E402

FMT = {'xtc': 'XTC', 'trr': 'TRR', 'nc': 'NCDF', 'ncdf': 'NCDF', 'dcd': 'DCD'}
NM = {'xtc', 'trr'}
failures = 0


runs = 0


def fanout(path, *args, state=None):
    # a state dir of its own per run (so that each one scans), unless told to resume
    global runs
    runs += 1
    r = subprocess.run(['node', BIN, 'run', path, '--json', '--quiet', '--state-dir', state or os.path.join(work, f'state-{runs}'), *args], capture_output=True, text=True)
    if r.returncode != 0:
        return None, r
    return json.loads(r.stdout), r


def report(name, check, ok, detail=''):
    global failures
    if not ok:
        failures += 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {check} {detail}", flush=True)


def scipy_oracle(copy):
    # NetCDF files MDAnalysis refuses (time in fs, a variable without units): scipy, scale factors applied
    from scipy.io import netcdf_file
    f = netcdf_file(copy, 'r', mmap=False)
    v = f.variables
    scale = lambda name: float(getattr(v[name], 'scale_factor', 1.0))
    x = np.asarray(v['coordinates'][:], dtype=np.float64) * scale('coordinates')
    dims = [[0.0, 0.0, 0.0, 90.0, 90.0, 90.0]] * len(x)
    if 'cell_lengths' in v and 'cell_angles' in v:
        dims = [[*(np.asarray(v['cell_lengths'][i], dtype=np.float64) * scale('cell_lengths')), *(np.asarray(v['cell_angles'][i], dtype=np.float64) * scale('cell_angles'))] for i in range(len(x))]
    f.close()
    return x, dims


def oracle(path):
    ext = path.rsplit('.', 1)[-1].lower()
    copy = shutil.copy(path, os.path.join(work, os.path.basename(path)))
    if FMT[ext] == 'NCDF':
        try:
            mda.coordinates.core.reader(copy, format='NCDF').close()
        except Exception as e:  # noqa: BLE001
            try:
                x, dims = scipy_oracle(copy)
            except Exception:  # noqa: BLE001
                raise e from None
            print(f'note {os.path.basename(path)}: MDAnalysis cannot read it ({type(e).__name__}: {str(e)[:100]}): scipy is the oracle, no rmsd/rmsf/rdf', flush=True)
            return copy, 'scipy', x.shape[1], x, dims
    r = mda.coordinates.core.reader(copy, format=FMT[ext], convert_units=False)
    frames = [(ts.positions.copy() if ts.has_positions else None, None if ts.dimensions is None else ts.dimensions.copy()) for ts in r]
    n = r.n_atoms
    r.close()
    scale = 10.0 if ext in NM else 1.0
    x = np.array([f[0] for f in frames if f[0] is not None], dtype=np.float64).reshape(-1, n, 3) * scale
    # no box (MDAnalysis: None) is fanout's all-zero box
    dims = [[0.0, 0.0, 0.0, 90.0, 90.0, 90.0] if d is None else [d[0] * scale, d[1] * scale, d[2] * scale, d[3], d[4], d[5]] for _, d in frames]
    return copy, ext, n, x, dims


def mda_universe(copy, ext, n):
    # in the file's unit (MDAnalysis converts nm to Å in float32, which rounds): scaled to Å after
    u = mda.Universe.empty(n, trajectory=True)
    u.load_new(copy, format=FMT[ext], convert_units=False)
    u.add_TopologyAttr('masses', np.ones(n))
    for attr, values in (('resids', [1]), ('resnames', ['X']), ('names', ['A'] * n)):
        u.add_TopologyAttr(attr, values)
    return u


def sweep(path):
    name = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
    ext = path.rsplit('.', 1)[-1].lower()
    try:
        copy, ext, n, x, dims = oracle(path)
    except Exception as e:  # noqa: BLE001
        doc, r = fanout(path, '--analysis', 'rg')
        msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''
        report(name, 'MDAnalysis cannot read it', doc is None and r.returncode == 2 and 'at byte' in msg and 'Error:' not in r.stderr,
               f'| MDAnalysis: {type(e).__name__}: {str(e)[:120]} | fanout exit {r.returncode}: {msg[:300]}')
        return
    F = x.shape[0]
    if F == 0:
        report(name, 'no frames with positions', False)
        return
    mean = [[math.fsum(x[:, i, k]) / F for k in range(3)] for i in range(n)]
    c = x - x.mean(axis=1, keepdims=True)
    rg = np.sqrt((c ** 2).sum(axis=2).mean(axis=1))
    slices = sorted({1, 3, 7, max(1, F - 1), F + 5} if not quick else {1, 7, F + 5})
    for i, s in enumerate(slices):
        for w in ([1, 2] if s == 7 else [1 + i % 2]):
            tag = f'--slices {s} --workers {w}'
            doc, r = fanout(path, '--analysis', 'mean-structure', '--slices', str(s), '--workers', str(w))
            if doc is None:
                report(name, f'mean-structure {tag}', False, f'exit {r.returncode}: {r.stderr.strip()[:400]}')
                continue
            got = np.array(doc['result']['mean'], dtype=np.float64)
            d = float(np.max(np.abs(got - np.array(mean)))) if got.shape == (n, 3) else float('inf')
            report(name, f'mean-structure {tag}', doc['result']['frames'] == F and doc['result']['atoms'] == n and d <= 1e-6 * max(1.0, float(np.max(np.abs(x)))),
                   f'frames {doc["result"]["frames"]}/{F} atoms {doc["result"]["atoms"]}/{n} max|Δ| {d:.3g}{" (bit-identical)" if d == 0 else ""}')
            box = doc['result'].get('box')
            if s == 1:
                want = [dims[0], dims[-1]] if dims[0][0] > 0 else None
                if want is None:
                    # no box, or one of zeros (MDAnalysis: None; fanout: lengths 0)
                    report(name, 'no unit cell', box is None or box['first']['a'] == 0, f'fanout box {box}')
                else:
                    got_box = [[b[k] for k in ('a', 'b', 'c', 'alpha', 'beta', 'gamma')] for b in (box['first'], box['last'])] if box else None
                    db = max(abs(g - w_) for gb, wb in zip(got_box, want) for g, w_ in zip(gb, wb)) if got_box else float('inf')
                    report(name, 'unit cell first/last', db < 1e-3, f'max|Δ| {db:.3g} first {np.round(want[0], 4).tolist()}')
            doc, r = fanout(path, '--analysis', 'rg', '--slices', str(s), '--workers', str(w))
            if doc is None:
                report(name, f'rg {tag}', False, f'exit {r.returncode}: {r.stderr.strip()[:400]}')
                continue
            got = np.array(doc['result']['rg'])
            d = float(np.max(np.abs(got - rg) / np.maximum(rg, 1e-300))) if got.shape == rg.shape else float('inf')
            report(name, f'rg {tag}', d < 1e-12, f'frames {len(got)}/{F} max rel |Δ| {d:.3g}')
    # a resume on another worker count reads every partial back from the log
    state = os.path.join(work, 'resume')
    first, _ = fanout(path, '--analysis', 'mean-structure', '--slices', str(F + 5), '--workers', '1', state=state)
    again, r = fanout(path, '--analysis', 'mean-structure', '--slices', str(F + 5), '--workers', '2', state=state)
    report(name, f'mean-structure resumed --slices {F + 5}', first is not None and again is not None and again['resumedSlices'] == again['slices'] and again['result']['mean'] == first['result']['mean'],
           '' if again is not None else f'exit {r.returncode}: {r.stderr.strip()[:300]}')
    if not fit or F < 2 or ext not in FMT:
        return
    try:
        fits(name, path, copy, ext, n, F, dims)
    except Exception as e:  # noqa: BLE001
        report(name, 'rmsd/rmsf/rdf oracle crashed', False, f'{type(e).__name__}: {e}')


def fits(name, path, copy, ext, n, F, dims):
    scale = 10.0 if ext in NM else 1.0
    u = mda_universe(copy, ext, n)
    from MDAnalysis.analysis import align, rdf as mrdf, rms
    sub = [] if n <= 3000 else ['--atoms', f'0-{2999}']
    sel = 'all' if n <= 3000 else 'index 0:2999'
    want_rmsd = want_rmsf = None
    try:
        want_rmsd = rms.RMSD(u, u, select=sel, ref_frame=0).run().results.rmsd[:, 2] * scale
    except Exception as e:  # noqa: BLE001
        print(f'note {name}: MDAnalysis rms.RMSD failed: {type(e).__name__}: {e}', flush=True)
    try:
        average = align.AverageStructure(u, u, select=sel, ref_frame=0).run()
        align.AlignTraj(u, average.results.universe, select={'mobile': sel, 'reference': 'all'}, in_memory=True).run()
        want_rmsf = rms.RMSF(u.select_atoms(sel)).run().results.rmsf * scale
    except Exception as e:  # noqa: BLE001
        print(f'note {name}: the MDAnalysis RMSF recipe failed: {type(e).__name__}: {e}', flush=True)
    u = mda.Universe.empty(n, trajectory=True)
    u.load_new(copy, format=FMT[ext])
    for s in sorted({1, 3, F + 5}):
        if want_rmsd is None or want_rmsf is None:
            break
        doc, r = fanout(path, '--analysis', 'rmsd', '--slices', str(s), '--workers', '2', *sub)
        if doc is None:
            report(name, f'rmsd --slices {s}', False, f'exit {r.returncode}: {r.stderr.strip()[:400]}')
        else:
            d = float(np.max(np.abs(np.array(doc['result']['rmsd']) - want_rmsd)))
            report(name, f'rmsd --slices {s}', d < 1e-5, f'max|Δ| {d:.3g} Å')
        doc, r = fanout(path, '--analysis', 'rmsf', '--slices', str(s), '--workers', '2', *sub)
        if doc is None:
            report(name, f'rmsf --slices {s}', False, f'exit {r.returncode}: {r.stderr.strip()[:400]}')
        else:
            d = float(np.max(np.abs(np.array(doc['result']['rmsf']) - want_rmsf)))
            report(name, f'rmsf --slices {s}', d < 1e-4, f'max|Δ| {d:.3g} Å')
    if all(d[0] > 0 for d in dims):
        m = min(n, 600)
        g = u.atoms[:m]
        want = mrdf.InterRDF(g, g).run().results
        for s in sorted({1, F + 5}):
            doc, r = fanout(path, '--analysis', 'rdf', '--slices', str(s), '--workers', '2', '--atoms', f'0-{m - 1}')
            if doc is None:
                report(name, f'rdf --slices {s}', False, f'exit {r.returncode}: {r.stderr.strip()[:400]}')
                continue
            dc = int(np.max(np.abs(np.array(doc['result']['count']) - want.count)))
            dr = float(np.max(np.abs(np.array(doc['result']['rdf']) - want.rdf) / np.maximum(1.0, np.abs(want.rdf))))
            report(name, f'rdf --slices {s} ({m} atoms)', dc == 0 and dr < 1e-6, f'max|Δcount| {dc} max|Δrdf| (relative past 1) {dr:.3g}')


for f in files:
    try:
        sweep(f)
    except Exception as e:  # noqa: BLE001
        report(f, 'sweep crashed', False, f'{type(e).__name__}: {e}')
shutil.rmtree(work, ignore_errors=True)
print(f'{failures} failed', flush=True)
sys.exit(1 if failures else 0)
