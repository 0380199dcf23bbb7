// Loads a bundle the way WeChat runs a module: inside a fresh realm that holds only the
// ECMAScript intrinsics, timers and console, wrapped in define(path, function(require, module,
// exports, window, document, …, WebSocket, …){…}) so window/self/WebSocket are declared but
// undefined. Every free identifier the code looks up is recorded (a `with` probe in front of
// the global), as are timers, Math.random calls and writes to the global object. The realm is
// the end-to-end suites' (test/support/miniprogram-module.ts); here it runs the bundled src.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type vm from 'node:vm';
import { runMiniprogramModule } from '../../../test/support/miniprogram-module';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PACKAGE = path.resolve(here, '..');

export interface Sandbox {
  exports: any;
  importReads: string[];
  allReads(): string[];
  globalWrites(): string[];
  timersAtImport: number;
  randomAtImport: number;
  context: vm.Context;
}

/** Bundles src/miniprogram.ts like the build does (or takes `code`) and loads it in a sandbox. */
export async function loadInWechatSandbox(code?: string): Promise<Sandbox> {
  if (code === undefined) {
    const r = await build({
      entryPoints: [path.join(PACKAGE, 'src/miniprogram.ts')],
      bundle: true,
      format: 'cjs',
      target: 'es2015',
      platform: 'neutral',
      write: false,
      logLevel: 'silent',
    });
    code = r.outputFiles[0]!.text;
  }
  const m = runMiniprogramModule(code, 'miniprogram_npm/wss-mp-client/index.js');
  return {
    exports: m.exports,
    importReads: [...m.importReads],
    allReads: () => [...m.reads],
    globalWrites: m.globalWrites,
    timersAtImport: m.timersAtImport,
    randomAtImport: m.randomAtImport,
    context: m.context,
  };
}

export function readDist(rel: string): string {
  return readFileSync(path.join(PACKAGE, rel), 'utf8');
}
