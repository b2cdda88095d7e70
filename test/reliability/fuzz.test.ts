/**
 * Bad input, fuzzed: random bytes, mutated text (broken numbers, embedded NUL, invalid
 * UTF-8, stray delimiters), truncated and mutated .npy headers and mutated DCD headers,
 * through every reader in process (plan, scan every slice, merge, finish) and a few
 * through the CLI. The properties: only FanoutErrors are thrown, nothing hangs, an
 * InputError names a byte offset inside the file, and a success is the right answer
 * (math.fsum of the tokens for text, numpy for .npy).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinAnalyses } from '../../lib/core/analyses/index.ts';
import type { Analysis } from '../../lib/core/analysis.ts';
import { FanoutError, InputError } from '../../lib/core/errors.ts';
import { finishResult, mergePartials, scanSlice, textRowLocator } from '../../lib/core/job.ts';
import { type PlanOptions, planJob } from '../../lib/core/plan.ts';
import { MemorySource } from '../../lib/core/source.ts';
import { fanout } from '../helpers/cli.ts';
import { encodeDcd } from '../helpers/dcd.ts';
import { python } from '../helpers/python.ts';

const HANG_MS = 5_000;
const sum = builtinAnalyses.sum as unknown as Analysis;
const counts: Record<string, number> = {};
const tmp = mkdtempSync(join(tmpdir(), 'fanout-fuzz-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  console.log(`fuzz cases run: ${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')} (total ${Object.values(counts).reduce((a, b) => a + b, 0)})`);
});

type Outcome = { ok: true; result: { sum: number; count: number } } | { ok: false; error: unknown };

/** Plans, scans every slice, merges and finishes, as `fanout run` does, with a hang guard. */
async function analyse(bytes: Uint8Array, opts: PlanOptions, chunkBytes: number): Promise<Outcome> {
  const source = new MemorySource(bytes, 'fuzz.in', chunkBytes);
  const work = (async () => {
    const spec = await planJob(source, { name: 'sum', options: {} }, opts, 'fuzz');
    const partials = [];
    for (let i = 0; i < spec.sliceCount; i++) partials.push(await scanSlice(source, spec, i, sum));
    const merged = mergePartials(spec, sum, partials);
    return (await finishResult(spec, sum, merged, textRowLocator(source, spec, merged))) as { sum: number; count: number };
  })();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung for ${HANG_MS} ms`)), HANG_MS)));
  try {
    return { ok: true, result: await Promise.race([work, hang]) };
  } catch (error) {
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

/** The error must be ours, and an InputError must point inside the file. */
function expectCleanFailure(error: unknown, bytes: Uint8Array): void {
  if (!(error instanceof FanoutError)) throw new Error(`not a FanoutError: ${(error as Error)?.stack ?? String(error)}`);
  if (error instanceof InputError) {
    expect(error.offset).toBeGreaterThanOrEqual(0);
    expect(error.offset).toBeLessThanOrEqual(bytes.length);
    expect(error.message).toContain(`at byte ${error.offset}`);
  }
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

// ---------------------------------------------------------------- text

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Tokens of whitespace-separated text by a straightforward reading of the format: lines, then runs of blanks. */
function referenceTokens(text: string): { tokens: string[]; valid: boolean; ragged: boolean } {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.at(-1) === '') lines.pop();
  // A lone CR inside a line separates like a blank or a line end would: either way the same values.
  const rows = lines.map((l) => l.split(/[ \t\r]+/).filter((t) => t !== ''));
  const tokens = rows.flat();
  const widths = new Set(rows.map((r) => r.length));
  return { tokens, valid: tokens.every((t) => DECIMAL.test(t)), ragged: widths.size > 1 || widths.has(0) };
}

const numberToken = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }).map((x) => String(x)),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String),
  fc.tuple(fc.integer({ min: 0, max: 99999 }), fc.integer({ min: 0, max: 999 }), fc.integer({ min: -30, max: 30 })).map(([a, b, e]) => `${a}.${b}e${e}`),
  fc.constantFrom('0', '-0', '.5', '5.', '+7', '00012.50', '1E-3'),
);
const validText = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 60 }), fc.boolean())
  .chain(([cols, rows, crlf]) => fc.array(fc.array(numberToken, { minLength: cols, maxLength: cols }), { minLength: rows, maxLength: rows }).map((r) => r.map((row) => row.join(' ')).join(crlf ? '\r\n' : '\n') + '\n'));

/** Bytes a mutation may insert: number syntax, separators, garbage, NUL, invalid UTF-8. */
const MUTATION_BYTES = [...'0123456789.eE+- \n,z'].map((c) => c.charCodeAt(0)).concat([0, 0xff, 0xc3, 0x80, 0x09]);
const mutation = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.constantFrom(...MUTATION_BYTES) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), byte: fc.constantFrom(...MUTATION_BYTES) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), byte: fc.constant(0) }),
);
type Mutation = { kind: 'insert' | 'replace' | 'delete' | 'truncate'; at: number; byte: number };

function mutate(bytes: Uint8Array, ms: readonly Mutation[], protect = 0): Uint8Array {
  let b = Array.from(bytes);
  for (const m of ms) {
    if (b.length <= protect) break;
    const at = protect + (m.at % (b.length - protect));
    if (m.kind === 'insert') b.splice(at, 0, m.byte);
    else if (m.kind === 'replace') b[at] = m.byte;
    else if (m.kind === 'delete') b.splice(at, 1);
    else b = b.slice(0, at);
  }
  return Uint8Array.from(b);
}

interface TextCase {
  bytes: Uint8Array;
  result: { sum: number; count: number };
  tokens: string[];
}

describe('fuzzed text', () => {
  it('mutated numeric text: a clean error at a byte offset, or the fsum of its tokens', async () => {
    const successes: TextCase[] = [];
    let failures = 0;
    await fc.assert(
      fc.asyncProperty(validText, fc.array(mutation, { maxLength: 4 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 64 }), async (text, ms, slices, chunk) => {
        counts.text = (counts.text ?? 0) + 1;
        const bytes = mutate(new TextEncoder().encode(text), ms);
        const out = await analyse(bytes, { format: 'text', delimiter: 'whitespace', slices }, chunk);
        // The reference reads the bytes as Latin-1 so that invalid UTF-8 stays visible as bad token bytes.
        const ref = referenceTokens(Buffer.from(bytes).toString('latin1'));
        if (!out.ok) {
          failures++;
          expectCleanFailure(out.error, bytes);
          // Bad text is always a problem at a place in the file.
          expect(out.error, (out.error as Error).message).toBeInstanceOf(InputError);
          // A file of well-formed numbers in rows of one width must not be refused.
          if (ref.valid && !ref.ragged && ref.tokens.length > 0) throw new Error(`refused valid input ${JSON.stringify(Buffer.from(bytes).toString('latin1'))}: ${(out.error as Error).message}`);
          return;
        }
        // A success on a bad token is a wrong answer reported as success.
        if (!ref.valid) throw new Error(`accepted a bad token in ${JSON.stringify(Buffer.from(bytes).toString('latin1'))}`);
        expect(out.result.count).toBe(ref.tokens.length);
        successes.push({ bytes, result: out.result, tokens: ref.tokens });
      }),
      { numRuns: 400, seed: 4242 },
    );
    // One python call checks every success against math.fsum of float(token).
    const want = python<string[]>(
      `def fsum(ts):
    try:
        return repr(math.fsum(float(t) for t in ts))
    except (OverflowError, ValueError):
        return 'nan'
print(json.dumps([fsum(ts) for ts in args]))`,
      successes.map((s) => s.tokens),
    );
    successes.forEach((s, i) => expect(`${s.result.sum}`, Buffer.from(s.bytes).toString('latin1')).toBe(pyRepr(want[i]!)));
    console.log(`text: ${successes.length} mutated inputs accepted and equal to math.fsum, ${failures} refused cleanly`);
    expect(successes.length).toBeGreaterThan(50);
    expect(failures).toBeGreaterThan(50);
  });

  it('random bytes through format detection: a clean error or a result, never a crash or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 512 }), async (bytes, slices, chunk) => {
        counts.randomBytes = (counts.randomBytes ?? 0) + 1;
        const out = await analyse(bytes, { slices }, chunk);
        if (!out.ok) expectCleanFailure(out.error, bytes);
      }),
      { numRuns: 300, seed: 4243 },
    );
  });

  it('a line longer than any buffer (20,000 values) and a 100,000-digit token give the fsum', async () => {
    const values = python<string[]>('rng = np.random.default_rng(71)\nprint(json.dumps([repr(float(x)) for x in rng.standard_normal(20000) * 1e3]))');
    const long = `${values.join(' ')}\n1 2\n`;
    const tiny = `0.${'0'.repeat(100_000)}1\n2.5\n`;
    for (const [text, tokens] of [
      [long, null],
      [tiny, ['0.' + '0'.repeat(100_000) + '1', '2.5']],
    ] as const) {
      counts.hugeLines = (counts.hugeLines ?? 0) + 1;
      const bytes = new TextEncoder().encode(text);
      const out = await analyse(bytes, { format: 'text', delimiter: 'whitespace', slices: 5 }, 4096);
      if (tokens === null) {
        // Rows of different widths: an error at the short row is the right answer here.
        expect(out.ok).toBe(false);
        if (!out.ok) expectCleanFailure(out.error, bytes);
        const one = await analyse(new TextEncoder().encode(`${values.join(' ')}\n`), { format: 'text', delimiter: 'whitespace', slices: 5 }, 4096);
        expect(one.ok && `${one.result.sum}`).toBe(pyRepr(python<string>('print(json.dumps(repr(math.fsum(float(t) for t in args))))', values)));
      } else {
        expect(out.ok && `${out.result.sum}`).toBe(pyRepr(python<string>('print(json.dumps(repr(math.fsum(float(t) for t in args))))', tokens)));
      }
    }
  });
});

/** Python's repr of a float as the result document prints it: JSON has no infinity or NaN, so those are null. */
function pyRepr(r: string): string {
  if (r === 'inf' || r === '-inf' || r === 'nan') return 'null';
  return String(Number(r));
}

// ---------------------------------------------------------------- .npy

describe('fuzzed .npy', () => {
  const bases = python<string[]>(`import io, base64
out = []
rng = np.random.default_rng(81)
for dt, shape in [("<f8", (40, 3)), ("<f4", (6, 4, 3)), ("<i2", (25,)), (">f8", (5, 2)), ("|u1", (3, 7))]:
    buf = io.BytesIO(); np.save(buf, (rng.standard_normal(shape) * 100).astype(dt)); out.append(base64.b64encode(buf.getvalue()).decode())
print(json.dumps(out))`).map((s) => Uint8Array.from(Buffer.from(s, 'base64')));

  it('truncated and mutated headers and data: a clean error, or exactly what numpy loads', async () => {
    const successes: { bytes: Uint8Array; sum: number }[] = [];
    let failures = 0;
    const headerByte = fc.constantFrom(...[..."{}'():,0123456789<>|fiub ()TrueFalse\n"].map((c) => c.charCodeAt(0)), 0, 0xff);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: bases.length - 1 }),
        fc.oneof(
          // the header dict: bytes replaced, inserted or deleted inside it
          fc.array(fc.record({ kind: fc.constantFrom('insert' as const, 'replace' as const, 'delete' as const), at: fc.integer({ min: 0, max: 120 }), byte: headerByte }), { minLength: 1, maxLength: 3 }).map((ms) => ({ header: ms })),
          // truncation anywhere, including inside the magic and the header length
          fc.nat().map((at) => ({ truncate: at })),
          // extra bytes after the data
          fc.uint8Array({ minLength: 1, maxLength: 9 }).map((tail) => ({ tail })),
        ),
        fc.integer({ min: 1, max: 6 }),
        async (which, how, slices) => {
          counts.npy = (counts.npy ?? 0) + 1;
          const base = bases[which]!;
          let bytes: Uint8Array;
          if ('header' in how) bytes = mutate(base, how.header.map((m) => ({ ...m, at: 10 + m.at })), 0);
          else if ('truncate' in how) bytes = base.subarray(0, how.truncate % base.length);
          else bytes = Uint8Array.from([...base, ...how.tail]);
          const out = await analyse(bytes, { slices }, 64);
          if (!out.ok) {
            failures++;
            expectCleanFailure(out.error, bytes);
            return;
          }
          successes.push({ bytes, sum: out.result.sum });
        },
      ),
      { numRuns: 300, seed: 4244 },
    );
    // numpy must load every accepted file to the same values.
    const want = python<(string | null)[]>(
      `import io, base64
res = []
for s in args:
    try:
        a = np.load(io.BytesIO(base64.b64decode(s)), allow_pickle=False)
        res.append(repr(math.fsum(a.astype(np.float64).ravel().tolist())))
    except Exception:
        # numpy refuses the header: read the data as the header's descr and shape say, if
        # they can be found at all, so that a lenient parse is still checked for its values.
        import re
        raw = base64.b64decode(s)
        try:
            hlen = int.from_bytes(raw[8:10], "little") if raw[6] == 1 else int.from_bytes(raw[8:12], "little")
            start = (10 if raw[6] == 1 else 12) + hlen
            head = raw[:start].decode("latin1")
            descr = re.search(r"'descr':\\s*'([^']+)'", head).group(1)
            shape = tuple(int(x) for x in re.search(r"'shape':\\s*\\(([^)]*)\\)", head).group(1).replace(" ", "").split(",") if x)
            a = np.frombuffer(raw[start:], dtype=np.dtype(descr), count=int(np.prod(shape))).reshape(shape)
            res.append("lenient:" + repr(math.fsum(a.astype(np.float64).ravel().tolist())))
        except Exception:
            res.append(None)
print(json.dumps(res))`,
      successes.map((s) => b64(s.bytes)),
    );
    let lenient = 0;
    successes.forEach((s, i) => {
      expect(want[i], `numpy cannot read an input fanout accepted: ${b64(s.bytes).slice(0, 200)}`).not.toBeNull();
      if (want[i]!.startsWith('lenient:')) lenient++;
      expect(`${s.sum}`).toBe(pyRepr(want[i]!.replace('lenient:', '')));
    });
    // Accepted headers np.load refuses (read by their descr and shape above): fanout's header parser is more lenient than numpy's.
    console.log(`.npy: ${successes.length} mutated files accepted and equal to numpy (${lenient} of them headers np.load refuses), ${failures} refused cleanly`);
    expect(failures).toBeGreaterThan(100);
  });
});

// ---------------------------------------------------------------- raw binary

describe('fuzzed raw binary', () => {
  it('random bytes as raw records: a truncated last record is an error at its offset, anything else what numpy.frombuffer reads', async () => {
    const successes: { bytes: Uint8Array; dtype: string; sum: number }[] = [];
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.constantFrom('<f8', '>f4', '<i2', '>u4', 'u1'), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), async (bytes, dtype, cols, slices) => {
        counts.raw = (counts.raw ?? 0) + 1;
        const out = await analyse(bytes, { format: 'raw', dtype, recordShape: [cols], slices }, 64);
        const recordBytes = Number(dtype.replace(/\D/g, '')) * cols;
        if (!out.ok) {
          expectCleanFailure(out.error, bytes);
          expect(out.error).toBeInstanceOf(InputError);
          expect(bytes.length % recordBytes, (out.error as Error).message).not.toBe(0);
          expect((out.error as InputError).offset).toBe(bytes.length - (bytes.length % recordBytes));
          return;
        }
        expect(bytes.length % recordBytes).toBe(0);
        successes.push({ bytes, dtype, sum: out.result.sum });
      }),
      { numRuns: 250, seed: 4247 },
    );
    const want = python<string[]>(
      `import base64
def fsum(b, dt):
    try:
        return repr(math.fsum(np.frombuffer(base64.b64decode(b), dtype=np.dtype(dt)).astype(np.float64).tolist()))
    except (OverflowError, ValueError):
        return 'nan'
print(json.dumps([fsum(b, dt) for b, dt in args]))`,
      successes.map((s) => [b64(s.bytes), s.dtype]),
    );
    successes.forEach((s, i) => expect(`${s.sum}`, `${s.dtype} ${b64(s.bytes)}`).toBe(pyRepr(want[i]!)));
    expect(successes.length).toBeGreaterThan(50);
  });
});

// ---------------------------------------------------------------- DCD

describe('fuzzed DCD', () => {
  const coords = new Float32Array(4 * 5 * 3).map((_, i) => (i % 7) - 3.5);
  const base = encodeDcd({ atoms: 5, coords, cells: Array.from({ length: 4 }, () => [10, 90, 10, 90, 90, 10]) });

  it('mutated headers and truncations: a clean error or a result, never a crash or a hang', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.array(fc.record({ at: fc.integer({ min: 0, max: 300 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }).map((ms) => ({ replace: ms })),
          fc.nat().map((at) => ({ truncate: at })),
        ),
        fc.integer({ min: 1, max: 4 }),
        async (how, slices) => {
          counts.dcd = (counts.dcd ?? 0) + 1;
          let bytes: Uint8Array;
          if ('replace' in how) {
            bytes = base.slice();
            for (const m of how.replace) bytes[m.at % bytes.length] = m.byte;
          } else bytes = base.subarray(0, how.truncate % base.length);
          const out = await analyse(bytes, { slices }, 128);
          if (!out.ok) expectCleanFailure(out.error, bytes);
        },
      ),
      { numRuns: 250, seed: 4245 },
    );
  });
});

// ---------------------------------------------------------------- CLI

describe('fuzzed input through the CLI', () => {
  it('exits 0 or 2 with a one-line message naming the file, never a stack trace', () => {
    const cases = fc.sample(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 400 }),
        validText.chain((t) => fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => mutate(new TextEncoder().encode(t), ms))),
      ),
      { numRuns: 3, seed: 4246 },
    );
    cases.push(Uint8Array.from([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, 0xff, 0xff]));
    cases.forEach((bytes, i) => {
      counts.cli = (counts.cli ?? 0) + 1;
      const path = join(tmp, `case-${i}.npy`);
      writeFileSync(path, bytes);
      const r = fanout(['run', path, '--json', '--quiet', '--state-dir', join(tmp, 'state')]);
      expect([0, 2], r.stderr).toContain(r.code);
      if (r.code === 2) {
        expect(r.stderr).toContain(path);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      } else {
        expect(JSON.parse(r.stdout).result).toBeDefined();
      }
    });
  });
});
