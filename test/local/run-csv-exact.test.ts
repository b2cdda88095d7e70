/**
 * Whole runs over CSV that the WebAssembly record parser reads (lib/core/text/wasm-records.ts):
 * the sum is math.fsum of Python's float() of every token (both correctly rounded), at
 * every slicing and worker count, with the parser on and off.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useWasmRecords, wasmRecordsStats } from '../../lib/core/text/wasm-records.ts';
import { runLocal } from '../../lib/local/run.ts';
import { tempDir } from '../helpers/cli.ts';
import { python } from '../helpers/python.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let runs = 0;

describe('runLocal on CSV read by the WebAssembly parser', () => {
  // A column of each kind, so that no column's sum is swamped by another's magnitude:
  // %.6f; %.18e over ten decades; 19-digit near-ties of halfway points; halfway points
  // with few digits (ties to even) and forms such as 1e5, .5, 5., -0; and now and then a
  // record the parser leaves to JavaScript (+5, a quoted number, 23 digits, a subnormal).
  const [text, sums, count] = python<[string, number[], number]>(
    `from decimal import Decimal
import random
random.seed(23)
def near_tie(d, digits):
    mid = Decimal(d) + Decimal(math.ulp(d)) / 2
    t = mid.scaleb(-mid.adjusted()).quantize(Decimal(10) ** (1 - digits)) + random.choice((-1, 0, 1)) * Decimal(10) ** (1 - digits)
    return '%sE%d' % (t, mid.adjusted())
def token(col):
    d = random.uniform(-1e3, 1e3)
    if col == 0: return '%.6f' % d
    if col == 1: return '%.18e' % (d * 10.0 ** random.randint(-5, 5))
    if col == 2: return near_tie(d, 19)
    if col == 3: return near_tie(d, random.randint(16, 18))
    # ties: odd integers in [2^53, 2^54), m + 1/2 in [2^52, 2^53)
    if col == 4: return random.choice([str(random.randint(2**52, 2**53) * 2 + 1), str(random.randint(2**52, 2**53 - 1)) + '.5']) if random.random() < 0.5 else random.choice(['1e5', '.5', '-.5', '5.', '-0', '007.25', '0.0001', '123456789012', '9007199254740993', '-4e+3'])
    if random.random() < 0.002: return random.choice(['+5', '"2.5"', '2.5e-320', '1.2345678901234567890123'])
    return '%.17g' % d
lines = [','.join(token(c) for c in range(6)) for _ in range(4000)]
rows = [[float(t.strip('"')) for t in l.split(',')] for l in lines]
print(json.dumps(['\\n'.join(lines) + '\\n', [math.fsum(r[c] for r in rows) for c in range(6)], len(rows)]))`,
  );
  const path = join(tmp.path, 'adversarial.csv');
  writeFileSync(path, text);

  it.each([
    [1, 1],
    [3, 1],
    [17, 1],
    [64, 1],
    [64, 2],
  ])('every column sum equals math.fsum at %i slices on %i workers, the parser on and off', async (slices, workers) => {
    for (const on of [true, false]) {
      useWasmRecords(on);
      try {
        const before = wasmRecordsStats.rows;
        const doc = await runLocal(path, { analysis: 'stats', slices, workers, stateDir: join(tmp.path, `state-${runs++}`) });
        const columns = (doc.result as { columns: { count: number; sum: number }[] }).columns;
        expect(columns.map((c) => c.count)).toEqual(sums.map(() => count));
        expect(columns.map((c) => c.sum)).toEqual(sums);
        // (the main thread's share: it always scans some slices; threads keep their parser on)
        if (on) expect(wasmRecordsStats.rows - before).toBeGreaterThan(count / 4);
        else expect(wasmRecordsStats.rows).toBe(before);
      } finally {
        useWasmRecords(true);
      }
    }
  });
});
