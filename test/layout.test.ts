/**
 * The layering rule (.dependency-cruiser.cjs) holds on the tree, and every rule in it can
 * fail: each case below builds a small tree with one forbidden import and expects the
 * check to name that rule.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.ts';

const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

function cruise(cwd: string, dirs: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [DEPCRUISE, ...dirs, '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { cwd, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'fanout-layout-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  copyFileSync(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  copyFileSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  return dir;
}

describe('the layering rule', () => {
  it('holds on the source tree', () => {
    const r = cruise(ROOT, ['lib', 'functions', 'cdk', 'bin']);
    expect(r.out).not.toMatch(/error/);
    expect(r.code).toBe(0);
  });

  it.each([
    ['no-cycle', { 'lib/local/a.ts': "import { b } from './b.ts';\nexport const a = () => b;\n", 'lib/local/b.ts': "import { a } from './a.ts';\nexport const b = () => a;\n" }],
    ['core-is-pure', { 'lib/core/a.ts': "import { j } from '../job/j.ts';\nexport const a = j;\n", 'lib/job/j.ts': 'export const j = 1;\n' }],
    ['core-is-pure', { 'lib/core/a.ts': "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n" }],
    ['job-is-vocabulary', { 'lib/job/a.ts': "import { l } from '../local/l.ts';\nexport const a = l;\n", 'lib/local/l.ts': 'export const l = 1;\n' }],
    ['local-not-cloud', { 'lib/local/a.ts': "import { c } from '../cloud/c.ts';\nexport const a = c;\n", 'lib/cloud/c.ts': 'export const c = 1;\n' }],
    ['cloud-not-local', { 'lib/cloud/a.ts': "import { l } from '../local/l.ts';\nexport const a = l;\n", 'lib/local/l.ts': 'export const l = 1;\n' }],
    ['nothing-imports-the-cli', { 'lib/report/a.ts': "import { c } from '../cli/c.ts';\nexport const a = c;\n", 'lib/cli/c.ts': 'export const c = 1;\n' }],
    ['functions-over-cloud', { 'functions/a.ts': "import { l } from '../lib/local/l.ts';\nexport const a = l;\n", 'lib/local/l.ts': 'export const l = 1;\n' }],
    ['lib-not-deployment', { 'lib/cloud/a.ts': "import { f } from '../../functions/f.ts';\nexport const a = f;\n", 'functions/f.ts': 'export const f = 1;\n' }],
    ['no-test-code-in-lib', { 'lib/local/a.ts': "import { t } from '../../test/t.ts';\nexport const a = t;\n", 'test/t.ts': 'export const t = 1;\n' }],
  ] as const)('fails on a tree that breaks %s', (rule, files) => {
    const dir = tree(`${rule}-${Object.keys(files).join('-').replace(/\W/g, '_')}`, files);
    const r = cruise(dir, [...new Set(Object.keys(files).map((f) => f.split('/')[0]!))]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(rule);
  });
});
