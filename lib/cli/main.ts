/**
 * The fanout command line: one commander program with a subcommand per task, each with
 * its own --help; it parses options, wires the runtimes, prints.
 * Exit codes: 0 success, 2 bad input or usage (one line: file and byte offset, or the
 * option and the value given), 1 anything unexpected (a bug: the stack is printed).
 * report, plan, submit, status, redrive and dev load their modules (AWS SDK, vega) only when they run.
 */
import { readdirSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { FanoutError, UsageError } from '../core/errors.ts';
import { encodeCoordinates } from '../core/job.ts';
import { readStructureFile } from '../core/structure-file.ts';
import { encodeResultBytes, resultArrayFiles } from '../job/documents.ts';
import { jobPrefix } from '../job/keys.ts';
import { cloudOptionNames, defaultOf, inputPlanOptions, type JobOptions, type LocalOptions, localOptionNames } from '../job/options.ts';
import { type LocalRunOptions, type Progress, runLocal } from '../local/run.ts';
import { AWS_OPTIONS, type CommandOptionSpec, commandOption, commanderOption, jobOption, jobValues, OUTPUT_OPTIONS } from './commands.ts';
import { demoTrajectoryExists, writeDemoTrajectory } from './demo.ts';
import { checkBeforeUpload, resolveSelections, SELECT_OPTIONS } from './select.ts';
import { ProgressBar } from './progress.ts';
import { summarize } from './summary.ts';

interface OutputValues {
  json?: boolean;
  out?: string;
  progress?: boolean;
  quiet?: boolean;
}

/** The options of a local run, from the declared options as parsed. */
export function runOptionsFrom(v: LocalOptions): LocalRunOptions {
  if (v.slices !== undefined && v.sliceBytes !== undefined) throw new UsageError('give --slices or --slice-bytes, not both');
  return {
    ...inputPlanOptions(v),
    slices: v.slices,
    sliceBytes: v.sliceBytes,
    analysis: v.analysis ?? defaultOf('analysis')!,
    analysisOptions: v.options ?? {},
    stateDir: resolve(v.stateDir ?? defaultOf('stateDir')!),
    workers: v.workers ?? availableParallelism(),
  };
}

/** rmsd, rmsf: the reference structure, as analysis options (so on AWS: fanout-option-ref-frame). */
const REFERENCE_OPTIONS = {
  refFrame: { kind: 'int', flag: '--ref-frame', valueName: 'K', min: 0, help: 'rmsd, rmsf: the frame of the input to fit to (0-based; default 0); the analysis option ref-frame', group: 'analysis' },
  reference: { kind: 'string', flag: '--reference', valueName: 'FILE', help: "rmsd: fit to this structure (PDB or GRO: the trajectory's atoms, in its order) instead of a frame", group: 'analysis' },
} as const satisfies Record<string, CommandOptionSpec>;

async function referenceOptions(options: Record<string, string>, values: { refFrame?: number; reference?: string }): Promise<Record<string, string>> {
  const out = { ...options, ...(values.refFrame !== undefined ? { 'ref-frame': String(values.refFrame) } : {}) };
  if (values.reference === undefined) return out;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(values.reference);
  } catch (e) {
    throw new UsageError(`--reference ${values.reference}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const structure = readStructureFile(values.reference, bytes);
  return { ...out, reference: encodeCoordinates(structure.coordinates), 'reference-unit': structure.lengthUnit };
}

/** s3://bucket/key: the local runtime reads the object by ranges, pinned to the version it was planned on. */
async function openS3Input(url: string) {
  return (await import('../cloud/aws/s3-source.ts')).openS3Url(url);
}

async function run(inputs: string[], opts: LocalRunOptions, out: OutputValues): Promise<void> {
  const s3 = inputs.some((i) => i.startsWith('s3://'));
  if (s3 && inputs.length > 1) throw new UsageError('an input in parts is read from local files only: give one s3:// object, or the local parts');
  const quiet = out.quiet ?? false;
  const tty = process.stderr.isTTY === true;
  const bar = !quiet && (tty || out.progress) ? new ProgressBar({ stream: process.stderr, tty }) : undefined;
  // Ctrl-C: what was kept and how to go on, rather than a bar cut off mid-line.
  let last: Progress | undefined;
  const stdin = inputs.includes('-');
  const onInterrupt = () => {
    bar?.finish();
    if (stdin) removeSpools(opts.stateDir);
    process.stderr.write(`${tty && bar ? '\n' : ''}${interruptedMessage(last, opts.stateDir, stdin)}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  let doc;
  try {
    doc = await runLocal(inputs, {
      ...opts,
      onProgress: (p) => {
        last = p;
        bar?.update(p);
      },
      openSource: s3 ? openS3Input : undefined,
    });
  } finally {
    process.off('SIGINT', onInterrupt);
    bar?.finish();
  }
  // The bytes the state dir's result.json holds (a million atoms' numbers are tens of MB): formatted once, written as they are.
  const bytes = out.out || out.json ? encodeResultBytes(doc) : new Uint8Array(0);
  if (out.out) {
    try {
      // A large result's arrays go beside --out FILE too, under the names the document gives.
      for (const { name, bytes: npy } of resultArrayFiles(doc)) await writeFile(join(dirname(out.out), name), npy);
      await writeFile(out.out, [bytes, '\n']);
    } catch (e) {
      // The scan is done and its result kept: say where, rather than "no such file".
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new UsageError(`--out ${out.out}: cannot write it (${code}); the result is kept in ${join(opts.stateDir, 'jobs', doc.job, 'result.json')}`);
    }
  }
  if (out.json) {
    process.stdout.write(bytes);
    process.stdout.write('\n');
  }
  else if (!quiet) process.stdout.write(`${summarize(doc, out.out ? dirname(out.out) : join(opts.stateDir, jobPrefix(doc.job)))}\n`);
}

/** The line printed on Ctrl-C: the partials already committed stay in the state dir, and the same command resumes from them. */
export function interruptedMessage(progress: Progress | undefined, stateDir: string, stdin: boolean): string {
  if (stdin) return 'fanout: interrupted: a run over standard input is not resumed (nothing kept)';
  if (!progress) return 'fanout: interrupted before any slice was scanned; run the same command again to start';
  return `fanout: interrupted${progress.stage ? ` in ${progress.stage}` : ''}: ${progress.slicesDone} of ${progress.slicesTotal} slices are kept in ${stateDir}; run the same command again to resume`;
}

/** This process's spooled standard input (<state dir>/stdin/<pid>-...), which its own cleanup will not reach after process.exit. */
function removeSpools(stateDir: string): void {
  const dir = join(stateDir, 'stdin');
  try {
    for (const f of readdirSync(dir)) if (f.startsWith(`${process.pid}-`)) rmSync(join(dir, f), { force: true });
  } catch {
    // no spool yet
  }
}

function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command('fanout')
    .description(
      'Exact, streaming, parallel statistics over one file too big for memory (MD trajectories: XTC, TRR, DCD, AMBER NetCDF; ' +
        'CSV/TSV/whitespace text, also gzip or zstd compressed; .npy; raw binary): ' +
        'cut into slices, scanned on worker threads or on AWS Lambda, merged exactly, resumable after an interruption.',
    )
    .version(packageJson.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    // Errors are printed by main(), on one line.
    .configureOutput({ outputError: () => {} })
    .showSuggestionAfterError(true);
  // Subcommands inherit the settings above.
  // Extra arguments reach the command, which says what it takes.
  const command = (name: string, summary: string) => program.command(name).description(summary).helpOption('-h, --help', 'show help').allowExcessArguments();
  const local = (cmd: Command) => localOptionNames.forEach((n) => cmd.addOption(jobOption(n)));
  const cloud = (cmd: Command) => cloudOptionNames.forEach((n) => cmd.addOption(jobOption(n)));
  const output = (cmd: Command, names: (keyof typeof OUTPUT_OPTIONS)[]) => names.forEach((n) => cmd.addOption(commandOption(OUTPUT_OPTIONS[n])));
  const aws = (cmd: Command, names: (keyof typeof AWS_OPTIONS)[]) => names.forEach((n) => cmd.addOption(commandOption(AWS_OPTIONS[n])));
  const done = (code: number) => setCode(code);
  const selects = (cmd: Command) => Object.values(SELECT_OPTIONS).forEach((spec) => cmd.addOption(commandOption(spec)));

  const runCmd = command('run', 'run an analysis over one file (or s3://bucket/key, or the parts of one XTC, TRR, DCD or NetCDF trajectory, in order) on worker threads').argument(
    '<input...>',
    'a file, s3://bucket/key, or the parts of one trajectory in frame order (part1.xtc part2.xtc ...)',
  );
  local(runCmd);
  selects(runCmd);
  Object.values(REFERENCE_OPTIONS).forEach((spec) => runCmd.addOption(commandOption(spec)));
  output(runCmd, ['json', 'out', 'progress', 'quiet']);
  runCmd.addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  fanout run md.xtc --analysis rg                                   radius of gyration of every frame (Å)',
      '  fanout run md.part1.xtc md.part2.xtc --analysis mean-structure    a trajectory in parts, in frame order',
      '  fanout run md.xtc --analysis rmsd --topology md.gro --select backbone',
      '  fanout run md.dcd --analysis rmsf --topology md.psf --select "name CA" --out rmsf.json',
      '  fanout run md.xtc --analysis rdf --topology md.gro --select "name OW" --select2 "name OW"',
      '  fanout run data.csv --analysis stats                              per-column statistics (header detected)',
      '  fanout run data.npy --analysis row-sums --json > result.json',
      '',
      'Ctrl-C, then the same command again: resumes from the slices already done (state in --state-dir).',
      'fanout report <job> draws a finished job; the job id ends the summary\'s first line.',
    ].join('\n'),
  );
  runCmd.action(async (inputs: string[], values: Record<string, unknown>) => {
    const selections = await resolveSelections(values);
    const opts = runOptionsFrom({ ...(jobValues(values, localOptionNames) as LocalOptions), ...selections.options });
    await run(inputs, { ...opts, topology: selections.topology, analysisOptions: await referenceOptions(opts.analysisOptions ?? {}, values) }, values);
    done(0);
  });

  const demoCmd = command('demo', 'write a sample trajectory (.npy) and run row-sums over it with a progress bar')
    .addOption(commanderOption({ kind: 'int', valueName: 'N', default: 4000, help: 'frames of 50 x 100 float64 to write' }, '--frames', 'input'))
    .addOption(jobOption('workers'))
    .addOption(jobOption('slices'))
    .addOption(jobOption('stateDir'));
  output(demoCmd, ['json', 'out', 'quiet']);
  demoCmd.action(async (values: Record<string, unknown> & { frames?: number }) => {
    const frames = values.frames ?? 4000;
    const opts = runOptionsFrom({ ...(jobValues(values, ['workers', 'slices', 'stateDir']) as LocalOptions), analysis: 'row-sums' });
    const path = join(opts.stateDir, 'demo', `trajectory-${frames}x50x100.npy`);
    if (await demoTrajectoryExists(path, frames)) process.stderr.write(`Using the sample trajectory written before: ${path}\n`);
    else {
      process.stderr.write(`Writing a sample trajectory (${frames} frames of 50 x 100 float64) to ${path}\n`);
      await writeDemoTrajectory(path, frames);
    }
    process.stderr.write(`Running: fanout run ${path} --analysis row-sums --progress\n`);
    await run([path], opts, { ...values, progress: true });
    done(0);
  });

  const reportCmd = command('report', 'one self-contained HTML page (or SVG charts) about a finished job')
    .argument('<job>', 'a result.json, a job id in the state dir, or s3://bucket/jobs/<id>/')
    .addOption(commandOption({ ...OUTPUT_OPTIONS.out, help: 'the HTML page (default fanout-report-<job>.html)' }))
    .addOption(commandOption({ kind: 'string', flag: '--svg', valueName: 'DIR', help: 'write the charts as SVG files into DIR', group: 'output' }))
    .addOption(jobOption('stateDir'));
  output(reportCmd, ['json', 'quiet']);
  reportCmd.action(async (_: string, values: Record<string, unknown>, cmd: Command) => {
    const { reportCommand } = await import('./report-command.ts');
    done(await reportCommand(cmd.args, values));
  });

  const planCmd = command('plan', 'how a job would be cut, locally and on AWS, and what it would cost there, without scanning')
    .argument('[input...]', 'a file, s3://bucket/key, or the parts of one trajectory in frame order (as for run), unless --bytes gives a size');
  local(planCmd);
  selects(planCmd);
  aws(planCmd, ['bytes', 'region', 'memory', 'fanin']);
  output(planCmd, ['json']);
  planCmd.action(async (_: string[], values: Record<string, unknown>, cmd: Command) => {
    const { planCommand } = await import('./plan-command.ts');
    const selections = await resolveSelections(values);
    done(await planCommand(cmd.args, values, { ...runOptionsFrom({ ...(jobValues(values, localOptionNames) as LocalOptions), ...selections.options }), topology: selections.topology }));
  });

  const submitCmd = command('submit', 'upload a file (or the parts of one trajectory) to the fanout bucket and follow its job on AWS to the result').argument(
    '<input...>',
    'a file, or the parts of one trajectory (XTC, TRR, DCD, NetCDF) in frame order (uploaded with the job file that lists them)',
  );
  cloud(submitCmd);
  selects(submitCmd);
  // A local-only option on AWS is a mistake worth explaining, not an unknown flag.
  submitCmd.addOption(
    jobOption('slices')
      .hideHelp()
      .argParser(() => {
        throw new UsageError('--slices is for local runs; on AWS the slice count follows --slice-bytes');
      }),
  );
  aws(submitCmd, ['bucket', 'stack', 'key', 'detach', 'timeout']);
  output(submitCmd, ['json', 'progress', 'quiet']);
  submitCmd.action(async (_: string[], values: Record<string, unknown>, cmd: Command) => {
    const { submitCommand } = await import('./submit-command.ts');
    // Expressions are resolved here: the upload carries ranges (fanout-atoms, ...), never a topology.
    const selections = await resolveSelections(values);
    const options = { ...(jobValues(values, cloudOptionNames) as JobOptions), ...selections.options };
    if (cmd.args.length === 1) await checkBeforeUpload(cmd.args[0]!, options, selections);
    done(await submitCommand(cmd.args, { ...values, ...options }));
  });

  const statusCmd = command('status', 'where a job on AWS stands (exit 0 done, 3 running, 2 failed or superseded); --timeout waits for it to end').argument('<job>', 'a job id or s3://bucket/input/key');
  aws(statusCmd, ['bucket', 'stack', 'timeout']);
  output(statusCmd, ['json', 'quiet']);
  statusCmd.action(async (_: string, values: Record<string, unknown>, cmd: Command) => {
    const { statusCommand } = await import('./submit-command.ts');
    done(await statusCommand(cmd.args, values));
  });

  const redriveCmd = command('redrive', 'run a failed job on AWS again: only its slices without a partial, then its result (refused for a done, superseded or running job)').argument(
    '<job>',
    'a job id or s3://bucket/input/key',
  );
  aws(redriveCmd, ['bucket', 'stack', 'detach', 'timeout']);
  output(redriveCmd, ['json', 'progress', 'quiet']);
  redriveCmd.action(async (_: string, values: Record<string, unknown>, cmd: Command) => {
    const { redriveCommand } = await import('./redrive-command.ts');
    done(await redriveCommand(cmd.args, values));
  });

  const devCmd = command('dev', "run the cloud pipeline's functions against an S3-compatible endpoint (moto, LocalStack) until Ctrl-C");
  devCmd.addHelpText('after', '\nUpload under input/ of the bucket; results appear under results/. The job options set the deployment defaults.');
  aws(devCmd, ['endpoint', 'bucket', 'fanin']);
  cloud(devCmd);
  devCmd.action(async (values: Record<string, unknown>) => {
    const { devCommand } = await import('./dev-command.ts');
    done(await devCommand({ endpoint: values.endpoint as string | undefined, bucket: values.bucket as string | undefined, fanin: values.fanin as number | undefined }, jobValues(values, cloudOptionNames)));
  });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  try {
    await buildProgram((c) => (code = c)).parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return commanderExit(e);
    return reportError(e);
  }
}

/** Help and version exit 0; no command prints the help and exits 2; any other parse error is one line, exit 2. */
function commanderExit(e: CommanderError): number {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
  if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync') return 2;
  // Commander writes `error: unknown option ...`: every other message is `fanout: <what>`.
  const message = e.message.replace(/^error: /, '').replace(/\n\(Did you mean (.*)\?\)$/, ' (did you mean $1?)').replace(/\n/g, ' ');
  process.stderr.write(`fanout: ${message}\n`);
  return 2;
}

function reportError(e: unknown): number {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof FanoutError) {
    process.stderr.write(`fanout: ${err.message}\n`);
    return 2;
  }
  if (err?.code === 'ENOENT' || err?.code === 'EACCES' || err?.code === 'EISDIR') {
    process.stderr.write(`fanout: ${err.path ?? ''}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : 'permission denied'}\n`);
    return 2;
  }
  const reason = userFacingCloudError(e);
  if (reason) {
    process.stderr.write(`fanout: ${reason}\n`);
    return 2;
  }
  process.stderr.write(`fanout: internal error: ${err?.stack ?? String(e)}\n`);
  return 1;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * What a user can fix about talking to AWS (or moto, LocalStack): an endpoint that does
 * not answer, missing credentials, a service's refusal (no such bucket, access denied).
 */
function userFacingCloudError(e: unknown): string | undefined {
  const err = e as { name?: string; message?: string; code?: string; address?: string; port?: number; errors?: unknown[]; $metadata?: { httpStatusCode?: number } };
  if (typeof err !== 'object' || err === null) return undefined;
  // Node's fetch and the SDK's HTTP handler may wrap the socket error (AggregateError for several addresses).
  const socket = [err, ...(Array.isArray(err.errors) ? err.errors : [])].find((x) => NETWORK_CODES.has((x as { code?: string })?.code ?? '')) as typeof err | undefined;
  if (socket) {
    const where = socket.address ? `${socket.address}${socket.port ? `:${socket.port}` : ''}` : process.env.AWS_ENDPOINT_URL ?? 'AWS';
    return `cannot reach ${where} (${socket.code}): check AWS_ENDPOINT_URL, the region and the network`;
  }
  if (err.name === 'CredentialsProviderError') return `no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (${err.message})`;
  if (err.$metadata && err.name) {
    const status = err.$metadata.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : '';
    return `AWS refused the request: ${err.name}${status}${err.message && err.message !== err.name && err.message !== 'UnknownError' ? `: ${err.message}` : ''}`;
  }
  return undefined;
}
