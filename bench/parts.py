"""Cuts a benchmark file into N parts of the same data, once (for the scaling rows of
bench/run.ts): a .npy into N .npy files of consecutive frames, a CSV into N files of whole
lines. Prints the parts' paths, one a line.

Usage: python3 bench/parts.py FILE N
"""
import os
import sys

import numpy as np

src, n = sys.argv[1], int(sys.argv[2])
stem, ext = os.path.splitext(src)
parts = [f'{stem}.part{k + 1}of{n}{ext}' for k in range(n)]
for k, path in enumerate(parts):
    if os.path.exists(path) and os.path.getsize(path) > 0:
        continue
    tmp = path + '.tmp' + ext
    if ext == '.npy':
        a = np.load(src, mmap_mode='r')
        f = a.shape[0]
        np.save(tmp, a[k * f // n:(k + 1) * f // n])
    else:
        size = os.path.getsize(src)
        with open(src, 'rb') as f:
            def line_start(at):
                if at <= 0:
                    return 0
                if at >= size:
                    return size
                f.seek(at - 1)
                rest = f.read(1 << 20)
                return at + rest.index(b'\n')
            a, b = line_start(k * size // n), line_start((k + 1) * size // n)
            f.seek(a)
            with open(tmp, 'wb') as out:
                left = b - a
                while left > 0:
                    chunk = f.read(min(left, 1 << 24))
                    out.write(chunk)
                    left -= len(chunk)
    os.replace(tmp, path)
print('\n'.join(parts))
