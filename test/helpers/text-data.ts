/**
 * Text inputs the tests generate: a CSV with a header and three columns of mixed kinds
 * (fixed, integer, exponent), a long line now and then so that records straddle slices,
 * compressed members and frames. Seeded, so every run writes the same bytes.
 */
export function sampleCsv(rows: number, seed = 1, longLine = { every: 97, bytes: 3000 }): Uint8Array {
  let x = seed;
  const rnd = (): number => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  const lines = ['a,b,c'];
  for (let i = 0; i < rows; i++) {
    const pad = i % longLine.every === 0 ? '0'.repeat(longLine.bytes) : '';
    lines.push(`${(rnd() * 2000 - 1000).toFixed(6)},${pad}${Math.floor(rnd() * 1e6)},${(rnd() * 1e-3).toExponential(12)}`);
  }
  return new TextEncoder().encode(`${lines.join('\n')}\n`);
}
