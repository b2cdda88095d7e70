/**
 * Helpers for reading a synthesized template: the deployment's context from cdk.json,
 * IAM statements per role, and a small evaluator of "may this role do X on Y".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';

export type Json = Record<string, unknown>;

/** The context cdk.json gives a real `cdk synth`, so tests see what gets deployed. */
export function deployedContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
}

/** A CloudFormation value as text: GetAtt becomes <Id.Attr>, Ref becomes <Id>, joins are concatenated. */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Json;
  if (Array.isArray(v['Fn::GetAtt'])) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if (typeof v.Ref === 'string') return `<${v.Ref}>`;
  if (Array.isArray(v['Fn::Join'])) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(sep);
  }
  return JSON.stringify(value);
}

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: unknown;
}

const list = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

/** Every statement attached to a role: its inline policies and AWS::IAM::Policy resources naming it. */
export function roleStatements(template: Json, roleId: string): Statement[] {
  const resources = template.Resources as Record<string, { Type: string; Properties: Json }>;
  const out: Statement[] = [];
  const role = resources[roleId];
  if (!role) throw new Error(`no resource ${roleId}`);
  for (const p of (role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? []) out.push(...p.PolicyDocument.Statement);
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties.Roles as unknown[]).map(render);
    if (roles.includes(`<${roleId}>`)) out.push(...(r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  }
  return out;
}

/** IAM wildcard matching: `*` spans any characters, `?` one; actions are case-insensitive. */
function globMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, ignoreCase ? 'i' : '');
  return re.test(value);
}

/**
 * Whether the statements allow `action` on `resource` (rendered as by render()).
 * Conditions are not evaluated: a conditional Allow counts as an Allow, which errs
 * on the side of reporting too much access.
 */
export function allows(statements: Statement[], action: string, resource: string): boolean {
  const matches = (s: Statement) => list(s.Action).some((a) => globMatch(a, action, true)) && list(s.Resource).map(render).some((r) => globMatch(r, resource, false));
  return statements.some((s) => s.Effect === 'Allow' && matches(s)) && !statements.some((s) => s.Effect === 'Deny' && matches(s));
}
