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
