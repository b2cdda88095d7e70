// polars' side of the benchmark, in its idiomatic form: readCSV, then the sum of every
// column, with polars' default threads. The sum of the column sums is a plain double sum.
//   node bench/polars-sum.mjs PEERS_DIR FILE
// Prints {"count": N, "sum": S} as JSON.
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const [peers, file] = process.argv.slice(2);
const pl = createRequire(join(resolve(peers), 'package.json'))('nodejs-polars');
const df = pl.readCSV(file, { hasHeader: false });
const sums = df.sum().row(0);
let sum = 0;
for (const s of sums) sum += s;
process.stdout.write(`${JSON.stringify({ count: df.height * df.width, sum })}\n`);
