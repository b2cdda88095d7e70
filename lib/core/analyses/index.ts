/** The built-in analyses, by name. */
import type { Analysis } from '../analysis.ts';
import { meanStructure } from './mean-structure.ts';
import { rdf } from './rdf.ts';
import { rg } from './rg.ts';
import { rmsd } from './rmsd.ts';
import { rmsf, rmsfAverage } from './rmsf.ts';
import { rowSums } from './row-sums.ts';
import { stats } from './stats.ts';
import { sum } from './sum.ts';

export const builtinAnalyses: Record<string, Analysis<never, unknown>> = {
  sum: sum as Analysis<never, unknown>,
  stats: stats as Analysis<never, unknown>,
  'row-sums': rowSums as Analysis<never, unknown>,
  'mean-structure': meanStructure as Analysis<never, unknown>,
  rg: rg as Analysis<never, unknown>,
  rdf: rdf as Analysis<never, unknown>,
  rmsd: rmsd as Analysis<never, unknown>,
  rmsf: rmsf as Analysis<never, unknown>,
  'rmsf-average': rmsfAverage as Analysis<never, unknown>,
};

/**
 * Adds an analysis to the registry under its own name, so a Lambda bundle can resolve
 * `spec.analysis.name` without importing a path at run time (the CDK construct injects
 * a module that calls this). Refuses to replace a different analysis of the same name.
 */
export function registerAnalysis(analysis: Analysis<never, unknown> | Analysis | undefined): void {
  const required = ['name', 'empty', 'addRows', 'combine', 'finish', 'encode', 'decode'] as const;
  if (!analysis || required.some((k) => (analysis as unknown as Record<string, unknown>)[k] === undefined)) {
    throw new TypeError('registerAnalysis() takes an analysis made with defineAnalysis()');
  }
  const existing = builtinAnalyses[analysis.name];
  if (existing && existing !== analysis) throw new TypeError(`an analysis named ${JSON.stringify(analysis.name)} is already registered`);
  builtinAnalyses[analysis.name] = analysis as Analysis<never, unknown>;
}
