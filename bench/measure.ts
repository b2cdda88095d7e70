/**
 * Timing whole processes for the benchmarks: wall time here, CPU time and peak RSS from
 * /usr/bin/time (or /proc polling without it). Shared by bench/run.ts and bench/md.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

export const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

export interface Sample {
  wallS: number;
  cpuS: number;
  rssMB: number;
  stdout: string;
}

/** Runs one process to completion; peak RSS and CPU from /usr/bin/time, else from /proc polling. */
export async function measure(argv: string[]): Promise<Sample> {
  const statsFile = join(tmpdir(), `fanout-bench-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  const [cmd, ...rest] = TIME ? [TIME, '-f', '%U %S %M', '-o', statsFile, ...argv] : argv;
  const started = process.hrtime.bigint();
  let peakKB = 0;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(cmd!, rest, { cwd: ROOT, env: { ...process.env, FANOUT_BUNDLE: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const poll = TIME
      ? undefined
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) peakKB = Math.max(peakKB, Number(m[1]));
          } catch {
            // the process has exited
          }
        }, 20);
    child.on('close', (c) => {
      if (poll) clearInterval(poll);
      done({ code: c, stdout: out, stderr: err });
    });
  });
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  let cpuS = NaN;
  if (TIME) {
    const [user, sys, kb] = readFileSync(statsFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    rmSync(statsFile, { force: true });
    cpuS = user! + sys!;
    peakKB = kb!;
  }
  return { wallS, cpuS, rssMB: peakKB / 1024, stdout };
}


export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** One command of a benchmark, on one input file. */
export interface Tool {
  name: string;
  argv: (file: string) => string[];
  /** the total the tool computed, to check that every tool read the same numbers */
  total: (stdout: string) => number;
  /** before and after each run: a fresh folder of its own, and its removal */
  before?: () => void;
  after?: () => void;
}

export interface Row {
  dataset: string;
  mb: number;
  tool: string;
  wall: number[];
  cpu: number[];
  rss: number[];
  total: number;
}

/** Runs every tool `rounds` times on `file`, the tools taking turns so that a change in the machine's load hits them alike. */
export async function takeTurns(dataset: string, file: string, tools: Tool[], rounds: number): Promise<Row[]> {
  const mb = statSync(file).size / 1e6;
  const rows: Row[] = tools.map((t) => ({ dataset, mb, tool: t.name, wall: [], cpu: [], rss: [], total: NaN }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, tool] of tools.entries()) {
      tool.before?.();
      const s = await measure(tool.argv(file));
      tool.after?.();
      rows[i]!.wall.push(s.wallS);
      rows[i]!.cpu.push(s.cpuS);
      rows[i]!.rss.push(s.rssMB);
      rows[i]!.total = tool.total(s.stdout);
      process.stderr.write(`  ${dataset} | ${tool.name}: ${s.wallS.toFixed(2)} s, cpu ${s.cpuS.toFixed(2)} s, ${s.rssMB.toFixed(0)} MB\n`);
    }
  }
  return rows;
}
