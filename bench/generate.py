"""Writes the benchmark datasets into a cache directory, once (skipped when present).

Usage: python3 bench/generate.py CACHE_DIR SCALE
SCALE multiplies the row counts (1.0 for the full run, smaller for --quick).
"""
import os
import sys

import numpy as np

cache, scale = sys.argv[1], float(sys.argv[2])
os.makedirs(cache, exist_ok=True)
rng = np.random.default_rng(20240601)


def done(path):
    return os.path.exists(path) and os.path.getsize(path) > 0


def write_csv(path, rows, fmt):
    if done(path):
        return
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        # In blocks so the generator itself stays small in memory.
        left = rows
        while left > 0:
            n = min(left, 20000)
            block = rng.uniform(-1000.0, 1000.0, size=(n, 100))
            np.savetxt(f, block, fmt=fmt, delimiter=',')
            left -= n
    os.replace(tmp, path)


def write_npy(path, frames):
    if done(path):
        return
    tmp = path + '.tmp.npy'
    arr = np.lib.format.open_memmap(tmp, mode='w+', dtype='<f8', shape=(frames, 50, 100))
    for at in range(0, frames, 1000):
        n = min(1000, frames - at)
        arr[at:at + n] = rng.standard_normal(size=(n, 50, 100))
    arr.flush()
    del arr
    os.replace(tmp, path)


# %.6f of values in (-1000, 1000): at most 10 significant digits, ~10.4 bytes a value.
write_csv(os.path.join(cache, 'f6.csv'), int(260000 * scale), '%.6f')
# numpy's default format: 19 significant digits, ~25.5 bytes a value.
write_csv(os.path.join(cache, 'e18.csv'), int(120000 * scale), '%.18e')
# (F, 50, 100) float64: 40,000 bytes a frame.
write_npy(os.path.join(cache, 'traj.npy'), int(25000 * scale))

def write_atoms(path, frames, atoms):
    """(frames, atoms, 3) float32: a million-atom trajectory, positions jittering around a structure."""
    if done(path):
        return
    tmp = path + '.tmp.npy'
    arr = np.lib.format.open_memmap(tmp, mode='w+', dtype='<f4', shape=(frames, atoms, 3))
    base = rng.uniform(-50.0, 50.0, size=(atoms, 3)).astype(np.float32)
    for f in range(frames):
        arr[f] = base + rng.normal(0.0, 0.5, size=(atoms, 3)).astype(np.float32)
    arr.flush()
    del arr
    os.replace(tmp, path)


# (40, 10^6, 3) float32, 480 MB: mean-structure against numpy's mean(axis=0).
write_atoms(os.path.join(cache, 'atoms.npy'), max(4, int(40 * scale)), 1000000)


def write_prefix(path, source, nbytes):
    """The whole lines of `source` within its first `nbytes` bytes."""
    if done(path):
        return
    with open(source, 'rb') as f:
        data = f.read(nbytes)
    with open(path + '.tmp', 'wb') as f:
        f.write(data[: data.rindex(b'\n') + 1])
    os.replace(path + '.tmp', path)


def write_copies(path, source, nbytes):
    """`source` repeated until the file holds at least `nbytes` bytes."""
    if done(path):
        return
    size = os.path.getsize(source)
    with open(path + '.tmp', 'wb') as out, open(source, 'rb') as f:
        data = f.read()
        for _ in range(-(-nbytes // size)):
            out.write(data)
    os.replace(path + '.tmp', path)


# For the slice-count comparison (200 MB) and the memory bound (2 GB).
write_prefix(os.path.join(cache, 'f6-200MB.csv'), os.path.join(cache, 'f6.csv'), int(200e6 * scale))
write_copies(os.path.join(cache, 'big.csv'), os.path.join(cache, 'f6.csv'), int(2e9 * scale))
for name in sorted(os.listdir(cache)):
    print(name, os.path.getsize(os.path.join(cache, name)))
