/**
 * The public API for writing your own analysis:
 *
 *   import { defineAnalysis, ExactSum } from 'fanout';
 *
 * See examples/ and the README section "Writing your own analysis".
 */
export { defineAnalysis, type Analysis, type AnalysisContext, type AnalysisDefinition, type AnalysisGroup } from './core/analysis.ts';
export { ExactSum } from './core/exact-sum.ts';
export { FanoutError, FrameProblemError, InputError, IncompleteFrameError, UsageError } from './core/errors.ts';
