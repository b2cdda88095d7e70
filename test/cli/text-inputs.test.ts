/** Text as people have it, through the real fanout command (issue 16, item 4). */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, fanout, ROOT, tempDir } from '../helpers/cli.ts';

const tmp = tempDir('fanout-cli-text-');
afterAll(() => tmp.cleanup());
let n = 0;
function file(name: string, content: string | Uint8Array): string {
  const path = join(tmp.path, name);
  writeFileSync(path, content);
  return path;
}
function run(args: string[]) {
  const r = fanout(['run', ...args, '--state-dir', join(tmp.path, `state-${n++}`)]);
  return { ...r, doc: r.code === 0 && r.stdout.startsWith('{') ? JSON.parse(r.stdout) : undefined };
}

describe('fanout run on messy text', () => {
  it('reads a CR-only file with --skip-header as its lines (was: the whole file the header, count 0, exit 0)', () => {
    const r = run([file('mac.csv', 'x,y\r1,2\r3,4\r'), '--skip-header', '--analysis', 'stats', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.doc.records).toBe(2);
    expect(r.doc.result.columns.map((c: { sum: number }) => c.sum)).toEqual([4, 6]);
  });

  it('--missing skip: leaves out records with NA or empty fields and says how many, per column', () => {
    const r = run([file('na.csv', '1,2\n3,NA\n,6\n7,8\n'), '--missing', 'skip', '--analysis', 'stats', '--slices', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.doc.records).toBe(2);
    expect(r.doc.missing).toEqual({ values: 2, columns: [1, 1], recordsLeftOut: 2 });
    expect(r.doc.result.columns.map((c: { sum: number }) => c.sum)).toEqual([8, 10]);
  });

  it('--missing fail (the default) names the value and the option', () => {
    const r = run([file('na2.csv', '1,2\n3,NA\n'), '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`fanout: ${join(tmp.path, 'na2.csv')}: at byte 6: a missing value: "NA" (--missing skip or count)`);
  });

  it('refuses UTF-16 by name, in one line', () => {
    const r = run([file('wide.csv', Buffer.from('\ufeff1,2\n', 'utf16le')), '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('this is UTF-16 text: convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8');
  });

  it('detects a header and reports it; --skip-header N skips N lines; --skip-header alone is 1', () => {
    const detected = run([file('h.csv', 'x,y\n1,2\n3,4\n'), '--json']);
    expect(detected.code, detected.stderr).toBe(0);
    expect(detected.doc.input.header).toEqual(['x', 'y']);
    expect(detected.doc.result).toMatchObject({ count: 4, sum: 10 });
    const two = run([file('h2.csv', 'x,y\nnm,nm\n1,2\n3,4\n'), '--skip-header', '2', '--json']);
    expect(two.code, two.stderr).toBe(0);
    expect(two.doc.result).toMatchObject({ count: 4, sum: 10 });
    const alone = run([file('h1.csv', 'x,y\n1,2\n'), '--skip-header', '--json']);
    expect(alone.doc.result).toMatchObject({ count: 2, sum: 3 });
    const before = fanout(['run', '--skip-header', file('h4.csv', 'x\n1\n')]);
    expect(before.code).toBe(2);
    expect(before.stderr).toMatch(/--skip-header takes an integer .*, not ".*h4.csv" \(for 1, write --skip-header after the input file, or give the value\)\n$/);
    const undetected = run([file('h3.csv', 'x,y\nnm,nm\n1,2\n'), '--json']);
    expect(undetected.code).toBe(2);
    expect(undetected.stderr).toContain('not a number: "x" (a header? --skip-header N skips N lines');
  });

  it('refuses --skip-header N past the end of a file of fewer lines, naming the file, its end and its line count (was: 0 records, exit 0)', () => {
    const short = file('short.csv', 'x,y\n# a comment\n1,2\n\n3,4\n');
    const r = run([short, '--skip-header', '5', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`fanout: ${short}: at byte 25: --skip-header 5 skips past the end of the file, which has 3 lines (comments and blank lines aside)\n`);
    // compressed: the decompressed text's end is not known from the head; the line says where reading stopped
    const gz = file('short.csv.gz', gzipSync('x,y\n1,2\n3,4\n'));
    const z = run([gz, '--skip-header', '5', '--json']);
    expect(z.code).toBe(2);
    expect(z.stderr).toMatch(new RegExp(`^fanout: ${gz.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*: at byte 12: --skip-header 5: 3 lines \\(comments and blank lines aside\\) before this byte, where reading the header stops\n$`));
    // a header and nothing else is an empty table: no record, no error
    const headerOnly = run([file('header-only.csv', 'x,y\nnm,nm\n'), '--skip-header', '2', '--json']);
    expect(headerOnly.code, headerOnly.stderr).toBe(0);
    expect(headerOnly.doc.records).toBe(0);
  });

  it('gives the stats of the numeric columns of an iris-like file, and --columns by name', () => {
    const iris = file('iris.csv', 'sepal_length,sepal_width,species\n5.1,3.5,setosa\n4.9,3.0,setosa\n7.0,3.2,versicolor\n');
    const r = run([iris, '--analysis', 'stats', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.doc.input).toMatchObject({ header: ['sepal_length', 'sepal_width', 'species'], columns: ['sepal_length', 'sepal_width'], ignoredColumns: ['species'] });
    expect(r.doc.result.columns.map((c: { max: number }) => c.max)).toEqual([7, 3.5]);
    const one = run([iris, '--analysis', 'stats', '--columns', 'sepal_width', '--json']);
    expect(one.doc.result.columns.map((c: { max: number }) => c.max)).toEqual([3.5]);
    const human = run([iris, '--analysis', 'stats']);
    expect(human.stdout).toContain('header: sepal_length, sepal_width, species');
    expect(human.stdout).toContain('columns read: sepal_length, sepal_width; left out (text, or not in --columns): species');
    expect(human.stdout).toMatch(/\nsepal_length +3 /);
    const bad = run([iris, '--columns', 'petal', '--json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--columns "petal": no column "petal"');
  });

  it('reads stdin (-): spooled to the state dir, run as a file, the spool removed; errors name stdin', () => {
    const stateDir = join(tmp.path, 'state-stdin');
    const go = (input: string) => spawnSync(process.execPath, [BIN, 'run', '-', '--analysis', 'stats', '--json', '--slices', '3', '--state-dir', stateDir], { cwd: ROOT, input, encoding: 'utf8' });
    const r = go('x,y\n1,2\n3,4\n');
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.input).toMatchObject({ path: '-', bytes: 12, header: ['x', 'y'] });
    expect(doc.result.columns.map((c: { sum: number }) => c.sum)).toEqual([4, 6]);
    expect(readdirSync(join(stateDir, 'stdin'))).toEqual([]);
    const bad = go('1,2\n3,x\n');
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('fanout: stdin: at byte 6: not a number: "x"');
    expect(readdirSync(join(stateDir, 'stdin'))).toEqual([]);
  });
});
