/**
 * The deployable app (cdk/app.ts, with cdk.json's context) checked by cdk-nag's
 * AwsSolutions pack and by cfn-lint. One synth for the file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../cdk/app.ts';
import { tempDir } from '../helpers/cli.ts';
import { deployedContext } from './template.ts';

interface Violation {
  ruleName: string;
  severity: string;
  description: string;
  violatingConstructs: { constructPath: string }[];
}

/**
 * Synthesizes an app and returns the AwsSolutions findings of its validation report.
 * cdk-nag 3 runs as a validation plugin: its findings go to validation-report.json and
 * make synth throw; they are not stack annotations, so Annotations.fromStack cannot see them.
 */
function synthWithReport(app: App, outdir: string): { violations: Violation[]; error?: Error } {
  let error: Error | undefined;
  try {
    app.synth();
  } catch (e) {
    error = e as Error;
  }
  const reportPath = join(outdir, 'validation-report.json');
  // The report is only written when some plugin reports something.
  if (!existsSync(reportPath)) return { violations: [], error };
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as { pluginReports: { pluginName: string; violations: Violation[] }[] };
  return { violations: report.pluginReports.filter((p) => p.pluginName === 'AwsSolutions').flatMap((p) => p.violations), error };
}

const describeViolations = (vs: Violation[]): string => vs.map((v) => `${v.severity} ${v.ruleName} at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`).join('\n');

let out: ReturnType<typeof tempDir>;
let violations: Violation[];
let synthError: Error | undefined;
let templatePath: string;

beforeAll(() => {
  out = tempDir('fanout-cdk-checks-');
  const app = new App({ outdir: out.path, context: deployedContext(), builtinCloudFormationValidation: false });
  const { stack } = buildApp(app);
  ({ violations, error: synthError } = synthWithReport(app, out.path));
  templatePath = join(out.path, stack.templateFile);
});

afterAll(() => out?.cleanup());

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding on the deployable app', () => {
    expect(describeViolations(violations)).toBe('');
    expect(synthError).toBeUndefined();
  });

  it('does report findings on a stack that breaks its rules (so the check above can fail)', () => {
    const dir = tempDir('fanout-cdk-nag-');
    try {
      const app = new App({ outdir: dir.path, builtinCloudFormationValidation: false });
      const stack = new Stack(app, 'Careless');
      new s3.Bucket(stack, 'Open', { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ACLS_ONLY });
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      const { violations: found, error } = synthWithReport(app, dir.path);
      const rules = found.map((v) => v.ruleName);
      expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
      expect(error?.message).toMatch(/AwsSolutions-S10/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('cfn-lint', () => {
  it('finds no error in the synthesized template', () => {
    const version = execFileSync('cfn-lint', ['--version'], { encoding: 'utf8' }).trim();
    const r = spawnSync('cfn-lint', ['--format', 'json', '--', templatePath], { encoding: 'utf8', maxBuffer: 1 << 26 });
    // Exit status is a bit mask: 2 errors, 4 warnings, 8 informational; anything else means it did not run.
    expect(r.status === 0 || (r.status !== null && (r.status & ~(2 | 4 | 8)) === 0), r.stderr).toBe(true);
    const matches = JSON.parse(r.stdout || '[]') as { Level: string; Rule: { Id: string }; Message: string; Location: { Path: unknown[] } }[];
    const byLevel = (level: string) => matches.filter((m) => m.Level === level);
    console.log(`${version}: ${byLevel('Error').length} errors, ${byLevel('Warning').length} warnings, ${byLevel('Informational').length} informational`);
    for (const w of byLevel('Warning')) console.log(`  warning ${w.Rule.Id}: ${w.Message}`);
    expect(byLevel('Error').map((m) => `${m.Rule.Id} ${m.Message} at ${JSON.stringify(m.Location.Path)}`)).toEqual([]);
  });
});
