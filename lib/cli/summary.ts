/** The short human summary printed without --json. */
import type { ResultDocument } from '../core/job.ts';
import { resultArrays, rowsOf } from '../core/result-array.ts';
import type { SelectionDoc } from '../core/selection/frame-filter.ts';
import { indicesOf, parseRanges, unionOf } from '../core/selection/ranges.ts';
import { formatBytes, num } from '../core/units.ts';

export function summarize(doc: ResultDocument, arraysIn?: string): string {
  const lines: string[] = [];
  // XTC and TRR headers give no shape: a trajectory's is (frames x atoms x 3) all the same.
  const atoms = (doc.trajectory as { atoms?: number } | undefined)?.atoms;
  const dims = doc.input.shape ?? (doc.trajectory && atoms !== undefined ? [doc.records, atoms, 3] : undefined);
  const shape = dims ? ` (${dims.join(' x ')})` : '';
  const secs = doc.elapsedMs / 1000;
  lines.push(
    `${doc.analysis} of ${doc.input.path}: ${formatBytes(doc.input.bytes)} ${doc.input.format}${shape}, ${count(doc.records, doc.trajectory ? 'frame' : 'record')}, ${count(doc.slices, 'slice')}` +
      (doc.resumedSlices > 0 ? ` (${doc.resumedSlices} resumed)` : '') +
      `, ${secs.toFixed(2)} s, job ${doc.job}`,
  );
  // A compressed stream is one slice whatever --slices said: say so, and why.
  if (doc.input.compression && !doc.input.compression.splittable) lines.push(`${doc.input.compression.codec}: ${doc.input.compression.why}`);
  if (doc.skipped > 0) {
    lines.push(`skipped ${doc.skipped} bad records, first at byte ${doc.skippedExamples?.[0]?.offset}: ${doc.skippedExamples?.[0]?.problem}`);
  }
  const inp = doc.input;
  if (inp.header) lines.push(`header: ${inp.header.join(', ')}`);
  if (inp.ignoredColumns?.length) lines.push(`columns read: ${inp.columns!.join(', ')}; left out (text, or not in --columns): ${inp.ignoredColumns.join(', ')}`);
  if (doc.missing) {
    lines.push(`missing values: ${doc.missing.values} (per column: ${doc.missing.columns.join(', ')})${doc.missing.recordsLeftOut > 0 ? `, ${doc.missing.recordsLeftOut} records left out` : ''}`);
  }
  for (const w of doc.trajectory?.warnings ?? []) lines.push(`warning: ${w}`);
  const units = doc.trajectory as { lengthUnit?: string; storedLengthUnit?: string } | undefined;
  if (units?.lengthUnit) lines.push(`lengths in ${units.lengthUnit}${units.storedLengthUnit && units.storedLengthUnit !== units.lengthUnit ? ` (the file stores ${units.storedLengthUnit})` : ''}`);
  const unit = units?.lengthUnit ?? 'the coordinates\' unit';
  const r = doc.result as Record<string, unknown>;
  // A large result's arrays are .npy files beside the result document (`arraysIn`, when the caller knows where).
  const files = resultArrays(r).map((a) => a.file!);
  if (files.length > 0) lines.push(`arrays as .npy files${arraysIn ? ` in ${arraysIn}` : ' beside the result document'}: ${files.join(', ')}`);
  const more = files.length > 0 ? 'all of them in the .npy file' : 'use --json or --out for all';
  const box = (r as { box?: Record<'first' | 'last', Record<string, number>> } | null)?.box;
  // Other analyses print their whole result, the box included.
  if (box && ['sum', 'stats', 'row-sums', 'mean-structure', 'rg', 'rmsd', 'rmsf', 'rdf'].includes(doc.analysis)) {
    for (const k of ['first', 'last'] as const) {
      const b = box[k]!;
      lines.push(`box (${k} frame): a ${num(b.a!)} b ${num(b.b!)} c ${num(b.c!)}  alpha ${num(b.alpha!)} beta ${num(b.beta!)} gamma ${num(b.gamma!)}`);
    }
  }
  // A selection: which atoms, and the rows below are numbered by atom index.
  const selection = (r as { selection?: SelectionDoc } | null)?.selection;
  let atomOf = (i: number): number => i;
  if (selection) {
    const names = { atoms: 'atoms', fitAtoms: 'fit atoms', atoms2: 'atoms2' } as const;
    lines.push(`selected: ${Object.entries(selection).map(([k, v]) => `${names[k as keyof typeof names]} ${v.count} (${v.ranges.length > 80 ? `${v.ranges.slice(0, 80)}...` : v.ranges})`).join('; ')}`);
    const rows = indicesOf(unionOf(...Object.values(selection).map((v) => parseRanges(v.ranges))));
    atomOf = (i) => rows[i] ?? i;
  }
  if (doc.analysis === 'sum') {
    lines.push(`count ${num(r.count as number)}  sum ${num(r.sum as number)}  mean ${num(r.mean as number)}`);
  } else if (doc.analysis === 'stats') {
    const cols = r.columns as Record<string, number | null>[];
    lines.push('column        count           mean            std            min            max');
    cols.slice(0, 20).forEach((c, i) => {
      lines.push(
        [String(doc.input.columns?.[i] ?? doc.input.header?.[i] ?? i).slice(0, 12).padEnd(6), num(c.count).padStart(12), ...[c.mean, c.std, c.min, c.max].map((v) => num(v).padStart(14))].join(' '),
      );
    });
    if (cols.length > 20) lines.push(`... ${cols.length - 20} more columns (use --json)`);
  } else if (doc.analysis === 'row-sums') {
    const means = rowsOf(r.rowMeans)!;
    lines.push(`${r.frames} frames of ${r.rowsPerFrame} rows; mean over frames of each row's sum:`);
    for (let i = 0; i < Math.min(means.count, 100); i += 5) {
      lines.push(
        Array.from({ length: Math.min(5, means.count - i) }, (_, k) => means.row(i + k)[0] ?? null)
          .map((m, k) => `${String(atomOf(i + k)).padStart(4)}: ${num(m).padEnd(12)}`)
          .join(' '),
      );
    }
    if (means.count > 100) lines.push(`... ${means.count - 100} more rows (${files.length > 0 ? more : 'use --json'})`);
  } else if (doc.analysis === 'mean-structure') {
    const mean = rowsOf(r.mean)!;
    lines.push(`mean structure of ${r.frames} frames, ${r.atoms} atoms${mean.count > 10 ? ` (first 10; ${more})` : ''}:`);
    for (let i = 0; i < Math.min(10, mean.count); i++) lines.push(`${String(atomOf(i)).padStart(6)}: ${mean.row(i).map((v) => num(v).padStart(14)).join(' ')}`);
  } else if (doc.analysis === 'rg') {
    lines.push(`radius of gyration over ${r.frames} frames: mean ${num(r.mean as number)}  min ${num(r.min as number)}  max ${num(r.max as number)} (per frame: --json)`);
  } else if (doc.analysis === 'rmsd') {
    lines.push(`RMSD after superposition on the reference, over ${r.frames} frames (${unit}): mean ${num(r.mean as number)}  min ${num(r.min as number)}  max ${num(r.max as number)} (per frame: --json)`);
  } else if (doc.analysis === 'rmsf') {
    // Numbered by the measured atoms alone (the fit atoms are not in the series).
    const measured = selection?.atoms ? indicesOf(parseRanges(selection.atoms.ranges)) : undefined;
    const atomAt = (i: number): number => measured?.[i] ?? i;
    // Inline numbers, or (past RESULT_INLINE_MAX atoms) the array of the .npy file.
    const values = rowsOf(r.rmsf)!;
    const at = (i: number): number => values.row(i)[0] ?? NaN;
    let [lo, hi, total] = [0, 0, 0];
    for (let i = 0; i < values.count; i++) {
      total += at(i);
      if (at(i) < at(lo)) lo = i;
      if (at(i) > at(hi)) hi = i;
    }
    lines.push(
      `RMSF of ${r.atoms} atoms over ${r.frames} frames (${unit}), after fitting every frame to the average structure: mean ${num(total / values.count)}  min ${num(at(lo))} (atom ${atomAt(lo)})  max ${num(at(hi))} (atom ${atomAt(hi)})`,
    );
    const shown = Math.min(values.count, 10);
    for (let i = 0; i < shown; i += 5) {
      lines.push(
        Array.from({ length: Math.min(5, shown - i) }, (_, k) => `${String(atomAt(i + k)).padStart(6)}: ${num(at(i + k)).padEnd(12)}`)
          .join(' ')
          .trimEnd(),
      );
    }
    if (values.count > 10) lines.push(`... ${values.count - 10} more atoms (${files.length > 0 ? more : 'use --json or --out for all'})`);
  } else if (doc.analysis === 'rdf') {
    const [nA, nB] = r.atoms as number[];
    const g = r.rdf as (number | null)[];
    const bins = r.bins as number[];
    lines.push(`g(r) over ${r.frames} frames, ${nA} x ${nB} atoms, mean box volume ${num(r.volume as number)}; bin centre: g(r)${g.length > 100 ? ' (first 100 bins; use --json)' : ''}`);
    for (let i = 0; i < Math.min(g.length, 100); i += 5) lines.push(g.slice(i, i + 5).map((v, k) => `${num(bins[i + k]!).padStart(8)}: ${num(v).padEnd(12)}`).join(' ').trimEnd());
  } else {
    const text = JSON.stringify(doc.result);
    lines.push(text.length > 2000 ? `${text.slice(0, 2000)}... (use --json)` : text);
  }
  return lines.join('\n');
}

/** 1 slice, 2 slices. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
