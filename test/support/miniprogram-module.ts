// Runs a bundled CommonJS module the way WeChat does: in a fresh realm with only the ECMAScript
// intrinsics, timers and console, wrapped in define()'s parameter list so window/self/WebSocket
// are declared but undefined, and Event/Blob/process/URL/TextEncoder absent. Every free
// identifier the code looks up is recorded (a `with` probe in front of the global), as are
// timers, Math.random calls and writes to the global object.
// Used by the end-to-end suites (built miniprogram_dist, reconnecting-websocket) and by
// packages/client's unit tests (the bundled src); only node:fs and node:vm, no `ws`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

// WeChat's module wrapper parameters (base library 2.x/3.x).
const WRAPPER_PARAMS =
  'require, module, exports, window, document, frames, self, location, navigator, localStorage, history, Caches, screen, alert, confirm, prompt, XMLHttpRequest, WebSocket, Reporter, webkit, WeixinJSCore';

export interface LoadedModule<T = any> {
  exports: T;
  context: vm.Context;
  /** Free identifiers the module looked up, since it was loaded. */
  reads: Set<string>;
  /** Free identifiers looked up while the module body ran (import time). */
  importReads: Set<string>;
  /** Math.random calls and timers started while the module body ran. */
  randomAtImport: number;
  timersAtImport: number;
  /** Properties the module added to the global object. */
  globalWrites(): string[];
}

/**
 * Runs `code` (a CommonJS bundle) as a WeChat module. `filename` names it in stack traces;
 * `globals` become globals of the realm (e.g. { wx: shim }); timers and console are real.
 * `modules`: what require(id) gives, for bundles that load a sibling (messaging.js requires
 * './index.js'); any other require throws.
 */
export function runMiniprogramModule<T = any>(code: string, filename: string, globals: Record<string, unknown> = {}, modules: Record<string, unknown> = {}): LoadedModule<T> {
  const reads = new Set<string>();
  const importReads = new Set<string>();
  let importing = true;
  let timersAtImport = 0;
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
  const counted =
    <F extends (...a: any[]) => any>(fn: F) =>
    (...a: Parameters<F>): ReturnType<F> => {
      if (importing) timersAtImport++;
      return fn(...a);
    };
  const context = vm.createContext({
    console,
    setTimeout: counted(setTimeout),
    clearTimeout,
    setInterval: counted(setInterval),
    clearInterval,
    ...globals,
    __probe: probe,
  });
  const before = new Set(Object.getOwnPropertyNames(context));
  vm.runInContext('var __random = 0, __r = Math.random; Math.random = function () { __random++; return __r(); };', context);
  const module = { exports: {} as T };
  context.__module = module;
  context.__require = (id: string) => {
    if (id in modules) return modules[id];
    throw new Error(`require(${id}) in a mini-program bundle`);
  };
  vm.runInContext(
    `with (__probe) { (function (${WRAPPER_PARAMS}) {\n${code}\n}).call(undefined, __require, __module, __module.exports) }`,
    context,
    { filename },
  );
  importing = false;
  const randomAtImport = vm.runInContext('__random', context) as number;
  const harness = new Set(['__random', '__r', '__module', '__require']);
  return {
    exports: module.exports,
    context,
    reads,
    importReads,
    randomAtImport,
    timersAtImport,
    globalWrites: () => Object.getOwnPropertyNames(context).filter((k) => !before.has(k) && !harness.has(k)),
  };
}

/** Reads a built CommonJS file (e.g. packages/client/miniprogram_dist/index.js) and runs it as above. */
export function loadMiniprogramModule<T = any>(file: string, globals: Record<string, unknown> = {}, modules: Record<string, unknown> = {}): LoadedModule<T> {
  return runMiniprogramModule<T>(readFileSync(file, 'utf8'), file, globals, modules);
}

/**
 * miniprogram_dist/messaging.js the way an app gets it: its sibling index.js loaded first, then
 * messaging.js with require('./index.js') answered by it (each in its own realm here; WeChat
 * shares one, which only makes `instanceof` across the two files work there too).
 */
export function loadMiniprogramMessaging<T = any>(dir: string, globals: Record<string, unknown> = {}): { core: LoadedModule; messaging: LoadedModule<T> } {
  const core = loadMiniprogramModule(path.join(dir, 'index.js'), globals);
  const messaging = loadMiniprogramModule<T>(path.join(dir, 'messaging.js'), globals, { './index.js': core.exports });
  return { core, messaging };
}
