"""Damages copies of real trajectories (kept outside the repo) and checks that
`fanout run` refuses each one with exit 2 and one line naming the file and the byte
offset of the damage, never a stack trace, for several --slices and --workers: a
truncated last frame, a frame's magic number flipped, an XTC/TRR frame's atom count or
byte count changed, garbage in the middle, and for DCD and NetCDF a record marker or
the header's frame count. Frame offsets come from MDAnalysis's own index of a copy.

Usage: /usr/bin/python3 bench/md-corrupt.py FILE ...
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings

warnings.simplefilter('ignore')
HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, '..', 'bin', 'fanout.mjs')
files = [os.path.abspath(f) for f in sys.argv[1:]]
work = tempfile.mkdtemp(prefix='fanout-corrupt-')
os.chdir(work)
import MDAnalysis as mda  # noqa: E402

failures = 0
runs = 0


def offsets(path):
    ext = path.rsplit('.', 1)[-1].lower()
    b = open(path, 'rb').read()
    if ext == 'xtc' and b[:4] == struct.pack('>i', 2023):
        # GROMACS 2023's large XTC, which MDAnalysis 2.4 does not read: walk the int64 byte counts
        out, at = [], 0
        while at < len(b):
            out.append(at)
            count = struct.unpack('>q', b[at + 88:at + 96])[0]
            at += 96 + count + (-count) % 4
        return out
    copy = shutil.copy(path, os.path.join(work, 'index.' + ext))
    r = (mda.coordinates.XTC.XTCReader if ext == 'xtc' else mda.coordinates.TRR.TRRReader)(copy)
    out = [int(o) for o in r._xdr.offsets]
    r.close()
    return out


def check(name, what, data, ext, want_at, want_text=None):
    """want_at: the offset the message must name (an int, a set of acceptable ones, or None: any)."""
    global failures, runs
    path = os.path.join(work, f'{what.replace(" ", "-")}.{ext}')
    with open(path, 'wb') as f:
        f.write(data)
    results = []
    for slices, workers in ((1, 1), (3, 2), (7, 1), (50, 2)):
        runs += 1
        r = subprocess.run(['node', BIN, 'run', path, '--analysis', 'rg', '--slices', str(slices), '--workers', str(workers), '--quiet', '--state-dir', os.path.join(work, f's{runs}')], capture_output=True, text=True)
        lines = r.stderr.strip().splitlines()
        m = re.match(rf'^fanout: {re.escape(path)}: at byte (\d+): (.*)$', lines[0]) if len(lines) == 1 else None
        at = int(m.group(1)) if m else None
        ok = r.returncode == 2 and m is not None and (want_at is None or (at in want_at if isinstance(want_at, set) else at == want_at)) and (want_text is None or re.search(want_text, m.group(2)))
        results.append((ok, slices, workers, r.returncode, at, r.stderr.strip()[:300]))
    bad = [x for x in results if not x[0]]
    if bad:
        failures += 1
    msg = results[0][5] if not bad else '; '.join(f'--slices {s} --workers {w}: exit {c} at {a}: {t}' for _, s, w, c, a, t in bad)
    print(f"{'ok  ' if not bad else 'FAIL'} {name}: {what} (want byte {sorted(want_at) if isinstance(want_at, set) else 'any' if want_at is None else want_at}) | {msg}", flush=True)


def corrupt(path):
    name = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
    ext = path.rsplit('.', 1)[-1].lower()
    b = open(path, 'rb').read()
    if ext in ('xtc', 'trr'):
        o = offsets(path)
        if len(o) < 3:
            print(f'skip {name}: {len(o)} frames', flush=True)
            return
        k = len(o) // 2
        last = o[-1]
        cut = last + (len(b) - last) // 2
        check(name, 'truncated mid last frame', b[:cut], ext, last, 'truncated|ends|past the end')
        flip = bytearray(b)
        flip[o[k]:o[k] + 4] = struct.pack('>i', 1996 if ext == 'xtc' else 1994)
        check(name, f'magic of frame {k} flipped', bytes(flip), ext, o[k])
        natoms_at = o[k] + 4 if ext == 'xtc' else None
        if natoms_at is not None:
            n = struct.unpack('>i', b[natoms_at:natoms_at + 4])[0]
            bad = bytearray(b)
            bad[natoms_at:natoms_at + 4] = struct.pack('>i', n + 1)
            check(name, f'atom count of frame {k} + 1', bytes(bad), ext, {o[k], natoms_at})
            if n > 9:
                magic = struct.unpack('>i', b[o[k]:o[k] + 4])[0]
                count_at = o[k] + 88
                size = 8 if magic == 2023 else 4
                fmt = '>q' if size == 8 else '>i'
                count = struct.unpack(fmt, b[count_at:count_at + size])[0]
                for delta in (4, -4, 1 << 20):
                    bad = bytearray(b)
                    bad[count_at:count_at + size] = struct.pack(fmt, count + delta)
                    # the frame whose byte count is wrong, its byte count, or where the next header should be
                    check(name, f'byte count of frame {k} {delta:+d}', bytes(bad), ext, {o[k], count_at, o[k] + 92 + count + delta + ((-(count + delta)) % 4), o[k + 1]})
        if ext == 'trr':
            # the x block size (ir, e, box, vir, pres, top, sym, x, ... from byte 24 of a frame header)
            x_at = o[k] + 24 + 7 * 4
            x = struct.unpack('>i', b[x_at:x_at + 4])[0]
            for delta in (4, -12):
                bad = bytearray(b)
                bad[x_at:x_at + 4] = struct.pack('>i', x + delta)
                check(name, f'x block size of frame {k} {delta:+d}', bytes(bad), ext, {o[k], o[k] + 24, x_at, o[k + 1]})
        garbage = b[:o[k]] + b'\x07' * 12 + b[o[k]:]
        # garbage and a wrong byte count look the same: the frame before it, its byte count, or the garbage
        check(name, f'12 bytes of garbage before frame {k}', garbage, ext, {o[k], o[k - 1], o[k - 1] + (88 if ext == 'xtc' else 24)})
    elif ext == 'dcd':
        if len(b) < 200 or b[4:8] != b'CORD':
            return
        le = struct.unpack('<i', b[:4])[0] == 84
        e = '<' if le else '>'
        tb = struct.unpack(e + 'i', b[92:96])[0]
        if struct.unpack(e + 'i', b[96 + tb:100 + tb])[0] != tb:  # markers of fewer lines than NTITLE: libdcd reads NTITLE
            tb = 4 + 80 * struct.unpack(e + 'i', b[96:100])[0]
        hdr = 92 + 4 + tb + 4 + 12
        natom = struct.unpack(e + 'i', b[hdr - 8:hdr - 4])[0]
        ic = struct.unpack(e + '20i', b[8:88])
        cell = 56 if ic[19] and ic[10] else 0
        axes = 4 if ic[19] and ic[11] == 1 else 3
        # fixed atoms (NAMNF): the free-atom list, frame 0 of every atom, later frames of the free ones
        free = natom - ic[8]
        frame0 = hdr + (8 + 4 * free if ic[8] else 0)
        f0b = cell + axes * (4 * natom + 8)
        fb = cell + axes * (4 * free + 8)
        frames = (len(b) - frame0 - f0b) // fb + 1
        start = lambda k: frame0 if k == 0 else frame0 + f0b + (k - 1) * fb  # noqa: E731
        if frames < 3:
            return
        check(name, 'truncated mid last frame', b[:start(frames - 1) + fb // 2], ext, start(frames - 1), 'truncated')
        k = frames // 2
        at = start(k) + cell
        bad = bytearray(b)
        bad[at:at + 4] = struct.pack(e + 'i', 4 * free + 4)
        check(name, f'X record marker of frame {k}', bytes(bad), ext, at, 'marker')
    elif ext in ('nc', 'ncdf'):
        if b[:3] != b'CDF':
            return
        # the end of the last whole record: the message says how it got there (header, record size, file size)
        check(name, 'truncated mid file', b[:len(b) * 2 // 3], ext, None, 'truncated NetCDF file: the header says')
        bad = bytearray(b)
        bad[3] = 9
        check(name, 'version byte 9', bytes(bad), ext, {0, 3})


for f in files:
    try:
        corrupt(f)
    except Exception as e:  # noqa: BLE001
        failures += 1
        print(f'FAIL {f}: crashed {type(e).__name__}: {e}', flush=True)
shutil.rmtree(work, ignore_errors=True)
print(f'{failures} failed', flush=True)
sys.exit(1 if failures else 0)
