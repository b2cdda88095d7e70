/**
 * Resolves --analysis: a built-in name, or a path to a module whose default export
 * (or export named `analysis`) was made with defineAnalysis().
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Analysis, type AnalysisTraits, traitsOf } from '../core/analysis.ts';
import { builtinAnalyses } from '../core/analyses/index.ts';
import { UsageError } from '../core/errors.ts';
import type { AnalysisRef } from '../core/plan.ts';

const cache = new Map<string, Analysis>();

export function isModuleSpecifier(name: string): boolean {
  return name.includes('/') || /\.(m?[jt]s|cjs)$/.test(name);
}

/** The reference stored in the job spec, with the module's content hash. */
export async function analysisRef(name: string, options: Record<string, string> = {}): Promise<AnalysisRef & AnalysisTraits> {
  if (!isModuleSpecifier(name)) {
    const builtin = builtinAnalyses[name];
    if (!builtin) {
      const meant = closestName(name, Object.keys(builtinAnalyses));
      throw new UsageError(`unknown analysis ${JSON.stringify(name)}${meant ? ` (did you mean ${meant}?)` : ''}: use ${Object.keys(builtinAnalyses).join(', ')} or a path to a module`);
    }
    if (builtin.reference) checkReferenceOptions(name, options);
    else if (TAKES_NO_OPTIONS.has(name) && Object.keys(options).length > 0) throw new UsageError(`${name} takes no analysis option (--option, --ref-frame; given: ${Object.keys(options).join(', ')})`);
    return { name, options, ...traitsOf(builtin) };
  }
  const path = resolve(name);
  let source: Buffer;
  try {
    source = await readFile(path);
  } catch {
    throw new UsageError(`analysis module ${path} not found`);
  }
  const analysis = await loadAnalysis({ name, module: path, options });
  return { name: analysis.name, module: path, moduleHash: createHash('sha256').update(source).digest('hex').slice(0, 16), options, ...traitsOf(analysis) };
}

/** Built-in analyses that read no ctx.options (rdf and the fitting ones check theirs; a registered analysis may take any). */
const TAKES_NO_OPTIONS = new Set(['sum', 'stats', 'row-sums', 'mean-structure', 'rg']);

/**
 * The options of the analyses that fit to a reference (rmsd, rmsf): ref-frame, and those the
 * command line and the chain set (reference, reference-unit, then). A misspelt one would
 * otherwise leave the default in place without a word.
 */
function checkReferenceOptions(name: string, options: Record<string, string>): void {
  const known = ['ref-frame', 'reference', 'reference-unit', 'then'];
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const meant = closestName(key, known);
    throw new UsageError(`${name}: unknown option ${JSON.stringify(key)}${meant ? ` (did you mean ${meant}?)` : ''}: ${name} takes ref-frame (--ref-frame K), and a structure with --reference FILE`);
  }
}

/** The name a misspelling most likely meant (case, _ for -, or at most 2 edits), if any. */
export function closestName(given: string, names: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/_/g, '-');
  const exact = names.find((n) => norm(n) === norm(given));
  if (exact) return exact;
  let best: string | undefined;
  let bestDistance = 3;
  for (const n of names) {
    const d = editDistance(norm(given), n);
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  return best;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

export async function loadAnalysis(ref: Pick<AnalysisRef, 'name' | 'module'> & Partial<AnalysisRef>): Promise<Analysis> {
  if (!ref.module) {
    const builtin = builtinAnalyses[ref.name];
    if (!builtin) throw new UsageError(`unknown analysis ${JSON.stringify(ref.name)}`);
    return builtin as Analysis;
  }
  const cached = cache.get(ref.module);
  if (cached) return cached;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(ref.module).href)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`cannot load analysis module ${ref.module}: ${(e as Error).message}`);
  }
  const candidate = (mod.default ?? mod.analysis) as Partial<Analysis> | undefined;
  const required = ['name', 'empty', 'addRows', 'combine', 'finish', 'encode', 'decode'] as const;
  if (!candidate || required.some((k) => candidate[k] === undefined)) {
    throw new UsageError(`${ref.module} must export (as default or as "analysis") an analysis made with defineAnalysis() from fanout`);
  }
  cache.set(ref.module, candidate as Analysis);
  return candidate as Analysis;
}
