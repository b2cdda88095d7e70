/** README.md's option tables are what the declaration generates (`npm run docs:options`). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReadme, TABLES } from '../../lib/cli/option-docs.ts';
import { cloudOptionNames, flagOf, localOptionNames, metadataOf } from '../../lib/job/options.ts';
import { ROOT } from '../helpers/cli.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README option tables', () => {
  it('equal what the declaration generates (run npm run docs:options after changing an option)', () => {
    expect(readme).toBe(renderReadme(readme));
  });

  it('list every option where it applies', () => {
    expect(Object.keys(TABLES)).toHaveLength(3);
    const local = TABLES['options:local']!();
    for (const n of localOptionNames) expect(local).toContain(`| \`${flagOf(n)}`);
    const metadata = TABLES['options:metadata']!();
    for (const n of cloudOptionNames) expect(metadata).toContain(`x-amz-meta-${metadataOf(n)}`);
    expect(metadata).not.toContain('fanout-slices`');
    const construct = TABLES['options:construct']!();
    for (const n of cloudOptionNames) expect(construct).toContain(`\`defaults.${n}\``);
    expect(construct).toContain("`'auto' \\| 'text' \\| 'npy' \\| 'raw' \\| 'dcd' \\| 'xtc' \\| 'trr' \\| 'netcdf'`");
  });

  it('notice a table edited by hand', () => {
    const edited = readme.replace('| `x-amz-meta-fanout-concurrency` | `32` |', '| `x-amz-meta-fanout-concurrency` | `64` |');
    expect(edited).not.toBe(readme);
    expect(renderReadme(edited)).not.toBe(edited);
  });

  it('refuses a README without the markers', () => {
    expect(() => renderReadme('# no tables\n')).toThrow(/no <!-- options:local/);
  });
});
