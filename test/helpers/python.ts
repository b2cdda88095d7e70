/**
 * Oracles nobody here wrote: python3 with numpy and math.fsum. A script reads JSON
 * arguments from stdin (as `args`) and prints one JSON value.
 */
import { execFileSync } from 'node:child_process';

export function python<T = unknown>(script: string, args: unknown = null): T {
  const prelude = 'import sys, json, math\nimport numpy as np\nargs = json.loads(sys.stdin.read())\n';
  const out = execFileSync('python3', ['-c', prelude + script], { input: JSON.stringify(args), maxBuffer: 1 << 28 });
  return JSON.parse(out.toString()) as T;
}

/** Python's repr-exact float list as JSON: NaN/inf become strings so JSON stays valid. */
export const PY_DUMP = `
def dump(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, (list, tuple)):
        return [dump(v) for v in x]
    if isinstance(x, dict):
        return {k: dump(v) for k, v in x.items()}
    return x
`;

/** An exact float literal for Python's float.fromhex (NaN and the infinities by name, which float() takes). */
export function pyHex(x: number): string {
  if (x !== x) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0x0p+0' : '0x0p+0';
  const sign = x < 0 ? '-' : '';
  let m = Math.abs(x);
  let e = 0;
  while (m >= 2 ** 53) {
    m /= 2;
    e++;
  }
  while (!Number.isInteger(m)) {
    m *= 2;
    e--;
  }
  return `${sign}0x${m.toString(16)}p${e >= 0 ? '+' : ''}${e}`;
}
