import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../../lib/core/errors.ts';
import { npyHeader, parseNpyHeader } from '../../lib/core/npy.ts';
import { planJob } from '../../lib/core/plan.ts';
import { scanSlice } from '../../lib/core/job.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { sum } from '../../lib/core/analyses/sum.ts';
import { python } from '../helpers/python.ts';
import { runLocal } from '../../lib/local/run.ts';
import { tempDir } from '../helpers/cli.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Writes an array with numpy and returns the path. */
function npy(name: string, expr: string, version: string = 'None'): string {
  const path = join(tmp.path, name);
  python(`a = ${expr}\nwith open(args, 'wb') as f:\n    np.lib.format.write_array(f, a, version=${version})\nprint('1')`, path);
  return path;
}

async function values(path: string): Promise<number[]> {
  const bytes = new Uint8Array(readFileSync(path));
  const src = new MemorySource(bytes, path, 13);
  const spec = await planJob(src, { name: 'sum', options: {} }, { slices: 1 }, 'x');
  const out: number[] = [];
  const capture = { ...sum, addRows: (s: never, v: Float64Array, n: number, c: number) => (out.push(...v.subarray(0, n * c)), s) };
  await scanSlice(src, spec, 0, capture as never);
  return out;
}

describe('.npy input', () => {
  it.each(['<f8', '>f8', '<f4', '>f4', '<f2', '<i8', '>i8', '<i4', '>i4', '<i2', '>i2', '|i1', '|u1', '<u2', '>u4', '<u8'])(
    'decodes %s exactly as numpy does',
    async (dtype) => {
      const path = npy(`a${dtype.replace(/[<>|]/, '_')}.npy`, `(np.random.default_rng(3).normal(0, 1000, (7, 5)) if '${dtype}'[1] == 'f' else np.random.default_rng(3).integers(-100 if '${dtype}'[1] == 'i' else 0, 100, (7, 5))).astype('${dtype}')`);
      const want = python<number[]>('print(json.dumps(np.load(args).astype(np.float64).ravel().tolist()))', path);
      expect(await values(path)).toEqual(want);
    },
  );

  it.each(['(1, 0)', '(2, 0)', '(3, 0)'])('reads format version %s', async (version) => {
    const path = npy(`v${version[1]}.npy`, 'np.arange(12, dtype=np.float64).reshape(3, 4)', version);
    const header = parseNpyHeader(path, new Uint8Array(readFileSync(path)), 10_000);
    expect(header.version).toBe(Number(version[1]));
    expect(header.shape).toEqual([3, 4]);
    expect(await values(path)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('writes headers numpy reads back', () => {
    const path = join(tmp.path, 'ours.npy');
    const header = npyHeader('<f8', [2, 3, 4]);
    const data = new Float64Array(24).map((_, i) => i / 3);
    const buf = new Uint8Array(header.length + data.byteLength);
    buf.set(header);
    buf.set(new Uint8Array(data.buffer), header.length);
    writeFileSync(path, buf);
    expect(python('a = np.load(args)\nprint(json.dumps([list(a.shape), str(a.dtype), a.ravel().tolist()]))', path)).toEqual([[2, 3, 4], 'float64', Array.from(data)]);
    expect(header.length % 64).toBe(0);
  });

  it.each([
    ['Fortran order', 'np.asfortranarray(np.ones((3, 4)))', 'Fortran-ordered'],
    ['an object array', 'np.array([1, "a", None], dtype=object)', 'unsupported dtype'],
    ['a structured dtype', 'np.zeros(3, dtype=[("x", "<f8"), ("y", "<i4")])', 'structured'],
    ['a complex array', 'np.ones(3, dtype=np.complex128)', 'unsupported dtype'],
  ])('refuses %s with a clear error', async (_name, expr, message) => {
    const path = npy(`bad-${_name.replace(/ /g, '-')}.npy`, expr);
    const src = new MemorySource(new Uint8Array(readFileSync(path)), path);
    await expect(planJob(src, { name: 'sum', options: {} }, {}, 'x')).rejects.toThrow(message);
  });

  it('reports a truncated file at the byte where the data stops', async () => {
    const path = npy('trunc.npy', 'np.ones((10, 10))');
    const bytes = new Uint8Array(readFileSync(path)).subarray(0, 500);
    const err = await planJob(new MemorySource(bytes, path), { name: 'sum', options: {} }, {}, 'x').catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).offset).toBe(500);
    expect((err as InputError).problem).toMatch(/truncated .npy file: shape \(10, 10\) needs 928 bytes/);
  });

  it('reports a truncated header', async () => {
    const path = npy('trunc-header.npy', 'np.ones((10, 10))');
    const bytes = new Uint8Array(readFileSync(path)).subarray(0, 40);
    await expect(planJob(new MemorySource(bytes, path), { name: 'sum', options: {} }, {}, 'x')).rejects.toThrow(/truncated .npy header/);
  });

  // Header dicts as odd writers might produce them. numpy's own header reader (a Python
  // literal, then exactly three keys of the right types) decides which are valid; we
  // must accept the same ones with the same shape and refuse the rest.
  const dicts = [
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
    '{"descr": "<f8", "fortran_order": False, "shape": (2, 3)}',
    "{'shape': (2, 3), 'descr': '<f8', 'fortran_order': False}",
    "{'descr':'<f8','fortran_order':False,'shape':(2,3)}",
    "{ 'descr' : '<f8' ,\t'fortran_order' : False , 'shape' : ( 6 , ) }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3L)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'shape': (3, 2)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'descr': '<f8'}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}",
    "{'descr': '<f8', 'fortran_order': False}",
    "'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)} junk",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2,, 3)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3),, }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (6)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3]}",
    "{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2.0, 3)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2 3)}",
    "{'Descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)}}",
    "{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3)}",
    "{'descr': '<f8', 'fortran_order': False, 'shape': ('2', 3)}",
  ];

  it('accepts exactly the header dicts numpy accepts, with the same shape and dtype', () => {
    const numpy = python<({ shape: number[]; descr: string } | null)[]>(
      `import warnings
from numpy.lib import _format_impl as fmt
warnings.simplefilter('ignore')
out = []
for d in args:
    try:
        f = __import__('io').BytesIO(fmt._wrap_header(d, (1, 0)))
        shape, fortran, dtype = fmt._read_array_header(f, fmt.read_magic(f))
        out.append({'shape': list(shape), 'descr': dtype.str})
    except Exception:  # ValueError mostly; tokenize errors escape numpy's Python 2 fallback
        out.append(None)
print(json.dumps(out))`,
      dicts,
    );
    const ours = dicts.map((dict) => {
      const header = npyHeader('<f8', [1]);
      let text = dict;
      text += ' '.repeat((64 - ((10 + text.length + 1) % 64)) % 64) + '\n';
      const bytes = new Uint8Array(10 + text.length);
      bytes.set(header.subarray(0, 8));
      new DataView(bytes.buffer).setUint16(8, text.length, true);
      for (let i = 0; i < text.length; i++) bytes[10 + i] = text.charCodeAt(i);
      try {
        const h = parseNpyHeader('odd.npy', bytes, 1 << 20);
        return { shape: h.shape, descr: h.dtype.descr };
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as InputError).offset).toBe(10);
        return null;
      }
    });
    expect(ours.map((o, i) => [dicts[i], o])).toEqual(numpy.map((o, i) => [dicts[i], o]));
  });

  it.each(['(0,)', '(1000, 0)', '(5, 0, 3)', '(5, 3, 0)', '(0, 7, 2)'])('reads an empty array of shape %s as no values, in one slice, with no NaN in the document', async (shape) => {
    const path = npy(`empty-${shape.replace(/\D+/g, '_')}.npy`, `np.zeros(${shape})`);
    const doc = await runLocal(path, { analysis: 'sum', workers: 1, stateDir: join(tmp.path, 'state-empty') });
    expect(doc).toMatchObject({ slices: 1, records: 0, resumedSlices: 0, result: { count: 0, sum: 0, mean: null } });
    expect(doc.input.shape).toEqual(python<number[]>('print(json.dumps(list(np.load(args).shape)))', path));
  });

  it.each([
    ['(5, 0, 3)', 'row-sums', {}, /frames of 0 rows/],
    ['(5, 3, 0)', 'row-sums', {}, /rows of 0 values/],
    ['(5, 3, 0)', 'mean-structure', {}, /rows of 0 values/],
    ['(1000, 0)', 'row-sums', { frameRows: 10 }, /rows of 0 values/],
  ] as const)('refuses a frame analysis of an empty array of shape %s (%s), whose frames the scan cannot count', async (shape, analysis, extra, message) => {
    const path = npy(`empty-frames-${shape.replace(/\D+/g, '_')}.npy`, `np.zeros(${shape})`);
    const err = await runLocal(path, { analysis, workers: 1, stateDir: join(tmp.path, 'state-empty-frames'), ...extra }).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(path);
  });

  it.each(['(9007199254740993, 0)', '(0, 100000000000000000000)', '(2, 3, 9007199254740992)'])('refuses a shape entry beyond 2^53 - 1 at the header (%s), which a double cannot hold', (shape) => {
    let text = `{'descr': '<f8', 'fortran_order': False, 'shape': ${shape}, }`;
    text += ' '.repeat((64 - ((10 + text.length + 1) % 64)) % 64) + '\n';
    const bytes = new Uint8Array(10 + text.length);
    bytes.set(npyHeader('<f8', [1]).subarray(0, 8));
    new DataView(bytes.buffer).setUint16(8, text.length, true);
    for (let i = 0; i < text.length; i++) bytes[10 + i] = text.charCodeAt(i);
    const err = (() => {
      try {
        parseNpyHeader('huge.npy', bytes, 1 << 20);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).offset).toBe(10);
    expect((err as InputError).message).toMatch(/too large/);
  });
});
