/**
 * decimalToDouble, the double-double path for decimals of 16 to 19 significant digits,
 * must give exactly Number(token) whenever it decides, and decide nearly always.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decimalToDouble } from '../../../lib/core/text/number.ts';
import { decimalToken as token } from '../../helpers/decimal-tokens.ts';
import { python } from '../../helpers/python.ts';

/** Splits a decimal token the way the fast path does: first 15 significant digits, next k. */
function decompose(tok: string): [number, number, number, number] | undefined {
  const m = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(tok)!;
  const all = (m[1] ?? '') + (m[2] ?? '');
  const sig = all.replace(/^0+/, '');
  if (sig.length > 19) return undefined;
  const e10 = Number(m[3] ?? 0) - (m[2] ?? '').length;
  if (sig.length <= 15) return [Number(sig || '0'), 0, 0, e10];
  return [Number(sig.slice(0, 15)), sig.length - 15, Number(sig.slice(15)), e10];
}

describe('decimalToDouble', () => {
  it('returns Number(token) or declines, for tokens of 1..19 significant digits and any exponent', () => {
    let declined = 0;
    let decided = 0;
    fc.assert(
      fc.property(token, (tok) => {
        const parts = decompose(tok);
        if (!parts) return;
        const v = decimalToDouble(...parts);
        const magnitude = Math.abs(Number(tok));
        if (Number.isNaN(v)) {
          declined++;
          return;
        }
        decided++;
        expect(Object.is(v, magnitude)).toBe(true);
      }),
      { numRuns: 5000 },
    );
    // It must decide nearly everything in the range it covers, or the fast path is moot.
    expect(decided).toBeGreaterThan(2000);
    expect(declined / (declined + decided)).toBeLessThan(0.2);
  });

  it('rounds 19-digit decimals just beside halfway points between doubles as Python does', () => {
    // Python writes decimals within 10^-19 (relative) of exact midpoints, below and above.
    const cases = python<{ text: string; value: string }[]>(
      `from decimal import Decimal, getcontext
import random
getcontext().prec = 60
random.seed(7)
out = []
for _ in range(3000):
    d = random.choice([random.uniform(-1e3, 1e3), random.uniform(0, 1), 10.0 ** random.randint(-250, 250) * random.random()])
    if d == 0: continue
    mid = Decimal(d) + Decimal(math.ulp(d)) / 2
    for shift in (-1, 0, 1):
        text = '%.18e' % mid
        t = Decimal(text) + shift * Decimal(10) ** (mid.adjusted() - 18)
        s = '{:.18e}'.format(t)
        out.append({'text': s, 'value': repr(float(s))})
print(json.dumps(out))`,
    );
    let decided = 0;
    for (const { text, value } of cases) {
      const parts = decompose(text)!;
      const v = decimalToDouble(...parts);
      const expected = Math.abs(Number(value));
      expect(Number(text)).toBe(Number(value)); // V8 and Python agree
      if (!Number.isNaN(v)) {
        decided++;
        if (!Object.is(v, expected)) throw new Error(`${text}: got ${v}, expected ${expected}`);
      }
    }
    expect(decided).toBeGreaterThan(cases.length / 2);
  });
});
