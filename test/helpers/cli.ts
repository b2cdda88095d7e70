/** Runs the real fanout command in a child process. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/fanout.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function fanout(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function fanoutAsync(args: string[], options: { cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Runs `fanout run ... --json` and returns the parsed result document. */
export function runJson(args: string[], options: { cwd?: string } = {}): Record<string, unknown> & { result: Record<string, unknown> } {
  const r = fanout(['run', ...args, '--json', '--quiet'], options);
  if (r.code !== 0) throw new Error(`fanout exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export function tempDir(prefix = 'fanout-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
