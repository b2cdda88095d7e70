/**
 * Text as people have it (issue 16, item 4): old-Mac line ends, quoted numbers, missing
 * values, headers, string columns, other delimiters, other encodings. Every case is read
 * at every slice count through the planner, so that a feature cannot hold only for the
 * first slice.
 */
import { describe, expect, it } from 'vitest';
import { builtinAnalyses } from '../../../lib/core/analyses/index.ts';
import type { Analysis } from '../../../lib/core/analysis.ts';
import { InputError } from '../../../lib/core/errors.ts';
import { finishResult, mergePartials, type ResultDocument, resultDocument, scanSlice } from '../../../lib/core/job.ts';
import { type PlanOptions, planJob, sliceBounds } from '../../../lib/core/plan.ts';
import { MemorySource } from '../../../lib/core/source.ts';
import { scanText } from '../../../lib/core/text/scan.ts';
import { python } from '../../helpers/python.ts';

const enc = new TextEncoder();

interface Read {
  rows: number[][];
  skipped: number;
}

/** Plans `text` as name.csv, reads it with `slices` slices, returns the rows in order. */
async function readPlanned(text: string | Uint8Array, opts: PlanOptions = {}, slices = 1, name = 'in.csv'): Promise<Read> {
  const bytes = typeof text === 'string' ? enc.encode(text) : text;
  const src = new MemorySource(bytes, name, 5);
  const spec = await planJob(src, { name: 'sum', options: {} }, { ...opts, slices }, 'id');
  const rows: number[][] = [];
  let skipped = 0;
  if (spec.layout.kind !== 'text') throw new Error('not text');
  for (let i = 0; i < spec.sliceCount; i++) {
    const { start, end } = sliceBounds(spec, i);
    const s = await scanText(src, spec.layout, start, end, {
      rows(v, n, c) {
        for (let r = 0; r < n; r++) rows.push(Array.from(v.subarray(r * c, r * c + c)));
      },
    }, { onBadRecord: spec.onBadRecord });
    skipped += s.skipped;
  }
  return { rows, skipped };
}

/** The same rows at every slice count from 1 to the byte count. */
async function readEverySlicing(text: string, opts: PlanOptions = {}): Promise<number[][]> {
  const first = await readPlanned(text, opts, 1);
  for (let n = 2; n <= text.length; n++) expect((await readPlanned(text, opts, n)).rows, `${n} slices`).toEqual(first.rows);
  return first.rows;
}

/** The result document of `analysis` over `text`, cut into `slices` slices, in memory. */
async function runJob(text: string, opts: PlanOptions = {}, slices = 1, analysisName = 'stats'): Promise<ResultDocument> {
  const src = new MemorySource(enc.encode(text), 'in.csv', 5);
  const analysis = builtinAnalyses[analysisName] as unknown as Analysis;
  const spec = await planJob(src, { name: analysisName, options: {} }, { ...opts, slices }, 'id');
  const partials = [];
  for (let i = 0; i < spec.sliceCount; i++) partials.push(await scanSlice(src, spec, i, analysis));
  const merged = mergePartials(spec, analysis, partials);
  return resultDocument(spec, merged, await finishResult(spec, analysis, merged), { resumedSlices: 0, elapsedMs: 0 });
}

async function planError(text: string | Uint8Array, opts: PlanOptions = {}, name = 'in.csv'): Promise<Error> {
  try {
    await readPlanned(text, opts, 1, name);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('CR-only line ends (old Mac)', () => {
  it('reads a file whose lines end in CR alone as lines, at every slicing', async () => {
    expect(await readEverySlicing('1,2\r3,4\r5,6\r')).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(await readEverySlicing('1 2\r3 4\r# c\r\r5 6')).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it('skips the header of a CR-only file, and only it', async () => {
    expect(await readEverySlicing('x,y\r1,2\r3,4\r', { skipHeader: true })).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('keeps reading mixed CRLF and LF', async () => {
    expect(await readEverySlicing('1,2\r\n3,4\n5,6\r\n')).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });
});

describe('byte order marks', () => {
  it.each([
    ['UTF-16', [0xff, 0xfe, 0x31, 0, 0x0a, 0], 'UTF-16'],
    ['UTF-16', [0xfe, 0xff, 0, 0x31, 0, 0x0a], 'UTF-16'],
    ['UTF-32', [0xff, 0xfe, 0, 0, 0x31, 0, 0, 0], 'UTF-32'],
    ['UTF-32', [0, 0, 0xfe, 0xff, 0, 0, 0, 0x31], 'UTF-32'],
  ])('refuses %s text by name', async (_n, bytes, enc) => {
    for (const name of ['in.csv', 'data']) {
      const e = await planError(new Uint8Array(bytes), {}, name);
      expect(e).toBeInstanceOf(InputError);
      expect(e.message).toContain(`this is ${enc} text: convert it to UTF-8, e.g. iconv -f ${enc} -t UTF-8`);
    }
  });

  it('accepts a UTF-8 byte order mark', async () => {
    expect(await readEverySlicing('\ufeff1,2\n3,4\n')).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });
});

describe('quoted fields (RFC 4180)', () => {
  it('reads quoted numbers as Python csv + float() does, at every slicing', async () => {
    const text = '"345","1.5e3",-2\r\n"-0.25",7,".5"\r\n8,"1e-3","+4"\r\n';
    const oracle = python<number[][]>('import csv, io\nprint(json.dumps([[float(x) for x in r] for r in csv.reader(io.StringIO(args, newline=""))]))', text);
    expect(await readEverySlicing(text)).toEqual(oracle);
  });

  it('reads random files written by Python csv with every quoting style', async () => {
    const written = python<string[]>(
      'import csv, io, random\nrandom.seed(16)\nout = []\n' +
        'for q in (csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, csv.QUOTE_MINIMAL):\n' +
        '  s = io.StringIO()\n  w = csv.writer(s, quoting=q)\n' +
        '  for _ in range(20): w.writerow([repr(random.uniform(-1e6, 1e6)) if q != csv.QUOTE_NONNUMERIC else random.uniform(-1e6, 1e6) for _ in range(3)])\n' +
        '  out.append(s.getvalue())\nprint(json.dumps(out))',
    );
    for (const text of written) {
      const oracle = python<number[][]>('import csv, io\nprint(json.dumps([[float(x) for x in r] for r in csv.reader(io.StringIO(args, newline=""))]))', text);
      expect((await readPlanned(text, {}, 7)).rows).toEqual(oracle);
    }
  });

  it.each([
    ['"abc",1\n', 0, 'not a number: "\\"abc\\""'],
    ['1,"2,5"\n', 2, 'not a number: "\\"2,5\\""'],
    ['1,"2\n3"\n', 2, 'a quoted field runs past the end of its line'],
    ['1,"2\n', 2, 'a quoted field runs past the end of its line'],
    ['1,"2"x\n', 2, 'not a number: "\\"2\\"x"'],
  ])('refuses %j at byte %d', async (text, offset, problem) => {
    const e = await planError(`1,2\n${text}`);
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toContain(`at byte ${offset + 4}: ${problem}`);
  });
});

describe('--missing', () => {
  // pandas' read_csv na_values defaults (pandas 2.x documentation), and the empty field.
  const spellings = ['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null'];
  const text = ['a,b,c', ...spellings.map((s, i) => `${i},${s.includes(' ') ? `"${s}"` : s},${i % 3 === 0 ? '"NA"' : 2 * i}`), '100,1.5,"7"'].join('\n') + '\n';

  it('skip: leaves out every record holding one of pandas\' missing spellings, and counts them per column, at every slicing', async () => {
    const docs = [];
    for (let n = 1; n <= 40; n += 3) docs.push(await runJob(text, { missing: 'skip', skipHeader: true }, n));
    for (const doc of docs) {
      expect(doc.records).toBe(1);
      expect(doc.missing).toEqual({ values: spellings.length + 7, columns: [0, spellings.length, 7], recordsLeftOut: spellings.length });
      expect((doc.result as { columns: { sum: number }[] }).columns.map((c) => c.sum)).toEqual([100, 1.5, 7]);
    }
  });

  it('count: keeps the records, a missing value read as NaN (numpy genfromtxt\'s filling), counted per column', async () => {
    const doc = await runJob(text, { missing: 'count', skipHeader: true }, 7);
    expect(doc.records).toBe(spellings.length + 1);
    expect(doc.missing).toEqual({ values: spellings.length + 7, columns: [0, spellings.length, 7], recordsLeftOut: 0 });
    const cols = (doc.result as { columns: { count: number; sum: number | null }[] }).columns;
    expect(cols.map((c) => c.count)).toEqual([20, 20, 20]);
    expect(cols[0]!.sum).toBe((18 * 19) / 2 + 100);
    const oracle = python<(number | null)[][]>(
      'import io\nimport numpy as np\na = np.genfromtxt(io.StringIO(args), delimiter=",", missing_values=["NA"], usemask=False)\nprint(json.dumps([[None if x != x else x for x in r] for r in a.tolist()]))',
      '0,,NA\n1,2,3\n',
    );
    expect(oracle).toEqual([
      [0, null, null],
      [1, 2, 3],
    ]);
    expect((await readPlanned('0,,"NA"\n1,2,3\n', { missing: 'count' })).rows).toEqual([
      [0, NaN, NaN],
      [1, 2, 3],
    ]);
  });

  it('fail (the default): a missing value is a bad record, with a hint; nan, inf stay numbers as numpy reads them', async () => {
    const e = await planError('1,2\n3,NA\n');
    expect(e.message).toMatch(/at byte 6: a missing value: "NA" \(--missing skip or count\)/);
    const e2 = await planError('1,2\n3,\n');
    expect(e2.message).toMatch(/at byte 6: empty field at the end of the line \(--missing skip or count\)/);
    expect((await readPlanned('1,nan\n-inf,NaN\n')).rows).toEqual([
      [1, NaN],
      [-Infinity, NaN],
    ]);
    const doc = await runJob('1,2\n3,NA\n5,6\n', { onBadRecord: 'skip' });
    expect(doc.skipped).toBe(1);
    expect(doc.missing).toBeUndefined();
  });
});

describe('headers', () => {
  it('detects a header: a first line that does not parse while the next one does, reported in the result', async () => {
    const doc = await runJob('"a", b ,c\n1,2,3\n4,5,6\n', {}, 3);
    expect(doc.records).toBe(2);
    expect(doc.input.header).toEqual(['a', 'b', 'c']);
    expect(await readEverySlicing('# units\nx\ty\n1\t2\n3\t4\n')).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('detects a header after a UTF-8 byte order mark, and above a line with a missing value', async () => {
    expect((await runJob('\ufeffx,y\n1,2\n')).input.header).toEqual(['x', 'y']);
    expect((await runJob('température,µ\n1,2\n', { columns: 'µ' })).input).toMatchObject({ header: ['température', 'µ'], columns: ['µ'] });
    expect((await planError('x,y\n1,\n')).message).toBe('in.csv: at byte 6: empty field at the end of the line (--missing skip or count)');
  });

  it('takes no line without a letter for a header: a lone "-" is a bad token, not a header dropped in silence', async () => {
    expect((await planError('-\n1\n2\n')).message).toMatch(/^in\.csv: at byte 0: /);
    expect((await planError('-,.\n1,2\n')).message).toMatch(/^in\.csv: at byte 0: /);
    expect((await runJob('x1,-\n1,2\n')).input.header).toEqual(['x1', '-']);
  });

  it('finds no header in a file of numbers (the result says none)', async () => {
    const doc = await runJob('1,2\n3,4\n');
    expect(doc.records).toBe(2);
    expect(doc.input.header).toBeUndefined();
  });

  it('--skip-header N skips N lines (comments and blank lines aside), at every slicing; true is 1', async () => {
    const text = 'x,y\n# c\nnm,nm\n\n1,2\n3,4\n';
    expect(await readEverySlicing(text, { skipHeader: 2 })).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect((await runJob(text, { skipHeader: 2 })).input.header).toEqual(['x', 'y']);
    expect((await readPlanned('x,y\n1,2\n', { skipHeader: true })).rows).toEqual([[1, 2]]);
    // 0: no header, not even a detected one
    expect((await planError('x,y\n1,2\n', { skipHeader: 0 })).message).toContain('not a number: "x"');
  });

  it('hints at --skip-header when a first line that is not a number was not taken for a header', async () => {
    const e = await planError('x,y\nunits,nm\n1,2\n');
    expect(e.message).toBe('in.csv: at byte 0: not a number: "x" (a header? --skip-header N skips N lines; a column of text? --columns picks the columns to read)');
    const bad = await planError('day,x\n2020-01-01x,1\n2020-01-02,2\n');
    expect(bad.message).toBe('in.csv: at byte 6: not a number: "2020-01-01x" (a column of text? --columns picks the columns to read)');
  });
});

describe('delimiters', () => {
  it('detects | ', async () => {
    expect(await readEverySlicing('1|2.5|3\n4|5|6\n')).toEqual([
      [1, 2.5, 3],
      [4, 5, 6],
    ]);
  });

  it('takes the delimiter from the first data line, not the header', async () => {
    // The header has commas in its names; the data is tab-separated.
    expect(await readEverySlicing('x, nm\ty, nm\n1\t2\n3\t4\n')).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(await readEverySlicing('x y z\n1;2;3\n4;5;6\n')).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('skips a bad first record under --on-bad-record skip (the planner learns the columns from the first good one)', async () => {
    const r = await readPlanned('1,2,x\n3,4,5\n6,7,8\n', { onBadRecord: 'skip' }, 2);
    expect(r.rows).toEqual([
      [3, 4, 5],
      [6, 7, 8],
    ]);
    expect(r.skipped).toBe(1);
    expect((await planError('1,2,x\n3,4,5\n')).message).toContain('not a number: "x"');
  });
});

describe('columns', () => {
  const iris = 'sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,Iris-setosa\n4.9,3.0,1.4,0.2,"Iris setosa, var. 2"\n7.0,3.2,4.7,1.4,Iris-versicolor\n6.3,3.3,6.0,2.5,\n';
  const oracle = () =>
    python<number[]>('import io\nimport numpy as np\na = np.genfromtxt(io.StringIO(args), delimiter=",", skip_header=1, usecols=(0, 1, 2, 3))\nprint(json.dumps([math.fsum(c) for c in a.T]))', iris.replace(/"[^"]*"/, 'x'));

  it('leaves out text columns (species) and says so; the numeric ones match numpy, at every slicing', async () => {
    const expected = oracle();
    for (let n = 1; n <= iris.length; n += 7) {
      const doc = await runJob(iris, {}, n);
      expect(doc.records).toBe(4);
      expect(doc.input.columns).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
      expect(doc.input.ignoredColumns).toEqual(['species']);
      expect((doc.result as { columns: { sum: number }[] }).columns.map((c) => c.sum)).toEqual(expected);
    }
  });

  it('--columns by header name or 0-based index, in the order given', async () => {
    const byName = await runJob(iris, { columns: 'petal_width,sepal_length' }, 3);
    expect((byName.result as { columns: { sum: number }[] }).columns.map((c) => c.sum)).toEqual([oracle()[3], oracle()[0]]);
    expect(byName.input.ignoredColumns).toEqual(['sepal_width', 'petal_length', 'species']);
    const byIndex = await readPlanned('r1 1 2 3\nr2 4 5 6\n', { columns: '3,1' }, 4);
    expect(byIndex.rows).toEqual([
      [3, 1],
      [6, 4],
    ]);
  });

  it('never drops a column the user asked for: a text field there is an error', async () => {
    const e = await planError(iris, { columns: 'species' });
    expect(e.message).toContain('not a number: "Iris-setosa"');
    const e2 = await planError(iris, { columns: 'petals' });
    expect(e2.message).toContain('--columns "petals": no column "petals": the input has the header names "sepal_length"');
    const e3 = await planError('1,2\n', { columns: '2' });
    expect(e3.message).toContain('indices 0 to 1');
  });

  it('detects the header above a quoted text column and a trailing comment', async () => {
    const doc = await runJob('name,x,y\n"Smith, J.",1,2 # first\n"Doe, A.",3,4\n', {}, 4);
    expect(doc.input).toMatchObject({ header: ['name', 'x', 'y'], columns: ['x', 'y'], ignoredColumns: ['name'] });
    expect((doc.result as { columns: { sum: number }[] }).columns.map((c) => c.sum)).toEqual([4, 6]);
  });

  it('reads a # glued to text as part of a text column', async () => {
    const doc = await runJob('lang,x\nC#,1\nF#,2 # two\n', {}, 3);
    expect(doc.input).toMatchObject({ header: ['lang', 'x'], ignoredColumns: ['lang'] });
    expect((doc.result as { columns: { sum: number }[] }).columns.map((c) => c.sum)).toEqual([3]);
  });

  it.each([
    ['2020-01-31', '2020-02-01'],
    ['31/01/2020', '01/02/2020'],
    ['19-Sep-03', '22-Sep-03'],
    ['2020-01-31T12:00:00Z', '2020-01-31 12:00:01'],
    ['12:30', '12:30:05.5'],
  ])('leaves out a column of dates or times (%s)', async (a, b) => {
    const doc = await runJob(`when,x\n${a},1\n${b},2\n`);
    expect(doc.input).toMatchObject({ columns: ['x'], ignoredColumns: ['when'] });
    expect(doc.result).toMatchObject({ columns: [{ sum: 3 }] });
  });

  it('passes over empty fields of the columns not read, mid-line and at its end', async () => {
    const text = 'd,a,b,c,e\n1990-01-01,1,,2,\n1990-01-02,3,,4,\n1990-01-03,,,,\n1990-01-04,5,x,6,y\n';
    const doc = await runJob(text, { missing: 'skip', columns: 'a,c' }, 5);
    expect(doc.input).toMatchObject({ columns: ['a', 'c'], ignoredColumns: ['d', 'b', 'e'] });
    expect(doc.records).toBe(3);
    expect(doc.missing).toEqual({ values: 2, columns: [1, 1], recordsLeftOut: 1 });
    expect(doc.result).toMatchObject({ columns: [{ sum: 9 }, { sum: 12 }] });
  });

  it('leaves out the empty column after a delimiter that ends every line', async () => {
    const doc = await runJob('a,b,\n1,2,\n3,4,\n', { missing: 'skip' }, 3);
    expect(doc.input).toMatchObject({ header: ['a', 'b', ''], columns: ['a', 'b'], ignoredColumns: [''] });
    expect(doc.records).toBe(2);
    expect((await planError('1,,3\n')).message).toContain('at byte 2: empty field');
    expect((await readPlanned('1,2,\n3,4,\n')).rows).toEqual([
      [1, 2],
      [3, 4],
    ]);
    // A named column that starts empty is data, its missing values counted.
    const late = await runJob('a,b\n1,\n2,\n3,4\n', { missing: 'count' });
    expect(late.input.columns).toBeUndefined();
    expect(late.missing).toEqual({ values: 2, columns: [0, 2], recordsLeftOut: 0 });
  });

  it('checks the field count of every record, the fields not read included', async () => {
    const e = await planError('a,1\nb,2,3\n');
    expect(e.message).toContain('at byte 4: expected 2 fields, found 3');
  });
});

describe('random messy files against Python csv', () => {
  it('reads what csv.reader + float() reads: header, quoted text and numbers, LF, CRLF or CR, blank lines, at several slicings', async () => {
    const cases = python<{ text: string; rows: number[][] }[]>(
      `import csv, io, random
random.seed(4)
out = []
for f in range(30):
    eol = random.choice(['\\n', '\\r\\n', '\\r'])
    ncol = random.randint(1, 4)
    textcol = random.randint(0, ncol) # ncol: none
    s = io.StringIO()
    w = csv.writer(s, lineterminator=eol, quoting=random.choice([csv.QUOTE_MINIMAL, csv.QUOTE_NONNUMERIC, csv.QUOTE_ALL]))
    names = [f'c{i}' for i in range(ncol + (1 if textcol < ncol else 0))]
    w.writerow(names)
    rows = []
    for r in range(random.randint(2, 25)):
        nums = [random.choice([random.uniform(-1e3, 1e3), float(random.randint(-9, 9)), random.uniform(-1, 1) * 10 ** random.randint(-30, 30)]) for _ in range(ncol)]
        row = [repr(x) for x in nums]
        if textcol < ncol:
            row.insert(textcol, random.choice(['setosa', 'Iris virginica', 'Smith, J.', 'say "hi"', 'x#y']))
        w.writerow(row)
        rows.append(nums)
        if random.random() < 0.1:
            s.write(eol)
    text = s.getvalue()
    parsed = [r for r in csv.reader(io.StringIO(text, newline=''))][1:]
    check = [[float(x) for i, x in enumerate(r) if not (textcol < ncol and i == textcol)] for r in parsed if r]
    assert check == rows
    out.append({'text': text, 'rows': check})
print(json.dumps(out))`,
    );
    for (const { text, rows } of cases) {
      for (const n of [1, 3, 17]) expect((await readPlanned(text, {}, n)).rows, `${JSON.stringify(text.slice(0, 80))}, ${n} slices`).toEqual(rows);
    }
  });
});

describe('random files with text columns and missing values against Python csv', () => {
  it('reads the numeric columns as csv.reader + float() does (missing: NaN under --missing count), at several slicings', async () => {
    const cases = python<{ text: string; rows: (number | null)[][]; numeric: number[] }[]>(
      `import csv, io, random
random.seed(9)
out = []
texts = ['setosa', 'Iris virginica', 'Smith, J.', 'say "hi"', 'x#y', '', 'NA', '1990-01-01', 'a,b,,c']
for f in range(40):
    eol = random.choice(['\\n', '\\r\\n', '\\r'])
    ncol = random.randint(2, 6)
    kinds = ['num'] * ncol
    for t in random.sample(range(ncol), random.randint(1, ncol - 1)):
        kinds[t] = 'text'
    s = io.StringIO()
    w = csv.writer(s, lineterminator=eol, quoting=random.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    w.writerow([f'c{i}' for i in range(ncol)])
    rows = []
    for r in range(random.randint(2, 20)):
        row, nums = [], []
        for i, k in enumerate(kinds):
            if k == 'text':
                # the first two data lines hold real text, so that the column is taken for one
                row.append(random.choice(texts[:2]) if r < 2 else random.choice(texts))
            elif r >= 2 and random.random() < 0.15:
                row.append(random.choice(['', 'NA', 'null', 'NaN']))
                nums.append(None)
            else:
                x = random.choice([random.uniform(-1e3, 1e3), float(random.randint(-9, 9))])
                row.append(repr(x))
                nums.append(x)
        w.writerow(row)
        rows.append(nums)
    out.append({'text': s.getvalue(), 'rows': rows, 'numeric': [i for i, k in enumerate(kinds) if k == 'num']})
print(json.dumps(out))`,
    );
    for (const { text, rows } of cases) {
      const want = rows.map((r) => r.map((x) => (x === null ? NaN : x)));
      for (const n of [1, 4, 13]) expect((await readPlanned(text, { missing: 'count' }, n)).rows, `${JSON.stringify(text.slice(0, 120))}, ${n} slices`).toEqual(want);
    }
  });
});
