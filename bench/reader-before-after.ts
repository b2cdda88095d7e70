/**
 * The text reader with and without its record fast path, in-process, on the same bytes in
 * memory (no start-up, no disk, no analysis), taking turns. (The figures in BENCHMARKS.md
 * for "before" were taken against the reader as it was before the fast path; the general
 * path measured here has since gained the allocation-free number conversion too.)
 *   npx tsx bench/reader-before-after.ts FILE... [--rounds 5]
 * Throughput is per CPU second of this process, which is steadier than wall time on a
 * shared machine; the best round of each is printed with the median.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MemorySource } from '../lib/core/source.ts';
import { scanText } from '../lib/core/text/scan.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);

async function cpuMBps(fastPath: boolean, bytes: Uint8Array): Promise<number> {
  const source = new MemorySource(bytes, 'bench', 4 << 20);
  const t0 = process.cpuUsage();
  await scanText(source, { kind: 'text', delimiter: 44, columns: 100, headerAt: -1 }, 0, bytes.length, { rows() {} }, { fastPath });
  const t = process.cpuUsage(t0);
  return bytes.length / (t.user + t.system);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const file of positionals) {
  const bytes = new Uint8Array(readFileSync(file));
  const runs: Record<string, number[]> = { general: [], fast: [] };
  for (let r = 0; r < rounds; r++) {
    runs.general!.push(await cpuMBps(false, bytes));
    runs.fast!.push(await cpuMBps(true, bytes));
  }
  for (const [name, xs] of Object.entries(runs)) {
    console.log(`${file}  ${name.padEnd(7)}  median ${median(xs).toFixed(0)} MB/s, best ${Math.max(...xs).toFixed(0)} MB/s (per CPU second)`);
  }
}
