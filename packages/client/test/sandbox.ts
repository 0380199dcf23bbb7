// Loads a bundle the way WeChat runs a module: inside a fresh realm that holds only the
// ECMAScript intrinsics, timers and console, wrapped in define(path, function(require, module,
// exports, window, document, …, WebSocket, …){…}) so window/self/WebSocket are declared but
// undefined. Every free identifier the code looks up is recorded (a `with` probe in front of
// the global), as are timers, Math.random calls and writes to the global object.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PACKAGE = path.resolve(here, '..');

// The parameter list of WeChat's module wrapper (base library 2.x/3.x).
const WRAPPER_PARAMS =
  'require, module, exports, window, document, frames, self, location, navigator, localStorage, history, Caches, screen, alert, confirm, prompt, XMLHttpRequest, WebSocket, Reporter, webkit, WeixinJSCore';

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
  const reads = new Set<string>();
  let importing = true;
  const importReads = new Set<string>();
  const probe = new Proxy(
    {},
    {
      has(_t, k) {
        if (typeof k === 'string' && !k.startsWith('__')) {
          reads.add(k);
          if (importing) importReads.add(k);
        }
        return false;
      },
    },
  );
  let timers = 0;
  const count =
    <T extends (...a: any[]) => any>(fn: T) =>
    (...a: Parameters<T>) => {
      timers++;
      return fn(...a);
    };
  const context = vm.createContext({
    console,
    setTimeout: count(setTimeout),
    clearTimeout,
    setInterval: count(setInterval),
    clearInterval,
    __probe: probe,
    __define: undefined as unknown,
  });
  const before = new Set(Object.getOwnPropertyNames(context));
  vm.runInContext('var __random = 0; var __r = Math.random; Math.random = function () { __random++; return __r(); };', context);
  const module = { exports: {} as any };
  context.__module = module;
  vm.runInContext(
    `with (__probe) { (function (${WRAPPER_PARAMS}) {\n${code}\n}).call(undefined, function () { throw new Error('no require in a bundle'); }, __module, __module.exports) }`,
    context,
    { filename: 'miniprogram_npm/wss-mp-client/index.js' },
  );
  importing = false;
  const timersAtImport = timers;
  const randomAtImport = vm.runInContext('__random', context) as number;
  const harness = new Set(['__random', '__r', '__module']);
  return {
    exports: module.exports,
    importReads: [...importReads],
    allReads: () => [...reads],
    globalWrites: () => Object.getOwnPropertyNames(context).filter((k) => !before.has(k) && !harness.has(k)),
    timersAtImport,
    randomAtImport,
    context,
  };
}

export function readDist(rel: string): string {
  return readFileSync(path.join(PACKAGE, rel), 'utf8');
}
