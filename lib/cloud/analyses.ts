/** The analyses a deployment knows, by name: no module paths in a Lambda. */
import type { Analysis } from '../core/analysis.ts';
import { builtinAnalyses } from '../core/analyses/index.ts';
import { UsageError } from '../core/errors.ts';
import { closestName } from '../job/analysis-loader.ts';

/** Looks the analysis up by name in the registry. */
export function resolveAnalysis(name: string): Analysis {
  const analysis = builtinAnalyses[name];
  if (!analysis) {
    const meant = closestName(name, Object.keys(builtinAnalyses));
    throw new UsageError(`unknown analysis ${JSON.stringify(name)}${meant ? ` (did you mean ${meant}?)` : ''}: this deployment has ${Object.keys(builtinAnalyses).join(', ')}`);
  }
  return analysis as Analysis;
}
