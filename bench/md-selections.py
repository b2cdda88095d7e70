"""Atom selections and the fitting analyses on real trajectories with their topologies
(MDAnalysis's, MDTraj's and chemfiles' test data, kept outside the repo: DATA holds
mda/ (MDAnalysis testsuite/MDAnalysisTests/data, '/' in paths as '_'), mdtraj/
(examples/data) and chemfiles/ (tests-data, '/' as '_')):
`--topology T --select S` gives the same atoms as MDAnalysis's select_atoms (checked
through rg of every frame), and rmsd with --fit-select/--select, rmsf with --select and
rdf with --select/--select2 agree with rms.RMSD, the RMSF recipe and InterRDF.

Usage: /usr/bin/python3 bench/md-selections.py DATA
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

warnings.simplefilter('ignore')
DATA = os.path.abspath(sys.argv[1]) + '/'
BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bin', 'fanout.mjs')
work = tempfile.mkdtemp()
os.chdir(work)  # a folder named chemfiles in the current one would hide the module MDAnalysis imports
import numpy as np  # noqa: E402
import MDAnalysis as mda  # noqa: E402
cases = [
 ('mda/adk_oplsaa.xtc', 'mda/adk_oplsaa.gro', ['backbone', 'name CA', 'resname SOL and name OW', 'protein and not name H*', 'resid 10:20 and backbone', '(resname LEU or resname ILE) and not backbone', 'index 0:99', 'not protein']),
 ('mda/adk_dims.dcd', 'mda/adk.psf', ['backbone', 'protein and name CA', '(resname LEU or resname ILE) and not backbone', 'resid 1-5', 'name C*']),
 ('mda/cobrotoxin.xtc', 'mda/cobrotoxin.pdb', ['protein', 'backbone', 'resname SOL', 'name CA and resid 1:30']),
 ('mda/tip125_tric_C36.dcd', 'mda/tip125_tric_C36.psf', ['name OH2', 'name H1 H2']),
 ('mda/watdyn.dcd', 'mda/watdyn.psf', ['name OH2', 'not name OH2']),
 ('mda/SiN_tric_namd.dcd', 'mda/SiN_tric_namd.psf', ['name SI*', 'resid 1']),
 ('mdtraj/frame0.xtc', 'mdtraj/native.pdb', ['protein', 'backbone', 'name CA']),
 ('chemfiles/trr_ubiquitin.trr', 'chemfiles/gro_ubiquitin.gro', ['protein', 'backbone', 'resname SOL']),
]
fails = 0
for traj, top, sels in cases:
    t, p = DATA + traj, DATA + top
    tc = shutil.copy(t, work)
    try:
        u = mda.Universe(p, tc)
    except Exception as e:
        print('skip', traj, top, type(e).__name__, str(e)[:100]); continue
    scale = 10.0 if t.endswith(('.xtc', '.trr')) else 1.0
    for sel in sels:
        try:
            ag = u.select_atoms(sel)
        except Exception as e:
            print('mda-sel-fail', traj, sel, e); continue
        if len(ag) == 0:
            print('empty', traj, sel); continue
        r = mda.coordinates.core.reader(tc, convert_units=False) if scale != 1 else None
        xs = []
        for ts in (r if r is not None else u.trajectory):
            xs.append(ts.positions[ag.indices].astype(np.float64) * scale)
        x = np.array(xs)
        c = x - x.mean(axis=1, keepdims=True)
        rg = np.sqrt((c ** 2).sum(axis=2).mean(axis=1))
        out = subprocess.run(['node', BIN, 'run', t, '--analysis', 'rg', '--topology', p, '--select', sel, '--json', '--quiet', '--slices', '3', '--workers', '2', '--state-dir', work + '/st'], capture_output=True, text=True)
        if out.returncode != 0:
            fails += 1; print('FAIL', traj, repr(sel), 'exit', out.returncode, out.stderr.strip()[:300]); continue
        got = np.array(json.loads(out.stdout)['result']['rg'])
        d = float(np.max(np.abs(got - rg) / np.maximum(rg, 1e-300))) if got.shape == rg.shape else float('inf')
        d = 0.0 if len(ag) == 1 and got.shape == rg.shape and np.all(got == 0) else d
        ok = d < 1e-12
        fails += not ok
        print('ok  ' if ok else 'FAIL', traj, repr(sel), len(ag), 'atoms; rg max rel', f'{d:.3g}')

from MDAnalysis.analysis import rms, align, rdf  # noqa: E402
def run(*a):
    out = subprocess.run(['node', BIN, 'run', *a, '--json', '--quiet', '--workers', '2', '--state-dir', work + '/st'], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)['result']
for traj, top, fit, meas in [('mda/adk_oplsaa.xtc', 'mda/adk_oplsaa.gro', 'backbone', 'name CA'), ('mda/adk_dims.dcd', 'mda/adk.psf', 'name CA', 'backbone'), ('mda/cobrotoxin.xtc', 'mda/cobrotoxin.pdb', 'backbone', 'protein')]:
    t, p = DATA + traj, DATA + top
    u = mda.Universe(p, shutil.copy(t, work), convert_units=not t.endswith(('xtc', 'trr')))
    k = 10.0 if t.endswith(('xtc', 'trr')) else 1.0
    want = rms.RMSD(u, u, select=fit, groupselections=[meas], ref_frame=1).run().results.rmsd[:, 3] * k
    for s in (1, 4):
        got = np.array(run(t, '--analysis', 'rmsd', '--topology', p, '--fit-select', fit, '--select', meas, '--ref-frame', '1', '--slices', str(s))['rmsd'])
        d = np.abs(got - want).max()
        fails += d >= 1e-5
        print('ok  ' if d < 1e-5 else 'FAIL', traj, 'rmsd fit', fit, 'measure', meas, 'slices', s, 'max|Δ|', d)
    avg = align.AverageStructure(u, u, select=meas, ref_frame=0).run()
    align.AlignTraj(u, avg.results.universe, select=meas, in_memory=True).run()
    want = rms.RMSF(u.select_atoms(meas)).run().results.rmsf * k
    for s in (1, 4):
        got = np.array(run(t, '--analysis', 'rmsf', '--topology', p, '--select', meas, '--slices', str(s))['rmsf'])
        d = np.abs(got - want).max()
        fails += d >= 1e-4
        print('ok  ' if d < 1e-4 else 'FAIL', traj, 'rmsf', meas, 'slices', s, 'max|Δ|', d)
t, p = DATA + 'mda/tip125_tric_C36.dcd', DATA + 'mda/tip125_tric_C36.psf'
u = mda.Universe(p, shutil.copy(t, work))
for sa, sb, ex in [('name OH2', 'name OH2', (1, 1)), ('name OH2', 'name H1 H2', (1, 2))]:
    w = rdf.InterRDF(u.select_atoms(sa), u.select_atoms(sb), exclusion_block=ex, nbins=100, range=(0, 12)).run().results
    for s in (1, 5):
        g = run(t, '--analysis', 'rdf', '--topology', p, '--select', sa, '--select2', sb, '--option', f'exclusion_block={ex[0]},{ex[1]}', '--option', 'nbins=100', '--option', 'range=0,12', '--slices', str(s))
        dc, dr = int(np.abs(np.array(g['count']) - w.count).max()), np.abs(np.array(g['rdf']) - w.rdf).max()
        fails += dc != 0 or dr >= 1e-6
        print('ok  ' if dc == 0 and dr < 1e-6 else 'FAIL', 'tip125 rdf', sa, '|', sb, 'slices', s, 'count Δ', dc, 'rdf Δ', dr)
print(fails, 'failed')
sys.exit(1 if fails else 0)
