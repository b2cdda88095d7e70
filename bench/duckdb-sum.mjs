// DuckDB's side of the benchmark: the sum of every value of a headerless numeric CSV.
//   node bench/duckdb-sum.mjs FILE COLUMNS
// Prints {"count": N, "sum": S} as JSON.
import { DuckDBInstance } from '@duckdb/node-api';

const [file, columnsText] = process.argv.slice(2);
const columns = Number(columnsText);
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
// read_csv names headerless columns column0..column9, column00..column99, ...: pass our own.
const names = Array.from({ length: columns }, (_, i) => `c${i}`);
const types = `{${names.map((n) => `'${n}': 'DOUBLE'`).join(', ')}}`;
const sql = `SELECT count(*) * ${columns} AS n, ${names.map((n) => `sum(${n})`).join(' + ')} AS s
  FROM read_csv('${file.replaceAll("'", "''")}', header = false, columns = ${types})`;
const reader = await connection.runAndReadAll(sql);
const [[count, sum]] = reader.getRows();
process.stdout.write(`${JSON.stringify({ count: Number(count), sum: Number(sum) })}\n`);
