#!/usr/bin/env node
// `pnpm bench` entry (scripts/run.mjs builds everything first, then runs this with the user's
// arguments). The suite is TypeScript; run it through tsx from the repository root.
// See test/bench/README.md for the method and the options.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'test/bench/main.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
