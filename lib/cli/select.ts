/**
 * `--select EXPR`, `--fit-select EXPR`, `--select2 EXPR` with `--topology FILE`: atom
 * selections by expression (lib/core/selection/language.ts, MDAnalysis's language),
 * resolved here, on the client, to the index ranges of the job options atoms, fitAtoms
 * and atoms2, so that a job (local or on AWS) only ever sees ranges: the cloud never
 * reads a topology.
 */
import { readFile } from 'node:fs/promises';
import { InputError, UsageError } from '../core/errors.ts';
import { selectForOption } from '../core/selection/language.ts';
import { formatRanges, rangesOfIndices } from '../core/selection/ranges.ts';
import { readTopology, topologyFormatOf } from '../core/selection/topology.ts';
import { planJob } from '../core/plan.ts';
import { inputPlanOptions, type JobOptions } from '../job/options.ts';
import { FileSource } from '../local/file-source.ts';
import type { CommandOptionSpec } from './commands.ts';

export const SELECT_OPTIONS = {
  topology: { kind: 'string', flag: '--topology', valueName: 'FILE', help: 'a PSF, GRO or PDB file naming the atoms of a frame, for --select, --fit-select and --select2', group: 'analysis' },
  select: {
    kind: 'string',
    flag: '--select',
    valueName: 'EXPR',
    help: "the atoms to analyse by MDAnalysis's selection language (name, resname, resid 10:20, index, segid, protein, backbone, and, or, not, parentheses), instead of --atoms",
    group: 'analysis',
  },
  fitSelect: { kind: 'string', flag: '--fit-select', valueName: 'EXPR', help: 'the atoms to fit on, by expression, instead of --fit-atoms', group: 'analysis' },
  select2: { kind: 'string', flag: '--select2', valueName: 'EXPR', help: 'the second group, by expression, instead of --atoms2', group: 'analysis' },
} as const satisfies Record<string, CommandOptionSpec>;

const PAIRS = [
  ['select', 'atoms', '--select', '--atoms'],
  ['fitSelect', 'fitAtoms', '--fit-select', '--fit-atoms'],
  ['select2', 'atoms2', '--select2', '--atoms2'],
] as const;

export interface ResolvedSelections {
  /** the ranges to set as job options */
  options: { atoms?: string; fitAtoms?: string; atoms2?: string };
  /** the topology read, when one was: the planner checks that a frame has its atoms */
  topology?: { name: string; atoms: number };
}

/** Resolves the expressions given among the parsed flags `values` (none: nothing to do). */
export async function resolveSelections(values: Record<string, unknown>): Promise<ResolvedSelections> {
  const given = PAIRS.filter(([expr]) => values[expr] !== undefined);
  const topologyPath = values.topology as string | undefined;
  if (given.length === 0) {
    if (topologyPath !== undefined) throw new UsageError('--topology is read for --select, --fit-select or --select2: give one of them, or leave --topology out');
    return { options: {} };
  }
  if (topologyPath === undefined) throw new UsageError(`${given[0]![2]} needs --topology FILE (a PSF, GRO or PDB file naming the atoms)`);
  for (const [, option, flag, rangesFlag] of given) if (values[option] !== undefined) throw new UsageError(`give ${flag} or ${rangesFlag}, not both`);
  const format = topologyFormatOf(topologyPath);
  if (!format) throw new UsageError(`--topology ${topologyPath}: fanout reads PSF, GRO and PDB topologies (by the file's extension: .psf, .gro, .pdb)`);
  let text: string;
  try {
    text = await readFile(topologyPath, 'latin1');
  } catch (e) {
    throw new UsageError(`--topology ${topologyPath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const top = readTopology(topologyPath, text, format);
  if (top.atoms === 0) throw new InputError(topologyPath, 0, 'the topology names no atom');
  const options: ResolvedSelections['options'] = {};
  for (const [expr, option, flag] of given) options[option] = formatRanges(rangesOfIndices(selectForOption(top, values[expr] as string, flag)));
  return { options, topology: { name: topologyPath, atoms: top.atoms } };
}

/**
 * fanout submit: a selection resolved on a topology is checked against the file's frames
 * before the upload (the coordinator, which never sees the topology, could not tell a
 * topology of another system; an index past the frame it would refuse only after the upload).
 */
export async function checkBeforeUpload(path: string, options: JobOptions, resolved: ResolvedSelections): Promise<void> {
  if (!resolved.topology) return;
  const source = await FileSource.open(path);
  try {
    // Planning reads the header only; the groups are the analysis's business, checked by the coordinator.
    await planJob(source, { name: options.analysis ?? 'sum', options: {}, groups: ['fit', 'other'] }, { ...inputPlanOptions({ ...options, ...resolved.options }), slices: 1, topology: resolved.topology }, 'submit');
  } finally {
    await source.close();
  }
}
