#!/usr/bin/env node
// Runs every *.test.ts in the workspace with node's own test runner (through tsx), so the
// run ends with node's summary lines. Unit tests import src; end-to-end tests under test/
// use the built packages, so build first (`npm test` does).
// Usage: node scripts/test.mjs [filter...]  — only files whose path contains a filter.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const skip = new Set(['node_modules', 'dist', 'miniprogram_dist', 'miniprogram_npm', '.git', 'bench']);

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = [];
for (const base of ['packages', 'apps', 'test']) walk(path.join(root, base), files);
const filters = process.argv.slice(2);
const chosen = files
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    // 3 files at once on 2 cores: the loss matrix spends its minute waiting on timers (a 60 s
    // suspension), so a third slot keeps the cores busy (measured: 3m31 → 2m15, all green).
    `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 3}`,
    '--test-timeout=180000',
    '--test-reporter=spec',
    ...chosen.map((f) => path.relative(root, f)),
  ],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status ?? 1);
