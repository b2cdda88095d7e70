/** The built-in analyses, by name. */
import type { Analysis } from '../analysis.ts';
import { rowSums } from './row-sums.ts';
import { stats } from './stats.ts';
import { sum } from './sum.ts';

export const builtinAnalyses: Record<string, Analysis<never, unknown>> = {
  sum: sum as Analysis<never, unknown>,
  stats: stats as Analysis<never, unknown>,
  'row-sums': rowSums as Analysis<never, unknown>,
};
