/** The command line itself: help per command, version, and one-line usage errors with exit 2. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cloudOptionNames, flagOf, localOptionNames } from '../../lib/job/options.ts';
import { fanout, ROOT } from '../helpers/cli.ts';

const flagsIn = (help: string): string[] => [...help.matchAll(/^ {2}(?:-\w, )?(--[a-z0-9-]+)/gm)].map((m) => m[1]!);
// --select EXPR and friends, resolved to --atoms ranges by the CLI (lib/cli/select.ts)
const SELECT = ['--topology', '--select', '--fit-select', '--select2'];

describe('fanout --help', () => {
  it.each([
    ['run', localOptionNames.map(flagOf), ['--ref-frame', '--reference', '--json', '--out', '--progress', '--quiet', ...SELECT]],
    ['submit', cloudOptionNames.map(flagOf), ['--bucket', '--stack', '--key', '--detach', '--timeout', '--json', '--progress', '--quiet', ...SELECT]],
    ['dev', cloudOptionNames.map(flagOf), ['--endpoint', '--bucket', '--fanin']],
    ['plan', localOptionNames.map(flagOf), ['--bytes', '--region', '--memory', '--fanin', '--json', ...SELECT]],
    ['report', [], ['--out', '--svg', '--state-dir', '--json', '--quiet']],
    ['status', [], ['--bucket', '--stack', '--timeout', '--json', '--quiet']],
    ['redrive', [], ['--bucket', '--stack', '--detach', '--timeout', '--json', '--progress', '--quiet']],
  ])('%s --help lists exactly its own options, job options from their declaration', (command, jobFlags, own) => {
    const r = fanout([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: fanout ${command} `));
    expect(flagsIn(r.stdout).sort()).toEqual([...new Set([...jobFlags, ...own, '--help'])].sort());
  });

  it('shows each option with its default and range', () => {
    const submit = fanout(['submit', '--help']).stdout.replace(/\s+/g, ' ');
    expect(submit).toContain('--concurrency <N> worker invocations in flight while the job starts (1 to 1,000; default: 32)');
    expect(submit).toContain('--format <auto|text|npy|raw|dcd|xtc|trr|netcdf>');
    expect(submit).toContain('--slice-bytes <B>');
  });

  it('prints the command list and exits 2 without a command, 0 with --help', () => {
    const none = fanout([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^Usage: fanout \[options\] \[command\]/);
    const help = fanout(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['run', 'demo', 'report', 'plan', 'submit', 'status', 'redrive', 'dev']) expect(help.stdout).toMatch(new RegExp(`^ {2}${c} `, 'm'));
  });
});

describe('help for a first-time user', () => {
  it('names the trajectory formats fanout reads', () => {
    expect(fanout(['--help']).stdout.replace(/\s+/g, ' ')).toMatch(/XTC, TRR, DCD, AMBER NetCDF/);
  });

  it('run --help ends with examples for a trajectory and for a CSV', () => {
    const help = fanout(['run', '--help']).stdout;
    expect(help).toMatch(/\nExamples:\n/);
    expect(help).toContain('fanout run md.xtc --analysis rg');
    expect(help).toContain('fanout run md.xtc --analysis rmsd --topology md.gro --select backbone');
    expect(help).toContain('fanout run data.csv --analysis stats');
    expect(help).toContain('Ctrl-C, then the same command again: resumes');
  });
});

describe('fanout --version', () => {
  it("prints package.json's version", () => {
    const r = fanout(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });
});

describe('usage errors', () => {
  it.each([
    [['run', 'x.csv', '--slicez', '3'], "fanout: unknown option '--slicez' (did you mean --slices?)"],
    [['run', 'x.csv', '--slices', '-3'], 'fanout: --slices takes an integer of at least 1, not "-3"'],
    [['run', 'x.csv', '--slice-bytes', '-3'], 'fanout: --slice-bytes takes a size such as 1048576, 64MiB or 1G, not "-3"'],
    [['run', 'x.csv', '--on-bad-record', 'ignore'], 'fanout: --on-bad-record must be fail or skip, not "ignore"'],
    [['run', 'x.csv', '--option', 'novalue'], 'fanout: --option takes KEY=VALUE, not "novalue"'],
    [['run'], "fanout: missing required argument 'input'"],
    [['runn', 'x.csv'], "fanout: unknown command 'runn' (did you mean run?)"],
    [['report', 'x.json', '--svgg', 'd'], "fanout: unknown option '--svgg' (did you mean --svg?)"],
    [['status', 'x', '--frobnicate'], "fanout: unknown option '--frobnicate'"],
    [['submit', 'x.csv', '--slices', '4'], 'fanout: --slices is for local runs; on AWS the slice count follows --slice-bytes'],
    [['submit', 'x.csv', '--concurrency', '5000'], 'fanout: --concurrency takes an integer from 1 to 1000, not "5000"'],
    [['dev', '--fanin', '1'], 'fanout: --fanin takes an integer from 2 to 1000, not "1"'],
    [['plan', '--bytes', 'lots'], 'fanout: --bytes takes a size such as 1048576, 64MiB or 1G, not "lots"'],
  ])('%j: one line, exit 2', (args, message) => {
    const r = fanout(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${message}\n`);
    expect(r.stdout).toBe('');
  });
});
