// "Build npm" for the demo mini program, the official way: miniprogram-ci's packNpmManually
// from the monorepo root (whose `dependencies` list wss-mp-client, docs/wechat-platform.md#build-npm)
// into apps/demo-miniprogram/miniprogram/miniprogram_npm/ — what DevTools does with the
// project's packNpmRelationList. Also a CLI: `pnpm demo:pack` (root) runs this file.
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as acorn from 'acorn';
import { ROOT } from './server';

export const DEMO_MP_DIR = path.join(ROOT, 'apps/demo-miniprogram');
export const DEMO_MP_ROOT = path.join(DEMO_MP_DIR, 'miniprogram');
export const DEMO_MP_NPM = path.join(DEMO_MP_ROOT, 'miniprogram_npm');

const require = createRequire(import.meta.url);

export interface WarnItem {
  jsPath?: string;
  msg?: string;
  tips?: string;
  code?: string;
}
export interface PackResult {
  miniProgramPackNum: number;
  otherNpmPackNum: number;
  warnList: WarnItem[];
}
export interface PackRun {
  result: PackResult;
  /** Time to require('miniprogram-ci') (cached after the first call in a process). */
  loadMs: number;
  packMs: number;
  npmDir: string;
}

let ciCache: { ci: any; loadMs: number } | undefined;
export function loadCi(): { ci: any; loadMs: number } {
  if (!ciCache) {
    const t = Date.now();
    // miniprogram-ci logs "[miniprogram-builder] initservices CI" on load; harmless.
    const ci = require('miniprogram-ci');
    ciCache = { ci, loadMs: Date.now() - t };
  }
  return ciCache;
}

/** Cleans miniprogram_npm/ and runs ci.packNpmManually exactly as DevTools' Build npm would. */
export async function packDemoNpm(): Promise<PackRun> {
  const { ci, loadMs } = loadCi();
  // packNpmManually copies over what is there and never deletes: start clean so a stale
  // file cannot make the checks pass.
  rmSync(DEMO_MP_NPM, { recursive: true, force: true });
  const t = Date.now();
  const result = (await ci.packNpmManually({
    packageJsonPath: path.join(ROOT, 'package.json'),
    miniprogramNpmDistDir: DEMO_MP_ROOT + path.sep,
  })) as PackResult;
  return { result, loadMs, packMs: Date.now() - t, npmDir: DEMO_MP_NPM };
}

let packed: Promise<PackRun> | undefined;
/** packDemoNpm once per process (the page test reuses the Build npm test's output). */
export function ensureDemoPacked(): Promise<PackRun> {
  return (packed ??= packDemoNpm());
}

export function listFiles(dir: string, ext?: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p, ext));
    else if (!ext || name.endsWith(ext)) out.push(p);
  }
  return out.sort();
}

export interface ScriptCheck {
  file: string;
  /** acorn's message if the file is not an ES2015 script, else null. */
  parseError: string | null;
  /** Arguments of every `require(...)` call ('<dynamic>' when not a string literal). */
  requires: string[];
}

/** Parses `file` as an ES2015 script (what an old base library runs) and lists its requires. */
export function checkEs2015Script(file: string): ScriptCheck {
  const src = readFileSync(file, 'utf8');
  let ast: acorn.Node;
  try {
    ast = acorn.parse(src, { ecmaVersion: 2015, sourceType: 'script', allowHashBang: false });
  } catch (err) {
    return { file, parseError: (err as Error).message, requires: [] };
  }
  const requires: string[] = [];
  const walk = (node: any) => {
    if (!node || typeof node.type !== 'string') return;
    if (node.type === 'CallExpression' && node.callee?.type === 'Identifier' && node.callee.name === 'require') {
      const a = node.arguments[0];
      requires.push(a && a.type === 'Literal' && typeof a.value === 'string' ? a.value : '<dynamic>');
    }
    for (const key of Object.keys(node)) {
      const v = node[key];
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v.type === 'string') walk(v);
    }
  };
  walk(ast);
  return { file, parseError: null, requires };
}

// CLI: node --import tsx test/support/pack-npm.ts
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  packDemoNpm().then(
    ({ result, loadMs, packMs, npmDir }) => {
      const files = listFiles(npmDir).map((f) => path.relative(DEMO_MP_DIR, f));
      console.log(`packNpmManually: ${result.miniProgramPackNum} miniprogram package(s), ${result.otherNpmPackNum} other, ` +
        `${result.warnList.length} warning(s) in ${packMs} ms (+${loadMs} ms loading miniprogram-ci)`);
      for (const f of files) console.log(`  ${f}`);
      for (const w of result.warnList) console.error(`  warning: ${w.msg} ${w.jsPath ?? ''} ${w.tips ?? ''}`);
      process.exit(result.warnList.length === 0 && files.some((f) => f.endsWith('wss-mp-client/index.js')) ? 0 : 1);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
