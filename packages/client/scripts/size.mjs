#!/usr/bin/env node
// Size of what a WeChat app ships: miniprogram_dist/index.js bundled, minified (esbuild) and
// gzipped (level 9). Every export is kept (CommonJS cannot be tree-shaken by Build npm), so
// this is the worst case. Prints "<file> min <bytes> B, min+gz <bytes> B (budget 3072 B)".
// Usage: node scripts/size.mjs [--json] [file...]   (exits 1 over budget)
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUDGET_GZ = 3072;
const here = path.dirname(fileURLToPath(import.meta.url));

export async function measure(file) {
  const r = await build({
    entryPoints: [file],
    bundle: true,
    minify: true,
    format: 'cjs',
    target: 'es2015',
    platform: 'neutral',
    write: false,
    logLevel: 'silent',
  });
  const code = r.outputFiles[0].contents;
  return { file, min: code.length, gz: gzipSync(code, { level: 9 }).length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2).filter((a) => a !== '--json');
  const files = args.length ? args : [path.join(here, '..', 'miniprogram_dist', 'index.js')];
  const results = [];
  for (const f of files) results.push(await measure(f));
  if (process.argv.includes('--json')) console.log(JSON.stringify(results));
  else
    for (const r of results)
      console.log(`${path.relative(process.cwd(), r.file)}: min ${r.min} B, min+gz ${r.gz} B (budget ${BUDGET_GZ} B)`);
  process.exit(results[0].gz > BUDGET_GZ ? 1 : 0);
}
