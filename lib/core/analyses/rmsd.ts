/**
 * `rmsd`: the RMSD of every frame to a reference structure after optimal superposition
 * (QCP, lib/core/superpose.ts), in frame order, with its mean, min and max: unweighted
 * and with centres of geometry removed, as MDAnalysis.analysis.rms.RMSD does by default.
 * Fitted on the `fit` rows (ctx.groups.fit), measured on the `measure` rows; both default
 * to every row. The reference is a frame of the input (option ref-frame, default 0) or
 * coordinates given with the job (option reference): see referenceStructure in job.ts.
 * In the unit of the coordinates (the result document's trajectory.lengthUnit).
 */
import type { AnalysisContext } from '../analysis.ts';
import { UsageError } from '../errors.ts';
import { Fitter } from '../superpose.ts';
import { frameSeries } from './frame-series.ts';

const fitters = new WeakMap<AnalysisContext, Fitter>();

/** The Fitter of a scan's context, made on its first frame. */
export function fitterOf(ctx: AnalysisContext, name: string): Fitter {
  let f = fitters.get(ctx);
  if (!f) {
    if (!ctx.reference) throw new Error(`${name}: no reference structure in the context`);
    if (ctx.columns !== 3) throw new UsageError(`${name} superposes frames of (x, y, z) rows; these rows hold ${ctx.columns} values`);
    const { fit, measure } = ctx.groups ?? {};
    if (fit?.length === 0) throw new UsageError(`${name}: the fit selection holds no atom`);
    if (measure?.length === 0) throw new UsageError(`${name}: the measured selection holds no atom`);
    f = new Fitter(ctx.reference, ctx.frameRows, fit, measure);
    fitters.set(ctx, f);
  }
  return f;
}

export const rmsd = frameSeries('rmsd', 'rmsd', (values, from, _columns, ctx) => fitterOf(ctx, 'rmsd').rmsd(values, from), { groups: ['fit'], reference: true });
