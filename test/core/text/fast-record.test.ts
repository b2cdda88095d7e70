/**
 * The text reader's fast path (whole plain records parsed in one tight loop, fast-record.ts,
 * with decimals of up to 19 significant digits rounded in double-double arithmetic) must
 * give exactly what the general reader gives: Number(token) for every value, and the same
 * rows, skips and errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../lib/core/errors.ts';
import { MemorySource } from '../../../lib/core/source.ts';
import { type TextLayout } from '../../../lib/core/text/layout.ts';
import { scanText } from '../../../lib/core/text/scan.ts';
import { decimalToken as token } from '../../helpers/decimal-tokens.ts';
import { python } from '../../helpers/python.ts';

const enc = new TextEncoder();

type Layout = Partial<TextLayout>;

async function readRows(bytes: Uint8Array, layout: Layout, chunk: number, scan = scanText): Promise<number[][]> {
  const rows: number[][] = [];
  await scan(new MemorySource(bytes, 'in.csv', chunk), { kind: 'text', delimiter: 44, columns: 0, headerAt: -1, ...layout }, 0, bytes.length, {
    rows(v, n, c) {
      for (let r = 0; r < n; r++) rows.push(Array.from(v.subarray(r * c, r * c + c)));
    },
  });
  return rows;
}

function bitsEqual(actual: number[], expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    if (!Object.is(v, expected[i])) throw new Error(`value ${i}: got ${v}, expected ${expected[i]}`);
  });
}

describe('scanText fast path', () => {
  it('parses every token of 1..25 digits exactly as Number(token), in one chunk and in tiny chunks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(token, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 40 }), fc.boolean(), async (rows, crlf) => {
        const text = rows.map((r) => r.join(',')).join(crlf ? '\r\n' : '\n') + '\n';
        const bytes = enc.encode(text);
        const expected = rows.flat().map(Number);
        bitsEqual((await readRows(bytes, { columns: 3 }, 1 << 20)).flat(), expected);
        bitsEqual((await readRows(bytes, { columns: 3 }, 5)).flat(), expected);
      }),
      { numRuns: 150 },
    );
  });

  it('parses tokens around its 9-digit integer stage exactly as Number(token): leading zeros, dots anywhere', async () => {
    // Up to 9 significant digits take an int32 stage, more take doubles; zeros before the
    // first significant digit count for neither.
    const around = fc
      .record({
        sign: fc.constantFrom('', '-', '+'),
        zeros: fc.integer({ min: 0, max: 12 }),
        digits: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 0, maxLength: 21 }).map((d) => d.join('')),
        dot: fc.integer({ min: -1, max: 34 }),
        exp: fc.option(fc.integer({ min: -30, max: 30 }), { nil: undefined }),
      })
      .map(({ sign, zeros, digits, dot, exp }) => {
        const all = '0'.repeat(zeros) + digits;
        const body = dot < 0 || dot > all.length ? all : `${all.slice(0, dot)}.${all.slice(dot)}`;
        return `${sign}${body === '.' || body === '' ? '0' : body}${exp === undefined ? '' : `e${exp}`}`;
      });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(around, { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 30 }), async (rows) => {
        const bytes = enc.encode(rows.map((r) => r.join(',')).join('\n') + '\n');
        bitsEqual((await readRows(bytes, { columns: 4 }, 1 << 20)).flat(), rows.flat().map(Number));
      }),
      { numRuns: 300 },
    );
  });

  it('parses decimals of 6 to 19 significant digits just beside halfway points between doubles as Number() does', async () => {
    const tokens = python<string[]>(
      `from decimal import Decimal, getcontext
import random
getcontext().prec = 60
random.seed(5)
out = []
for _ in range(2000):
    d = random.choice([random.uniform(-1e3, 1e3), random.uniform(0, 1), 10.0 ** random.randint(-30, 30) * random.random()])
    if d == 0: continue
    mid = Decimal(d) + Decimal(math.ulp(d)) / 2
    digits = random.randint(6, 19)
    for shift in (-1, 0, 1):
        t = mid.scaleb(-mid.adjusted()).quantize(Decimal(10) ** (1 - digits)) + shift * Decimal(10) ** (1 - digits)
        out.append('%sE%d' % (t, mid.adjusted()) if random.random() < 0.5 else format(t.scaleb(mid.adjusted()), 'f'))
print(json.dumps(out))`,
    );
    const rows = tokens.slice(0, tokens.length - (tokens.length % 3));
    const text = Array.from({ length: rows.length / 3 }, (_, r) => rows.slice(3 * r, 3 * r + 3).join(',')).join('\n') + '\n';
    bitsEqual((await readRows(enc.encode(text), { columns: 3 }, 1 << 20)).flat(), rows.map(Number));
  });

  it('parses numpy %.18e output exactly (whitespace and comma delimited)', async () => {
    const text = python<string>(
      `import io
rng = np.random.default_rng(3)
a = np.concatenate([rng.standard_normal((200, 5)) * 10.0 ** rng.integers(-300, 300, size=(200, 1)), rng.uniform(-1e3, 1e3, (200, 5))])
buf = io.StringIO()
np.savetxt(buf, a)
print(json.dumps(buf.getvalue()))`,
    );
    const tokens = text.trim().split('\n').map((l) => l.trim().split(/\s+/));
    const expected = tokens.flat().map(Number);
    bitsEqual((await readRows(enc.encode(text), { delimiter: -1, columns: 5 }, 1 << 20)).flat(), expected);
    bitsEqual((await readRows(enc.encode(text.replaceAll(' ', ',')), { delimiter: 44, columns: 5 }, 1 << 20)).flat(), expected);
  });

  /** Messy lines: good numbers, blanks, comments, spaces, CR, wrong field counts, junk. */
  const piece = fc.oneof(
    { weight: 6, arbitrary: token },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t', '#c', 'nan', '-inf', 'x', '1e', '.', '-', '1.2.3', '\r', ' 7 ', '1e+') },
  );
  const messyLine = fc.array(piece, { minLength: 0, maxLength: 4 });

  async function outcome(bytes: Uint8Array, layout: Layout, fastPath: boolean, skip: boolean): Promise<unknown> {
    const rows: number[][] = [];
    try {
      const stats = await scanText(new MemorySource(bytes, 'in.csv', 1 << 20), { kind: 'text', delimiter: 44, columns: 0, headerAt: -1, ...layout }, 0, bytes.length, {
        rows(v, n, c) {
          for (let r = 0; r < n; r++) rows.push(Array.from(v.subarray(r * c, r * c + c), (x) => (Object.is(x, -0) ? '-0' : x)) as number[]);
        },
      }, { onBadRecord: skip ? 'skip' : 'fail', fastPath });
      return { rows, skipped: stats.skipped, examples: stats.skippedExamples, columns: stats.columnsSeen };
    } catch (e) {
      if (e instanceof InputError) return { error: e.message, rows };
      throw e;
    }
  }

  it.each([
    ['comma', 44],
    ['whitespace', -1],
    ['tab', 9],
  ])('gives the same rows, skips and errors as the reader without a fast path (%s)', async (_name, delimiter) => {
    const sep = delimiter === -1 ? ' ' : String.fromCharCode(delimiter);
    await fc.assert(
      fc.asyncProperty(fc.array(messyLine, { maxLength: 30 }), fc.boolean(), fc.constantFrom(0, 3), async (lines, skip, columns) => {
        const bytes = enc.encode(lines.map((l) => l.join(sep)).join('\n'));
        const layout = { delimiter, columns };
        expect(await outcome(bytes, layout, true, skip)).toEqual(await outcome(bytes, layout, false, skip));
      }),
      { numRuns: 150 },
    );
  });
});
