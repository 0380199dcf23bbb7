#!/usr/bin/env node
// The README's two commands (`npm start`, `npm test`) land here, so they work on a fresh
// machine that has only Node: we find or fetch pnpm ourselves, install, build, then act.
// Corepack may refuse pnpm with "No compatible signature found in package metadata" on some
// registries/mirrors; COREPACK_INTEGRITY_KEYS=0 gets past it, and npx is the last resort.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const pnpmVersion = pkg.packageManager.split('@')[1];
const env = {
  ...process.env,
  COREPACK_INTEGRITY_KEYS: process.env.COREPACK_INTEGRITY_KEYS ?? '0',
  COREPACK_ENABLE_DOWNLOAD_PROMPT: '0',
  COREPACK_ENABLE_STRICT: '0',
};

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function works(cmd, args) {
  const r = spawnSync(cmd, [...args, '--version'], { cwd: root, env, encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() === pnpmVersion;
}

function findPnpm() {
  const candidates = [
    ['pnpm', []],
    ['corepack', ['pnpm']],
    ['npx', ['--yes', `pnpm@${pnpmVersion}`]],
  ];
  for (const [cmd, args] of candidates) if (works(cmd, args)) return [cmd, args];
  // A different pnpm on PATH is still better than nothing; pnpm honours packageManager itself.
  if (spawnSync('pnpm', ['--version'], { env }).status === 0) return ['pnpm', []];
  console.error(`Could not run pnpm ${pnpmVersion} (tried pnpm, corepack pnpm, npx pnpm@${pnpmVersion}).`);
  process.exit(1);
}

const [action = 'test', ...rest] = process.argv.slice(2);
const [pnpmCmd, pnpmArgs] = findPnpm();
const pnpm = (...args) => run(pnpmCmd, [...pnpmArgs, ...args]);

const ci = process.env.CI === 'true' || process.env.CI === '1';
if (pnpm('install', ci ? '--frozen-lockfile' : '--prefer-offline') !== 0) process.exit(1);
if (pnpm('-r', '--workspace-concurrency=1', 'run', 'build') !== 0) process.exit(1);

switch (action) {
  case 'start':
    // The embedded default: a generated dev certificate on localhost, port 8282, the browser
    // demo page at https://localhost:8282/, and the messaging protocol for the mini program demo
    // (clients that do not offer it, like the browser demo, keep the plain echo).
    process.exit(run(process.execPath, [
      path.join(root, 'packages/server/dist/cli.js'),
      '--dev-cert',
      '--messaging',
      ...(rest.length ? rest : ['--static', path.join(root, 'apps/demo-web/dist')]),
    ]));
    break; // process.exit() does not return; the break tells readers (and the linter) so
  case 'test':
    process.exit(run(process.execPath, [path.join(root, 'scripts/test.mjs'), ...rest]));
    break;
  case 'bench':
    process.exit(run(process.execPath, [path.join(root, 'test/bench/run.mjs'), ...rest]));
    break;
  case 'check':
    // tsup and tsx strip types without checking them: tsc checks every package and the tests,
    // then Biome lints (rules and why some are off: biome.jsonc).
    if (pnpm('-r', '--workspace-concurrency=1', 'run', 'typecheck') !== 0) process.exit(1);
    process.exit(run(path.join(root, 'node_modules/.bin/biome'), ['lint', '--error-on-warnings', '.']));
    break;
  default:
    console.error(`unknown action ${action}: use start, test, bench or check`);
    process.exit(2);
}
