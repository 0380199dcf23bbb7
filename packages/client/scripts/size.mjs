#!/usr/bin/env node
// Size of what a WeChat app ships: Build npm copies miniprogram_dist/ verbatim, so the figure
// is the built miniprogram_dist/index.js exactly as it is (already bundled and minified),
// gzipped at level 9. Every export is in it (Build npm cannot tree-shake CommonJS), so this
// is the worst case. Prints "<file>: <bytes> B, gzip <bytes> B (budget 3584 B)".
// messaging.js has its own budget (3 KB on top of the core).
// Usage: node scripts/size.mjs [--json] [file...]   (exits 1 over budget)
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** 3.5 KB: the budget for the WeChat build (gzip). */
export const BUDGET_GZ = 3584;
/** 3 KB: miniprogram_dist/messaging.js on top of the core (it requires index.js, never copies it). */
export const MESSAGING_BUDGET_GZ = 3072;
const here = path.dirname(fileURLToPath(import.meta.url));

export function measure(file) {
  const code = readFileSync(file);
  return { file, bytes: code.length, gz: gzipSync(code, { level: 9 }).length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2).filter((a) => a !== '--json');
  const files = args.length ? args : [path.join(here, '..', 'miniprogram_dist', 'index.js')];
  const results = files.map(measure).map((r) => ({ ...r, budget: /messaging\.js$/.test(r.file) ? MESSAGING_BUDGET_GZ : BUDGET_GZ }));
  if (process.argv.includes('--json')) console.log(JSON.stringify(results));
  else
    for (const r of results)
      console.log(`${path.relative(process.cwd(), r.file)}: ${r.bytes} B, gzip ${r.gz} B (budget ${r.budget} B)`);
  process.exit(results.some((r) => r.gz > r.budget) ? 1 : 0);
}
