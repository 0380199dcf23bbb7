// Renders a mini-program *page* in Node with the official miniprogram-simulate (+ j-component,
// wcc), per docs/wechat-platform.md#testing-without-devtools: jsdom globals, `global.wx` defined before the simulate
// module loads, a Page→Component shim, and WeChat's own `require` resolution for npm packages
// (miniprogram_npm/ only — never node_modules), so the page loads exactly what Build npm made.
import { createRequire, builtinModules } from 'node:module';
import Module from 'node:module';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
// jsdom ships no types (and @types/jsdom is not installed): the little we use, typed here.
const { JSDOM } = require('jsdom') as {
  JSDOM: new (html: string, opts?: object) => { window: Window & typeof globalThis & { close(): void } };
};

// DOM classes j-component/exparser touch; Node 20 has its own Event/EventTarget/CustomEvent,
// which jsdom's dispatchEvent rejects ("parameter 1 is not of type 'Event'").
const DOM_GLOBALS = [
  'window', 'document', 'navigator', 'Node', 'Element', 'HTMLElement', 'Text', 'Comment', 'DocumentFragment',
  'Event', 'CustomEvent', 'EventTarget', 'TouchEvent', 'MouseEvent', 'UIEvent', 'getComputedStyle',
  'requestAnimationFrame', 'cancelAnimationFrame', 'MutationObserver',
] as const;

/**
 * The official WXML compiler (wcc) ships as an x86-64 binary on Linux; elsewhere on Linux use
 * miniprogram-simulate's pure-JS compiler (less faithful, so say so).
 */
export const WXML_COMPILER: 'official' | 'simulate' =
  process.platform === 'linux' && process.arch !== 'x64' ? 'simulate' : 'official';
if (WXML_COMPILER === 'simulate') console.warn(`!!! miniprogram-simulate: no wcc for linux-${process.arch}; using the pure-JS WXML compiler`);

export interface SimulatedComponent {
  dom: HTMLElement;
  querySelector(sel: string): SimulatedComponent | undefined;
  querySelectorAll(sel: string): SimulatedComponent[];
  dispatchEvent(name: string, opts?: object): void;
  attach(parent: Element): void;
  detach(): void;
  instance: { data: Record<string, unknown> };
}
export interface Simulate {
  load(componentPath: string, opts?: { compiler?: 'official' | 'simulate'; rootPath?: string }): string;
  render(id: string, props?: object): SimulatedComponent;
}

export interface MiniprogramEnv {
  simulate: Simulate;
  /** Loads `<mpRoot>/<pagePath>` as a page and attaches it; onLoad receives `query`. */
  renderPage(pagePath: string, query?: Record<string, string>): SimulatedComponent;
  restore(): void;
}

/**
 * WeChat resolves `require('<name>[/sub]')` (a non-relative path) only inside miniprogram_npm/
 * directories, from the requiring file's folder up to the miniprogram root; there is no Node
 * built-in module. This hook does the same for files under `mpRoot` and throws otherwise, so a
 * page that would crash on a phone crashes here too.
 */
export function installMiniprogramRequire(mpRoot: string): () => void {
  const M = Module as unknown as { _resolveFilename: (...a: any[]) => string };
  const orig = M._resolveFilename;
  const root = path.resolve(mpRoot);
  const builtins = new Set(builtinModules);
  M._resolveFilename = function (this: unknown, request: string, parent: { filename?: string } | undefined, ...rest: any[]) {
    const from = parent?.filename;
    const bare = !request.startsWith('.') && !path.isAbsolute(request);
    if (!from || !bare || !from.startsWith(root + path.sep)) return orig.call(this, request, parent, ...rest);
    if (request.startsWith('node:') || builtins.has(request)) {
      throw Object.assign(new Error(`mini program code requires Node built-in "${request}" (from ${from})`), { code: 'MODULE_NOT_FOUND' });
    }
    for (let dir = path.dirname(from); dir.startsWith(root); dir = path.dirname(dir)) {
      const base = path.join(dir, 'miniprogram_npm', request);
      for (const candidate of [`${base}.js`, path.join(base, 'index.js'), base]) {
        if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
      }
      if (dir === root) break;
    }
    throw Object.assign(new Error(`module "${request}" is not in any miniprogram_npm/ between ${path.dirname(from)} and ${root} — run Build npm`), {
      code: 'MODULE_NOT_FOUND',
    });
  } as typeof orig;
  return () => {
    M._resolveFilename = orig;
  };
}

/**
 * Prepares this process to render pages of the mini program at `mpRoot` with `wx` as the
 * platform API (only what you pass; miniprogram-simulate's inert mock fills in the rest).
 * One per process: miniprogram-simulate keeps module-level state.
 */
export function setupMiniprogramEnv({ mpRoot, wx }: { mpRoot: string; wx: Record<string, unknown> }): MiniprogramEnv {
  const g = globalThis as Record<string, any>;
  const saved = new Map<string, PropertyDescriptor | undefined>();
  const setGlobal = (name: string, value: unknown) => {
    if (!saved.has(name)) saved.set(name, Object.getOwnPropertyDescriptor(g, name));
    Object.defineProperty(g, name, { value, configurable: true, writable: true, enumerable: true });
  };

  const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { pretendToBeVisual: true, url: 'https://servicewechat.com/' });
  for (const name of DOM_GLOBALS) {
    const v = (dom.window as any)[name];
    setGlobal(name, typeof v === 'function' && /^[a-z]/.test(name) ? v.bind(dom.window) : v);
  }
  // Before miniprogram-simulate loads: it does `global.wx = Object.assign(itsMock, global.wx)`.
  setGlobal('wx', wx);
  const simulate = require('miniprogram-simulate') as Simulate;
  const uninstallRequire = installMiniprogramRequire(mpRoot);

  let query: Record<string, string> = {};
  // miniprogram-simulate knows Component only: register a Page as a component whose
  // attached/detached run the page's onLoad+onShow / onUnload (docs/wechat-platform.md#testing-without-devtools).
  setGlobal('Page', (o: Record<string, any>) => {
    const { data, onLoad, onShow, onReady, onUnload, ...rest } = o;
    const methods: Record<string, Function> = {};
    for (const k of Object.keys(rest)) if (typeof rest[k] === 'function') methods[k] = rest[k];
    g.Component({
      data,
      methods,
      lifetimes: {
        attached(this: unknown) {
          onLoad?.call(this, { ...query });
          onShow?.call(this);
        },
        ready(this: unknown) {
          onReady?.call(this);
        },
        detached(this: unknown) {
          onUnload?.call(this);
        },
      },
    });
  });
  setGlobal('getApp', () => ({}));

  return {
    simulate,
    renderPage(pagePath, q = {}) {
      query = q;
      const id = simulate.load(path.join(mpRoot, pagePath), { compiler: WXML_COMPILER, rootPath: mpRoot });
      const comp = simulate.render(id);
      if (!comp) throw new Error(`miniprogram-simulate rendered nothing for ${pagePath}`);
      comp.attach(document.createElement('parent-wrapper'));
      return comp;
    },
    restore() {
      uninstallRequire();
      for (const [name, desc] of saved) {
        if (desc) Object.defineProperty(g, name, desc);
        else delete g[name];
      }
      dom.window.close();
    },
  };
}
