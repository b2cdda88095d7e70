/**
 * `fanout report` as a user runs it, on jobs run by the real CLI on worker threads; the
 * page is opened in headless Chromium where Debian's chromium is installed.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Partial } from '../../lib/core/job.ts';
import { fanout, tempDir } from '../helpers/cli.ts';
import { python } from '../helpers/python.ts';
import { expectPoints, seriesPoints } from '../helpers/series-svg.ts';
import { locateJob } from '../../lib/report/index.ts';
import { buildModel } from '../../lib/report/model.ts';
import { statePartials } from '../helpers/state-dir.ts';

const CHROMIUM = '/usr/bin/chromium';
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const stateDir = join(tmp.path, 'state');
const FRAMES = 400;
const SLICES = 8;

/** `label: a – b; count: n` of every bar of a Vega-Lite histogram SVG. */
function histogramBars(svg: string): { lo: number; hi: number; count: number }[] {
  const num = (s: string): number => Number(s.replace(/\u2212/g, '-').replace(/,/g, ''));
  return [...svg.matchAll(/aria-label="[^"]*?: ([^;"]+) – ([^;"]+); count: (\d+)"/g)].map((m) => ({ lo: num(m[1]!), hi: num(m[2]!), count: Number(m[3]) }));
}

function run(input: string, args: string[]): { job: string; path: string } {
  // one document per input and options: an rg and an rmsf of one file are two
  const out = join(tmp.path, `${[input, ...args].join('_').replace(/\W/g, '_')}.result.json`);
  const r = fanout(['run', join(tmp.path, input), ...args, '--slices', String(SLICES), '--workers', '2', '--state-dir', stateDir, '--quiet', '--out', out]);
  if (r.code !== 0) throw new Error(`fanout run failed: ${r.stderr}`);
  return { job: JSON.parse(readFileSync(out, 'utf8')).job, path: out };
}

let columnMeans: number[];
let rowsJob: { job: string; path: string };
let statsJob: { job: string; path: string };
let rgJob: { job: string; path: string };

beforeAll(() => {
  columnMeans = python<number[]>(
    `rng = np.random.default_rng(11)
np.save(${JSON.stringify(join(tmp.path, 'traj.npy'))}, rng.standard_normal((${FRAMES}, 20, 30)))
a = rng.normal(loc=rng.uniform(-5, 5, 60), scale=1.0, size=(500, 60))
np.savetxt(${JSON.stringify(join(tmp.path, 'table.csv'))}, a, delimiter=",", fmt="%.17g")
print(json.dumps([math.fsum(c) / len(c) for c in a.T.tolist()]))`,
  );
  python(`rng = np.random.default_rng(5)
np.save(${JSON.stringify(join(tmp.path, 'md.npy'))}, rng.normal(0, 5, (40, 30, 3)) + np.linspace(0, 1, 40)[:, None, None])
print(1)`);
  rowsJob = run('traj.npy', ['--analysis', 'row-sums']);
  rgJob = run('md.npy', ['--analysis', 'rg', '--atoms', '3-9,20-24']);
  statsJob = run('table.csv', ['--analysis', 'stats']);
});

const partials = (job: string): Partial[] => statePartials(stateDir, job);

describe('the story in every partial', () => {
  it('names the worker (the main thread or a worker thread), marks each one\'s first slice as its cold start, and counts records and memory', () => {
    const ps = partials(rowsJob.job);
    expect(ps).toHaveLength(SLICES);
    const byWorker = new Map<string, Partial[]>();
    for (const p of ps) byWorker.set(p.run.worker, [...(byWorker.get(p.run.worker) ?? []), p]);
    expect(byWorker.size).toBeGreaterThanOrEqual(1);
    expect(byWorker.size).toBeLessThanOrEqual(2);
    for (const [worker, mine] of byWorker) {
      expect(worker).toMatch(/^(main|thread-\d+)$/);
      const inOrder = [...mine].sort((a, b) => a.run.startedAt - b.run.startedAt);
      expect(inOrder.map((p) => p.run.coldStart)).toEqual(inOrder.map((_, i) => i === 0));
      // one thread runs one slice at a time
      for (let i = 1; i < inOrder.length; i++) expect(inOrder[i]!.run.startedAt).toBeGreaterThanOrEqual(inOrder[i - 1]!.run.finishedAt);
    }
    for (const p of ps) {
      expect(p.run.finishedAt).toBeGreaterThanOrEqual(p.run.startedAt);
      expect(p.run.peakRssBytes).toBeGreaterThan(0);
      expect(p.run.peakRssBytes).toBeLessThan(totalmem());
      expect(p.run.records).toBe(p.rows / 20);
    }
    expect(ps.reduce((a, p) => a + p.run.records!, 0)).toBe(FRAMES);
  });
});

describe('fanout report', () => {
  it("draws rg against the frame with its mean, and rmsf against the measured atoms' real indices, the values of the result", () => {
    for (const analysis of ['rg', 'rmsf']) {
      const job = analysis === 'rg' ? rgJob : run('md.npy', ['--analysis', analysis, '--atoms', '3-9,20-24']);
      const result = JSON.parse(readFileSync(job.path, 'utf8')).result;
      const svgDir = join(tmp.path, `svg-${analysis}`);
      const r = fanout(['report', job.path, '--state-dir', stateDir, '--svg', svgDir]);
      expect(r.code, r.stderr).toBe(0);
      const svg = readFileSync(join(svgDir, 'series.svg'), 'utf8');
      if (analysis === 'rg') {
        expectPoints(seriesPoints(svg), Array.from({ length: 40 }, (_, i) => i), result.rg);
        expect(svg).toContain("X-axis titled 'frame'");
        expect(svg).toContain(`>mean ${Number(result.mean.toPrecision(6))}</text>`);
      } else {
        const atoms = [3, 4, 5, 6, 7, 8, 9, 20, 21, 22, 23, 24];
        expect(result.rmsf).toHaveLength(atoms.length);
        expectPoints(seriesPoints(svg), atoms, result.rmsf);
        expect(svg).toContain("X-axis titled 'atom index'");
      }
    }
  });

  it('reads an rmsf kept in a .npy file beside the document and draws the largest RMSF of each run of atoms past 10^5 atoms, saying so', async () => {
    const ATOMS = 270_000;
    python(`rng = np.random.default_rng(6)
np.save(${JSON.stringify(join(tmp.path, 'big.npy'))}, rng.normal(0, 5, (4, ${ATOMS}, 3)).astype('<f4'))
print(1)`);
    const job = run('big.npy', ['--analysis', 'rmsf']);
    const rmsf = JSON.parse(readFileSync(job.path, 'utf8')).result.rmsf;
    expect(rmsf.$npy).toMatch(/\.npy$/);
    // numpy's reading of the sidecar, in runs of 3 atoms (270000 / 10^5, rounded up)
    const want = python<number[]>('a = np.load(args[0]); print(json.dumps(a.reshape(-1, 3).max(axis=1).tolist()))', [join(tmp.path, rmsf.$npy)]);
    const svgDir = join(tmp.path, 'svg-big');
    const r = fanout(['report', job.path, '--state-dir', stateDir, '--svg', svgDir]);
    expect(r.code, r.stderr).toBe(0);
    const svg = readFileSync(join(svgDir, 'series.svg'), 'utf8');
    expect(svg).toContain(`>${ATOMS} atoms downsampled to 90000 points: each is the largest RMSF of 3 consecutive atoms</text>`);
    expect(svg).toMatch(/aria-roledescription="line mark"/);
    // too many points to mark one by one: what the chart is drawn from
    const series = buildModel(await locateJob(job.path, { stateDir })).series!;
    expect(series.x.values).toEqual(want.map((_, i) => 3 * i));
    expect(series.y.values).toEqual(want);
  });

  it('draws a histogram of the column means of stats with the counts numpy gives for the same bins', () => {
    const svgDir = join(tmp.path, 'svg-stats');
    const r = fanout(['report', statsJob.path, '--state-dir', stateDir, '--svg', svgDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(svgDir).sort()).toEqual(['histogram.svg', 'throughput.svg', 'timeline.svg']);
    const bars = histogramBars(readFileSync(join(svgDir, 'histogram.svg'), 'utf8'));
    expect(bars.length).toBeGreaterThan(3);
    bars.sort((a, b) => a.lo - b.lo);
    const edges = [...bars.map((b) => b.lo), bars[bars.length - 1]!.hi];
    const counts = python<number[]>('print(json.dumps(np.histogram(args[0], bins=args[1])[0].tolist()))', [columnMeans, edges]);
    expect(bars.map((b) => b.count)).toEqual(counts);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
  });

  it('finds a job by its id in the state dir and writes one self-contained page', () => {
    const out = join(tmp.path, 'by-id.html');
    const r = fanout(['report', rowsJob.job, '--state-dir', stateDir, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    const html = readFileSync(out, 'utf8');
    expect(html.match(/<svg /g)).toHaveLength(3);
    // nothing to fetch: no scripts, no external resources
    expect(html).not.toMatch(/<script|<link |src="http|href="http/);
    expect(html).toContain(`${FRAMES}</td>`);
    expect(html).toMatch(new RegExp(`${SLICES} \\(${SLICES} found in \\d+ partials, 0 resumed\\)`));
  });

  it('reads the state dir of a result.json that lives in one', () => {
    const out = join(tmp.path, 'from-state.html');
    const r = fanout(['report', join(stateDir, 'jobs', statsJob.job, 'result.json'), '--state-dir', join(tmp.path, 'elsewhere'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toContain(`${SLICES} (${SLICES} found in `);
  });

  it.each([
    ['an unknown job id', ['0123456789abcdef0123'], /no job 0123456789abcdef0123/],
    ['a JSON file that is no result', ['NOTRESULT'], /not a fanout result document/],
    ['something that is neither', ['no-such-thing'], /no-such-thing: not a file, a job id or an s3:\/\/ location/],
  ])('exits 2 with a message on %s', (_, args, message) => {
    const notResult = join(tmp.path, 'other.json');
    writeFileSync(notResult, '{"hello": 1}');
    const r = fanout(['report', ...args.map((a) => (a === 'NOTRESULT' ? notResult : a)), '--state-dir', stateDir, '--out', join(tmp.path, 'x.html')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  const why = existsSync(CHROMIUM) ? '' : ` [SKIPPED: ${CHROMIUM} is not installed; .ci/run installs Debian's chromium]`;
  if (why) console.warn(`fanout report browser test${why}`);
  it.skipIf(!!why)(`renders every chart with its marks in headless Chromium, without console errors${why}`, async () => {
    const out = join(tmp.path, 'browser.html');
    expect(fanout(['report', rowsJob.path, '--state-dir', stateDir, '--out', out]).code).toBe(0);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 1200 } });
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      await page.goto(`file://${out}`);
      const drawn = await Promise.all(
        ['histogram', 'timeline', 'throughput'].map(async (id) => {
          const box = await page.locator(`#${id} svg`).boundingBox();
          return { id, width: box?.width ?? 0, height: box?.height ?? 0, bars: await page.locator(`#${id} svg g.mark-rect.role-mark path`).count() };
        }),
      );
      expect(problems).toEqual([]);
      for (const c of drawn) {
        expect(c.width, c.id).toBeGreaterThan(300);
        expect(c.height, c.id).toBeGreaterThan(50);
        expect(c.bars, c.id).toBeGreaterThan(0);
      }
      // one bar per partial (a slice, or a run of slices) on the timeline and in the throughput chart
      const bars = partials(rowsJob.job).length;
      expect(drawn.find((c) => c.id === 'timeline')!.bars).toBe(bars);
      expect(drawn.find((c) => c.id === 'throughput')!.bars).toBe(bars);

      // an rg job's line of rg against frame: one line, one point per frame, the mean's rule
      const rgPage = join(tmp.path, 'browser-rg.html');
      expect(fanout(['report', rgJob.path, '--state-dir', stateDir, '--out', rgPage]).code).toBe(0);
      await page.goto(`file://${rgPage}`);
      const box = await page.locator('#series svg').boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(300);
      expect(box?.height ?? 0).toBeGreaterThan(50);
      expect(await page.locator('#series svg g.mark-line.role-mark path').count()).toBe(1);
      expect(await page.locator('#series svg g.mark-symbol.role-mark path').count()).toBe(40);
      expect(await page.locator('#series svg g.mark-rule.role-mark line').count()).toBe(1);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
