import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../lib/core/errors.ts';
import { MemorySource } from '../../../lib/core/source.ts';
import { type TextLayout } from '../../../lib/core/text/layout.ts';
import { parseToken } from '../../../lib/core/text/number.ts';
import { scanText } from '../../../lib/core/text/scan.ts';
import { wasmKernel } from '../../../lib/core/exact-sum-wasm.ts';

const enc = new TextEncoder();

interface Read {
  rows: number[][];
  skipped: number;
  examples: { offset: number; problem: string }[];
}

async function read(
  text: string | Uint8Array,
  layout: Partial<TextLayout> = {},
  opts: { start?: number; end?: number; chunk?: number; skip?: boolean } = {},
): Promise<Read> {
  const bytes = typeof text === 'string' ? enc.encode(text) : text;
  const src = new MemorySource(bytes, 'in.csv', opts.chunk ?? 7);
  const rows: number[][] = [];
  const full: TextLayout = { kind: 'text', delimiter: -1, columns: 0, headerAt: -1, ...layout };
  const stats = await scanText(
    src,
    full,
    opts.start ?? 0,
    opts.end ?? bytes.length,
    {
      rows(v, n, c) {
        for (let r = 0; r < n; r++) rows.push(Array.from(v.subarray(r * c, r * c + c)));
      },
    },
    { onBadRecord: opts.skip ? 'skip' : 'fail' },
  );
  return { rows, skipped: stats.skipped, examples: stats.skippedExamples };
}

/** Reads with every slice count from 1 to bytes+2 and returns the rows in slice order for each. */
async function readSliced(text: string, layout: Partial<TextLayout>, chunk = 3): Promise<number[][][]> {
  const bytes = enc.encode(text);
  const out: number[][][] = [];
  for (let n = 1; n <= bytes.length + 2; n++) {
    const rows: number[][] = [];
    for (let k = 0; k < n; k++) {
      const start = Math.floor((k * bytes.length) / n);
      const end = Math.floor(((k + 1) * bytes.length) / n);
      rows.push(...(await read(bytes, layout, { start, end, chunk })).rows);
    }
    out.push(rows);
  }
  return out;
}

async function errorOf(text: string, layout: Partial<TextLayout> = {}): Promise<InputError> {
  try {
    await read(text, layout);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('expected an InputError');
}

describe('scanText', () => {
  it.each([
    ['LF', '1,2\n3,4\n'],
    ['CRLF', '1,2\r\n3,4\r\n'],
    ['no trailing newline', '1,2\n3,4'],
    ['a UTF-8 byte order mark', '\ufeff1,2\n3,4\n'],
    ['blank lines and comments', '\n# a comment\n1,2\n\n   \n# another\n3,4\n'],
    ['spaces around fields', ' 1 , 2\n3 ,4  \n'],
  ])('reads %s and counts every record once for every slice count', async (_name, text) => {
    for (const rows of await readSliced(text, { delimiter: 44, columns: 2 })) {
      expect(rows).toEqual([
        [1, 2],
        [3, 4],
      ]);
    }
  });

  it('reads lines far longer than the slices and the read buffer', async () => {
    const lines = [0, 1, 2].map((l) => Array.from({ length: 5000 }, (_, i) => (l * 10000 + i * 0.25).toFixed(2)));
    const bytes = enc.encode(lines.map((l) => l.join(' ')).join('\n'));
    for (const n of [1, 2, 3, 10, 100, 997]) {
      const rows: number[][] = [];
      for (let k = 0; k < n; k++) {
        const start = Math.floor((k * bytes.length) / n);
        const end = Math.floor(((k + 1) * bytes.length) / n);
        rows.push(...(await read(bytes, { columns: 5000 }, { start, end, chunk: 64 })).rows);
      }
      expect(rows).toEqual(lines.map((l) => l.map(Number)));
    }
  });

  it('skips the header line only where it is', async () => {
    const text = '# units: nm\nx,y\n1,2\n3,4\n';
    for (const rows of await readSliced(text, { delimiter: 44, columns: 2, headerAt: 12 })) {
      expect(rows).toEqual([
        [1, 2],
        [3, 4],
      ]);
    }
  });

  it('learns the column count from the first record', async () => {
    const src = new MemorySource(enc.encode('\n# c\n1\t2\t3\n4\t5\t6\n'), 't.tsv', 4);
    const s = await scanText(src, { kind: 'text', delimiter: 9, columns: 0, headerAt: -1 }, 0, src.size, { rows() {} }, { maxRecords: 1 });
    expect(s.columnsSeen).toBe(3);
    expect(s.rows).toBe(1);
  });

  it('parses every token exactly as Number() does', async () => {
    const tokens = ['0', '-0', '1e5', '-1.5E-3', '.5', '5.', '+7', '123456789012345678901234', '1e-400', '1e400', '4.9e-324', '0.1', '2.2250738585072011e-308', '9007199254740993', 'NaN', 'inf', '-Infinity', '00012.50'];
    const { rows } = await read(tokens.join('\n'), { columns: 1 });
    const want = tokens.map((t) => parseToken(t));
    rows.forEach((r, i) => expect(Object.is(r[0], want[i]), tokens[i]).toBe(true));
    tokens.slice(0, 14).forEach((t) => expect(Object.is(parseToken(t), Number(t)), t).toBe(true));
  });

  it('matches Number() for random decimal tokens split across chunk boundaries', async () => {
    const token = fc
      .tuple(fc.constantFrom('', '-', '+'), fc.stringMatching(/^\d{1,22}$/), fc.option(fc.stringMatching(/^\d{0,22}$/)), fc.option(fc.integer({ min: -330, max: 330 })))
      .map(([sign, int, frac, exp]) => `${sign}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : `e${exp}`}`);
    await fc.assert(
      fc.asyncProperty(fc.array(token, { minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 40 }), async (toks, chunk) => {
        const { rows } = await read(toks.join(' '), { columns: toks.length }, { chunk });
        rows[0]!.forEach((v, i) => expect(Object.is(v, Number(toks[i])), toks[i]).toBe(true));
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['a word', '1,2\n3,abc\n', 'not a number: "abc"', 6],
    ['a number with trailing letters', '1,2\n3,12abc\n', 'not a number: "12abc"', 6],
    ['a lone minus', '1,-\n', 'not a number: "-"', 2],
    ['an empty field', '1,,2\n', 'empty field', 2],
    ['a trailing delimiter', '1,2,\n', 'empty field at the end of the line', 4],
    ['too many fields', '1,2\n3,4,5\n', 'more than 2 fields', 8],
    ['too few fields', '1,2\n3\n', 'expected 2 fields, found 1', 4],
    ['a thousands separator', '1,000 2\n', 'not a number: "1,000"', 0],
    ['a hexadecimal number', '0x10\n', 'not a number: "0x10"', 0],
    ['an embedded NUL', '1,2\n3,\u00004\n', 'not a number', 6],
  ])('rejects %s with its byte offset', async (_name, text, problem, offset) => {
    const delimiter = text.includes('1,000') || text.includes('0x') ? -1 : 44;
    const columns = text.startsWith('0x') ? 1 : 2;
    const e = await errorOf(text, { delimiter, columns });
    expect(e.problem).toContain(problem);
    expect(e.offset).toBe(offset);
    expect(e.message).toContain('in.csv');
  });

  it('skips bad records when asked, counting them and keeping the first examples', async () => {
    const r = await read('1,2\n3,x\n5,6\n7\n8,9', { delimiter: 44, columns: 2 }, { skip: true });
    expect(r.rows).toEqual([
      [1, 2],
      [5, 6],
      [8, 9],
    ]);
    expect(r.skipped).toBe(2);
    expect(r.examples.map((e) => e.offset)).toEqual([6, 12]);
  });

  it('counts every record exactly once for random files and random cut points', async () => {
    const line = fc.array(fc.integer({ min: -999, max: 999 }), { minLength: 3, maxLength: 3 });
    const sep = fc.constantFrom('\n', '\r\n', '\n\n', '\n# c\n');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(line, sep), { minLength: 0, maxLength: 25 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 16 }),
        async (lines, trailing, cutSeeds, chunk) => {
          let text = lines.map(([l, s]) => l.join(',') + s).join('');
          if (!trailing) text = text.replace(/\s+$/, '');
          const bytes = enc.encode(text);
          const cuts = [...new Set(cutSeeds.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const bounds = [0, ...cuts, bytes.length];
          const rows: number[][] = [];
          for (let k = 0; k + 1 < bounds.length; k++) {
            rows.push(...(await read(bytes, { delimiter: 44, columns: 3 }, { start: bounds[k], end: bounds[k + 1], chunk })).rows);
          }
          expect(rows).toEqual(lines.map(([l]) => l));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the row block in the exact-sum kernel memory', () => {
  it('is given back by a scan that fails, so that later scans still sum in WebAssembly', async () => {
    const buffers: ArrayBufferLike[] = [];
    const scan = (text: string) => {
      const bytes = enc.encode(text);
      return scanText(new MemorySource(bytes, 'in.csv', 1 << 16), { kind: 'text', delimiter: 44, columns: 2, headerAt: -1 }, 0, bytes.length, { rows: (v) => buffers.push(v.buffer) });
    };
    // Two blocks at once take two slots; every failed scan must return its own.
    for (let k = 0; k < 12; k++) await expect(scan(`1,2\n${'3,4\n'.repeat(40000)}5,x\n`)).rejects.toBeInstanceOf(InputError);
    await scan('1,2\n3,4\n');
    expect(wasmKernel).toBeDefined();
    expect(buffers.at(-1) === wasmKernel!.buffer).toBe(true); // not toBe on the buffers: a failure would diff 10 MiB
  });
});
