/**
 * The WebAssembly record parser (wasm-records.ts) against Number(token), bit for bit: a
 * value it gives must be Number(token); a token it does not take must stop it at that
 * record's start (the JavaScript readers then read it). And through scanText, the rows
 * must be those of the JavaScript readers, at any chunk size.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { giveBackValues, takeKernelValues } from '../../../lib/core/exact-sum-wasm.ts';
import { MemorySource } from '../../../lib/core/source.ts';
import { type TextLayout } from '../../../lib/core/text/layout.ts';
import { scanText } from '../../../lib/core/text/scan.ts';
import { INPUT_BYTES, leaseInput, pow5Bits, recordsStop, releaseInput, useWasmRecords, wasmRecords, wasmRecordsFor, wasmRecordsStats } from '../../../lib/core/text/wasm-records.ts';
import type { ByteSource } from '../../../lib/core/source.ts';
import { setImmediate as macrotask } from 'node:timers/promises';
import { decimalToken } from '../../helpers/decimal-tokens.ts';
import { python } from '../../helpers/python.ts';

const enc = new TextEncoder();
const values = takeKernelValues(1 << 16)!;

/** Parses one record per token (one column); how many it took, and every taken value checked against Number(). */
function parseEach(tokens: string[], delimiter = 44): { taken: number; wrong: string[] } {
  let taken = 0;
  const wrong: string[] = [];
  for (const t of tokens) {
    const bytes = enc.encode(`${t}\n`);
    const rows = wasmRecords(bytes, 0, bytes.length, bytes.length, values, 0, 1, delimiter, 1);
    if (rows === 0) {
      // declined: it stopped at the record's start, and says so
      if (recordsStop[0] !== 0 || recordsStop[1] !== 1) wrong.push(`${t}: declined but stopped at ${recordsStop[0]}, flag ${recordsStop[1]}`);
      continue;
    }
    taken++;
    if (recordsStop[0] !== bytes.length) wrong.push(`${t}: stopped at ${recordsStop[0]}`);
    if (!Object.is(values[0], Number(t))) wrong.push(`${t}: got ${values[0]}, Number() gives ${Number(t)}`);
  }
  return { taken, wrong };
}

describe('wasmRecords', () => {
  it('runs here (WebAssembly with the kernel memory), else every other test proves nothing', () => {
    expect(wasmRecordsFor(values)).toBe(true);
  });

  it('holds fast_float\'s table of 128-bit powers of five (spot values from its source)', () => {
    // fast_float's table: 5^0 and 5^-1, 5^-342, 5^308, high word then low word.
    expect(pow5Bits(0)).toBe(0x8000000000000000_0000000000000000n);
    expect(pow5Bits(1)).toBe(0xa000000000000000_0000000000000000n);
    expect(pow5Bits(-1)).toBe(0xcccccccccccccccc_cccccccccccccccdn);
    expect(pow5Bits(-342)).toBe(0xeef453d6923bd65a_113faa2906a13b3fn);
    expect(pow5Bits(308)).toBe(0x8e679c2f5e44ff8f_570f09eaa7ea7648n); // (truncated: tables that round end in ...49)
  });

  it('gives Number(token) for the forms it must take: signs, leading zeros, 1e5, .5, 5., -0, 19 digits', () => {
    const tokens = ['0', '-0', '-0.0', '5.', '.5', '-.5', '1e5', '1E5', '1e+5', '1e-5', '007', '000.000123', '-0e10', '123456789012345678', '9999999999999999999', '1.234567890123456789e+02', '-9.999999999999999999e-300', '1.7976931348623157e308', '2.2250738585072014e-308', '12345678.12345678', '1234.5678', '9007199254740993', '9007199254740992.5', '0.1', '1e22', '1e23', '1e-22', '123456789e-30'];
    const { taken, wrong } = parseEach(tokens);
    expect(wrong).toEqual([]);
    expect(taken).toBe(tokens.length);
  });

  it('declines, at the record start, what only the JavaScript readers read', () => {
    const declined = ['', '-', '.', '+5', 'nan', 'inf', '-inf', '1e', '1e+', '1.2.3', '12abc', '"1"', ' 1', '1 ', '12345678901234567890', '0.00000000000000000001', '1e123456', '1e400', '1e-400', '4.9e-324', '2.2250738585072011e-308', '1.8e308'];
    for (const t of declined) {
      const bytes = enc.encode(`${t}\n`);
      expect([t, wasmRecords(bytes, 0, bytes.length, bytes.length, values, 0, 1, 44, 1), recordsStop[0], recordsStop[1]]).toEqual([t, 0, 0, 1]);
    }
  });

  it('gives Number(token) on decimals of 6 to 19 digits beside and at halfway points between doubles, subnormals and extreme exponents', () => {
    const tokens = python<string[]>(
      `from decimal import Decimal, getcontext
import random
getcontext().prec = 80
random.seed(17)
out = []
def emit(t, e):
    # (plain digits only near 1: far from it their leading zeros make more than 19 digits, which JavaScript reads)
    out.append('%sE%d' % (t, e) if random.random() < 0.5 or abs(e) > 12 else format(t.scaleb(e), 'f'))
for _ in range(4000):
    d = random.choice([random.uniform(-1e3, 1e3), random.uniform(0, 1), 10.0 ** random.randint(-300, 300) * random.random(), random.uniform(1, 2) * 2.0 ** random.randint(-1074, 1023)])
    if d == 0 or not math.isfinite(d): continue
    mid = Decimal(d) + Decimal(math.ulp(d)) / 2
    # the exact halfway point, when it has at most 19 significant digits
    if len(mid.normalize().as_tuple().digits) <= 19: out.append(format(mid.normalize(), 'f') if abs(mid.adjusted()) < 30 else str(mid.normalize()))
    digits = random.randint(6, 19)
    for shift in (-1, 0, 1):
        t = mid.scaleb(-mid.adjusted()).quantize(Decimal(10) ** (1 - digits)) + shift * Decimal(10) ** (1 - digits)
        emit(t, mid.adjusted())
# halfway points between consecutive integers above 2^53, and small ones where ties happen (q in -4..23)
for k in range(2000):
    n = random.randint(2**53, 2**63)
    m = (n | 1) if n % 2 == 0 else n
    out.append(str(m))
    out.append(str(Decimal(random.randint(1, 10**15) * 2 + 1) / 2))
print(json.dumps(out))`,
    );
    const { taken, wrong } = parseEach(tokens);
    expect(wrong).toEqual([]);
    expect(taken).toBeGreaterThan(tokens.length * 0.9);
  });

  it('gives Number(token) for fields of every length to 17 bytes, a dot at every place, with and without a minus, several to a record', () => {
    // Fields of at most 15 bytes take the path that checks a field's bytes from masks and
    // right-aligns its digits by a table entry per (length, dot place): every entry is used here.
    const tokens: string[] = [];
    let digit = 0;
    const digits = (n: number) => Array.from({ length: n }, () => String((digit = (digit * 7 + 3) % 10))).join('');
    for (let len = 1; len <= 17; len++) {
      for (let dot = -1; dot < len; dot++) {
        for (const sign of ['', '-']) {
          const body = dot < 0 ? digits(len) : `${digits(dot)}.${digits(len - dot - 1)}`;
          if (body !== '.') tokens.push(sign + body);
        }
      }
    }
    tokens.push('0.000000000000', '-0.00000000000', '999999999999999', '-99999999999999.9', '1234567890123456', '.000000000000001');
    const { taken, wrong } = parseEach(tokens);
    expect(wrong).toEqual([]);
    expect(taken).toBe(tokens.length);
    // the same tokens five to a record, CRLF line ends
    const rows: string[][] = [];
    for (let i = 0; i + 5 <= tokens.length; i += 5) rows.push(tokens.slice(i, i + 5));
    const bytes = enc.encode(rows.map((r) => r.join(',')).join('\r\n') + '\r\n');
    expect(wasmRecords(bytes, 0, bytes.length, bytes.length, values, 0, 5, 44, 1 << 20)).toBe(rows.length);
    expect(Array.from(values.subarray(0, rows.length * 5)).map((v, i) => Object.is(v, Number(rows[Math.floor(i / 5)]![i % 5])))).not.toContain(false);
  });

  it('declines a field whose bytes break the grammar anywhere in its first 16, at the record start', () => {
    const bad = ['+1', '1-2', '1.2.3', '-', '-.', '1..', '--1', '.-1', '1,', '1 2', '12345678901234a', '1234567890123-4', 'a', '1e', '1.5e+', '-1e-x'];
    for (const t of bad) {
      const bytes = enc.encode(`7,${t}\n`);
      expect([t, wasmRecords(bytes, 0, bytes.length, bytes.length, values, 0, 2, 44, 1), recordsStop[0], recordsStop[1]]).toEqual([t, 0, 0, 1]);
    }
  });

  it('gives Number(token) on random tokens of 1 to 25 digits, exponents to +-340', () => {
    fc.assert(
      fc.property(fc.array(decimalToken, { minLength: 1, maxLength: 50 }), (tokens) => {
        expect(parseEach(tokens).wrong).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('parses runs of records: stops at the first it does not take, at `stop`, and at maxRows', () => {
    const text = '1,2,3\n4.5,-6,7e1\r\n8,9,x\n10,11,12\n';
    const bytes = enc.encode(text);
    expect(wasmRecords(bytes, 0, bytes.length, bytes.length, values, 0, 3, 44, 100)).toBe(2);
    expect([recordsStop[0], recordsStop[1]]).toEqual([text.indexOf('8,9'), 1]);
    expect(Array.from(values.subarray(0, 6))).toEqual([1, 2, 3, 4.5, -6, 70]);
    expect(wasmRecords(bytes, 0, bytes.length, 6, values, 0, 3, 44, 100)).toBe(1);
    expect([recordsStop[0], recordsStop[1]]).toEqual([6, 0]);
    expect(wasmRecords(bytes, 0, bytes.length, bytes.length, values, 0, 3, 44, 1)).toBe(1);
    expect([recordsStop[0], recordsStop[1]]).toEqual([6, 0]);
    // a wrong field count, another delimiter
    for (const bad of ['1,2\n', '1,2,3,4\n', '1;2;3\n', '1,2,3 \n', '1,,3\n']) {
      const b = enc.encode(bad);
      expect([bad, wasmRecords(b, 0, b.length, b.length, values, 0, 3, 44, 100), recordsStop[1]]).toEqual([bad, 0, 1]);
    }
  });
});

describe('scanText with the WebAssembly parser', () => {
  type Layout = Partial<TextLayout>;
  async function readRows(bytes: Uint8Array, layout: Layout, chunk: number, start = 0, end = bytes.length): Promise<string[]> {
    const rows: string[] = [];
    await scanText(new MemorySource(bytes, 'in.csv', chunk), { kind: 'text', delimiter: 44, columns: 0, headerAt: -1, ...layout }, start, end, {
      rows(v, n, c) {
        for (let r = 0; r < n; r++) rows.push(Array.from(v.subarray(r * c, r * c + c), (x) => (Object.is(x, -0) ? '-0' : String(x))).join(' '));
      },
    });
    return rows;
  }

  async function both(bytes: Uint8Array, layout: Layout, chunk: number, start?: number, end?: number): Promise<[string[], string[]]> {
    useWasmRecords(false);
    try {
      const js = await readRows(bytes, layout, chunk, start, end);
      useWasmRecords(true);
      return [await readRows(bytes, layout, chunk, start, end), js];
    } finally {
      useWasmRecords(true);
    }
  }

  it('reads what the JavaScript readers read, row for row, in any chunks and slices, with some records it leaves to them', async () => {
    const field = fc.oneof({ weight: 12, arbitrary: decimalToken }, { weight: 1, arbitrary: fc.constantFrom('nan', '-inf', '"5"', '1e400', '12345678901234567890123') });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(field, { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 60 }), fc.boolean(), fc.integer({ min: 7, max: 4096 }), fc.nat(), async (rows, crlf, chunk, cut) => {
        const bytes = enc.encode(rows.map((r) => r.join(',')).join(crlf ? '\r\n' : '\n') + '\n');
        const [wasm, js] = await both(bytes, { columns: 4 }, chunk);
        expect(wasm).toEqual(js);
        // two slices, cut anywhere: together the same rows
        const at = cut % bytes.length;
        const [w1, j1] = await both(bytes, { columns: 4 }, chunk, 0, at);
        const [w2, j2] = await both(bytes, { columns: 4 }, chunk, at, bytes.length);
        expect([...w1, ...w2]).toEqual(js);
        expect([...j1, ...j2]).toEqual(js);
      }),
      { numRuns: 200 },
    );
  });

  /** A source that reads into the buffer it is offered, as FileSource does, and lets other tasks run between reading a chunk and yielding it. */
  class IntoSource implements ByteSource {
    readonly size: number;
    offered = 0;
    constructor(
      readonly bytes: Uint8Array,
      readonly name = 'into.csv',
      private readonly chunkBytes = 1 << 20,
    ) {
      this.size = bytes.length;
    }
    async *chunks(start: number, end: number, _signal?: AbortSignal, into?: Uint8Array): AsyncIterable<Uint8Array> {
      if (into) this.offered++;
      for (let at = start; at < end; at += this.chunkBytes) {
        const part = this.bytes.subarray(at, Math.min(end, at + this.chunkBytes));
        if (!into) {
          yield part;
          continue;
        }
        into.set(part.subarray(0, into.length));
        const n = Math.min(part.length, into.length);
        await macrotask(); // another scan may run here, between the read and the parse
        yield into.subarray(0, n);
        at -= this.chunkBytes - n;
      }
    }
  }

  it('parses chunks read straight into its input (no copy), and a scan running meanwhile never overwrites them', async () => {
    const enc8 = (rows: number, k: number) => enc.encode(Array.from({ length: rows }, (_, r) => `${r}.${k}5,-${(r * k) % 977}.125,${r}e-${k}`).join('\n') + '\n');
    const a = enc8(180_000, 1);
    const b = enc8(180_000, 7);
    expect(a.length).toBeGreaterThan(INPUT_BYTES);
    const [wantA] = await both(a, { columns: 3 }, 1 << 20);
    const [wantB] = await both(b, { columns: 3 }, 1 << 20);
    const read = async (source: ByteSource): Promise<string[]> => {
      const rows: string[] = [];
      await scanText(source, { kind: 'text', delimiter: 44, columns: 3, headerAt: -1 }, 0, source.size, {
        rows(v, n, c) {
          for (let r = 0; r < n; r++) rows.push(Array.from(v.subarray(r * c, r * c + c), String).join(' '));
        },
      });
      return rows;
    };
    const before = wasmRecordsStats.rows;
    const alone = new IntoSource(a, 'a.csv', 300_000);
    expect(await read(alone)).toEqual(wantA);
    expect(alone.offered).toBeGreaterThan(0);
    expect(wasmRecordsStats.rows - before).toBeGreaterThan(180_000 - 20); // all but the records across chunk ends
    // Two scans at once (Lambda handlers sharing a process): one reads into the input, the other's buffers are its own.
    const intoA = new IntoSource(a, 'a.csv', 300_000);
    const intoB = new IntoSource(b, 'b.csv', 300_000);
    const [gotA, gotB, gotC] = await Promise.all([read(intoA), read(new MemorySource(b, 'b.csv', 200_000)), read(intoB)]);
    expect(gotA).toEqual(wantA);
    expect(gotB).toEqual(wantB);
    expect(gotC).toEqual(wantB);
    expect(intoA.offered + intoB.offered).toBeGreaterThan(0);
    // and it is given back: the next scan gets it
    const input = leaseInput();
    expect(input).toBeDefined();
    releaseInput(input);
  });

  it('reads a buffer larger than its input area in parts, none of them left to JavaScript', async () => {
    const lines = Array.from({ length: 400_000 }, (_, r) => `${r}.25,-${r % 977}.125,${r}e-3`);
    const bytes = enc.encode(lines.join('\n') + '\n');
    expect(bytes.length).toBeGreaterThan(2 * INPUT_BYTES);
    const big = takeKernelValues((2 << 20) / 8)!;
    try {
      const rows = wasmRecords(bytes, 0, bytes.length, bytes.length, big, 0, 3, 44, 1 << 20);
      expect(rows).toBeGreaterThan(10_000);
      expect(recordsStop[1]).toBe(0); // stopped at the end of its input area, not at a record it declined
      expect(bytes[recordsStop[0]! - 1]).toBe(10);
    } finally {
      giveBackValues(big);
    }
    const before = wasmRecordsStats.rows;
    const [wasm, js] = await both(bytes, { columns: 3 }, 16 << 20);
    expect(wasm).toEqual(js);
    expect(wasmRecordsStats.rows - before).toBe(400_000);
  });

  it('takes plain records of numpy output in big buffers (and leaves none to JavaScript)', async () => {
    const text = python<string>(
      `import io
rng = np.random.default_rng(8)
buf = io.StringIO()
np.savetxt(buf, rng.uniform(-1e3, 1e3, (3000, 7)), fmt='%.6f', delimiter=',')
np.savetxt(buf, rng.standard_normal((3000, 7)) * 10.0 ** rng.integers(-300, 300, size=(3000, 1)), delimiter=',')
print(json.dumps(buf.getvalue()))`,
    );
    const bytes = enc.encode(text);
    const before = wasmRecordsStats.rows;
    const [wasm, js] = await both(bytes, { columns: 7 }, 1 << 20);
    expect(wasm).toEqual(js);
    expect(wasm.length).toBe(6000);
    expect(wasmRecordsStats.rows - before).toBe(6000);
  });
});
