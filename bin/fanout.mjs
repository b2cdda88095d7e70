#!/usr/bin/env node
// The fanout command. The sources are TypeScript, run through tsx's loader, which also
// lets users pass their own analysis as a .ts file.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
