/**
 * The text reader before and after its fast path, in-process, on the same bytes in memory
 * (no start-up, no disk, no analysis), taking turns:
 *   npx tsx bench/reader-before-after.ts FILE... [--rounds 5]
 * Throughput is per CPU second of this process, which is steadier than wall time on a
 * shared machine; the best round of each is printed with the median.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MemorySource } from '../lib/core/source.ts';
import { scanText } from '../lib/core/text-reader.ts';
import { scanText as before } from '../test/core/text-reader-fast.reference.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);

async function cpuMBps(scan: typeof scanText, bytes: Uint8Array): Promise<number> {
  const source = new MemorySource(bytes, 'bench', 4 << 20);
  const t0 = process.cpuUsage();
  await scan(source, { kind: 'text', delimiter: 44, columns: 100, headerAt: -1 }, 0, bytes.length, { rows() {} });
  const t = process.cpuUsage(t0);
  return bytes.length / (t.user + t.system);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const file of positionals) {
  const bytes = new Uint8Array(readFileSync(file));
  const runs: Record<string, number[]> = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    runs.before!.push(await cpuMBps(before, bytes));
    runs.after!.push(await cpuMBps(scanText, bytes));
  }
  for (const [name, xs] of Object.entries(runs)) {
    console.log(`${file}  ${name.padEnd(6)}  median ${median(xs).toFixed(0)} MB/s, best ${Math.max(...xs).toFixed(0)} MB/s (per CPU second)`);
  }
}
