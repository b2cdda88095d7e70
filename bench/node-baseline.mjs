// The plain Node way: readline, split on the delimiter, parseFloat, +=.
//   node bench/node-baseline.mjs FILE
// Prints {"count": N, "sum": S} as JSON (a rounded running sum, not an exact one).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const lines = createInterface({ input: createReadStream(process.argv[2]), crlfDelay: Infinity });
let count = 0;
let sum = 0;
for await (const line of lines) {
  if (line === '') continue;
  for (const field of line.split(',')) {
    sum += parseFloat(field);
    count++;
  }
}
process.stdout.write(`${JSON.stringify({ count, sum })}\n`);
