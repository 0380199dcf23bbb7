// The packed wss-mp-client tarball, installed the way npm installs a package without
// dependencies (its `package/` folder extracted to node_modules/wss-mp-client), then used by
// every kind of project a new user brings:
// - a WeChat project: miniprogram-ci's packNpmManually (Build npm), the result run on the wx
//   shim against a real echo server, and its size measured (the budget is on this file);
// - a uni-app (Vue 2 CLI) / Taro ≤ 3.4 style webpack 4 project (no `exports` support);
// - a TypeScript project with moduleResolution node10 (WeChat's TS template) and
//   miniprogram-api-typings alone;
// - TypeScript bundler projects with the DOM lib and with `ws`;
// - a browser bundle (esbuild), run against a real echo server.
// The README's code samples are extracted and compiled in the TypeScript projects under
// `strict`, each in the environment its fence names (```ts sample=wechat|dom|ws).
// Every tool is a devDependency of this package: nothing is fetched at run time.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { parse } from 'acorn';
import WebSocket from 'ws';
import { startEcho, until } from './comparison/scenarios';
import { startProtocolServer } from './support/messaging-server';
import { loadMiniprogramMessaging, loadMiniprogramModule } from './support/miniprogram-module';
import { loadCi } from './support/pack-npm';
import { ROOT } from './support/server';
import { createWxShim } from './support/wx-shim';

const require = createRequire(import.meta.url);
const CLIENT = path.join(ROOT, 'packages/client');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const BUDGET_GZ = 3584;
const MP_FILES = ['index.js', 'index.js.map', 'messaging.js', 'messaging.js.map'];

let dir = '';
let modules = '';

/** Links an installed dev package into the throwaway projects' node_modules. */
function link(name: string, from: string) {
  const target = path.join(modules, name);
  mkdirSync(path.dirname(target), { recursive: true });
  symlinkSync(path.dirname(createRequire(path.join(from, 'package.json')).resolve(`${name}/package.json`)), target);
}

function write(rel: string, text: string) {
  const f = path.join(dir, rel);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, text);
  return f;
}

/** tsc -p; fails the test with the compiler's output. */
function tsc(project: string) {
  const r = spawnSync(process.execPath, [TSC, '-p', path.join(dir, project)], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc -p ${project}:\n${r.stdout}${r.stderr}`);
}

/** README code fences: ```ts sample=<env>; every js/ts fence must name one. */
function readmeSamples(): { env: string; code: string }[] {
  const readme = readFileSync(path.join(CLIENT, 'README.md'), 'utf8');
  const out: { env: string; code: string }[] = [];
  for (const m of readme.matchAll(/^```(\w*)([^\n]*)\n([\s\S]*?)^```/gm)) {
    if (m[1] !== 'ts' && m[1] !== 'js') continue;
    const env = /sample=(\w+)/.exec(m[2]!)?.[1];
    assert.ok(env, `README fence without sample=<env>:\n${m[3]}`);
    out.push({ env, code: m[3]! });
  }
  return out;
}

// Names a README sample may use as given by the host, per environment.
const PRELUDE: Record<string, string> = {
  // uni, Taro, tt, qq, swan have WeChat's shape; their own typings are not installed here.
  wechat: 'declare const uni: WechatMiniprogram.Wx, Taro: WechatMiniprogram.Wx, tt: WechatMiniprogram.Wx, qq: WechatMiniprogram.Wx, swan: WechatMiniprogram.Wx;\n',
  dom: '',
  ws: '',
};

const tsconfig = (compilerOptions: object, include: string[]) =>
  JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, target: 'ES2017', ...compilerOptions }, include }, null, 2);

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-client-pack-'));
  modules = path.join(dir, 'node_modules');
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: CLIENT, encoding: 'utf8' }))[0];
  const pkg = path.join(modules, 'wss-mp-client');
  mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(dir, packed.filename), '-C', pkg, '--strip-components=1']);
  // What a WeChat project lists; Build npm builds `dependencies` only.
  write('package.json', JSON.stringify({ name: 'throwaway', private: true, dependencies: { 'wss-mp-client': '*' } }));
  link('miniprogram-api-typings', CLIENT);
  link('ws', path.join(ROOT, 'test'));
  link('@types/ws', path.join(ROOT, 'test'));
  link('@types/node', ROOT);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the packed tarball in every kind of project', () => {
  test('the tarball: LICENSE, metadata, sub-path folders; README links resolve inside the package', () => {
    const pkgDir = path.join(modules, 'wss-mp-client');
    const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    assert.match(readFileSync(path.join(pkgDir, 'LICENSE'), 'utf8'), /^MIT License/);
    assert.equal(pkg.license, 'MIT');
    for (const k of ['repository', 'homepage', 'bugs']) assert.ok(pkg[k], k);
    assert.deepEqual(readdirSync(path.join(pkgDir, 'miniprogram_dist')).sort(), MP_FILES);
    const readme = readFileSync(path.join(pkgDir, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    assert.ok(links.length > 5);
    for (const l of links) {
      if (/^https?:\/\//.test(l)) continue;
      if (l.startsWith('#')) {
        const slug = l.slice(1);
        const headings = [...readme.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-'));
        assert.ok(headings.includes(slug), `README anchor ${l} has no heading`);
        continue;
      }
      assert.fail(`README link ${l} points outside the package page (dead on the registry)`);
    }
  });

  test('WeChat project: Build npm (packNpmManually) ships index.js and messaging.js + maps only, ≤ 3.5 KB gzip, ES2015; both run on the wx shim', async () => {
    const { ci } = loadCi();
    const mp = path.join(dir, 'miniprogram');
    mkdirSync(mp, { recursive: true });
    const result = await ci.packNpmManually({ packageJsonPath: path.join(dir, 'package.json'), miniprogramNpmDistDir: mp + path.sep });
    assert.deepEqual(result.warnList, []);
    const out = path.join(mp, 'miniprogram_npm/wss-mp-client');
    assert.deepEqual(readdirSync(out).sort(), MP_FILES);
    const code = readFileSync(path.join(out, 'index.js'));
    const gz = gzipSync(code, { level: 9 }).length;
    console.log(`Build npm output: miniprogram_npm/wss-mp-client/index.js ${code.length} B, gzip ${gz} B (budget ${BUDGET_GZ} B)`);
    assert.ok(gz <= BUDGET_GZ, `${gz} B > ${BUDGET_GZ} B`);
    assert.doesNotThrow(() => parse(code.toString('utf8'), { ecmaVersion: 2015, sourceType: 'script' }));
    const echo = await startEcho();
    const wx = createWxShim();
    const m = loadMiniprogramModule(path.join(out, 'index.js'), { wx });
    const c = m.exports.createClient({ url: echo.url });
    const got: unknown[] = [];
    c.on('message', (e: { data: unknown }) => got.push(e.data));
    try {
      c.send('tom');
      assert.ok(await until(() => got.includes('tom'), 5000), 'echo');
    } finally {
      c.destroy();
      wx.closeAll();
      await echo.close();
    }
    // require('wss-mp-client/messaging') in an app = miniprogram_npm/wss-mp-client/messaging.js,
    // which takes the core from its sibling index.js.
    const mgz = gzipSync(readFileSync(path.join(out, 'messaging.js')), { level: 9 }).length;
    console.log(`Build npm output: miniprogram_npm/wss-mp-client/messaging.js gzip ${mgz} B (budget 3072 B on top of index.js)`);
    assert.ok(mgz <= 3072);
    const server = await startProtocolServer();
    const wx2 = createWxShim();
    const mc = loadMiniprogramMessaging(out, { wx: wx2 }).messaging.exports.createMessagingClient({ url: server.url, storage: { getItem: () => null, setItem() {}, removeItem() {} } });
    try {
      let reply: unknown;
      mc.request('tom').then((r: unknown) => (reply = r));
      assert.ok(await until(() => reply === 'tom', 5000), 'request acknowledged');
    } finally {
      mc.destroy();
      wx2.closeAll();
      await server.close();
    }
  });

  test('webpack 4 project (uni-app Vue 2 CLI, Taro ≤ 3.4): wss-mp-client, /web and /alipay resolve, build and run', () => {
    write('webpack4/src/index.js', [
      "import { createClient } from 'wss-mp-client';",
      "import { createClient as createWeb, webPlatform } from 'wss-mp-client/web';",
      "import { createClient as createAlipay, alipayPlatform } from 'wss-mp-client/alipay';",
      "import { createMessagingClient } from 'wss-mp-client/messaging';",
      'export { createClient, createWeb, webPlatform, createAlipay, alipayPlatform, createMessagingClient };',
      '',
    ].join('\n'));
    const build = write('webpack4/build.cjs', `
      const webpack = require(${JSON.stringify(require.resolve('webpack'))});
      webpack({
        mode: 'production',
        context: __dirname,
        entry: './src/index.js',
        target: 'web',
        output: { path: __dirname + '/out', filename: 'bundle.js', libraryTarget: 'commonjs2' },
        optimization: { concatenateModules: false }, // keep module names in the stats
      }, (err, stats) => {
        if (err || stats.hasErrors()) { console.error(err || stats.toString('errors-only')); process.exit(1); }
        console.log(JSON.stringify(stats.toJson({ all: false, modules: true }).modules.map((m) => m.name)));
      });
    `);
    // webpack 4 hashes with md4, which OpenSSL 3 (Node ≥ 17) only has in its legacy provider.
    const r = spawnSync(process.execPath, ['--openssl-legacy-provider', build], { encoding: 'utf8' });
    assert.equal(r.status, 0, `webpack 4:\n${r.stdout}${r.stderr}`);
    const names: string[] = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    for (const f of ['dist/index.mjs', 'dist/web.mjs', 'dist/alipay.mjs', 'dist/messaging.mjs']) {
      assert.ok(names.some((n) => n.includes(`wss-mp-client/${f}`)), `${f} in ${names}`);
    }
    const b = require(path.join(dir, 'webpack4/out/bundle.js'));
    for (const k of ['createClient', 'createWeb', 'webPlatform', 'createAlipay', 'alipayPlatform', 'createMessagingClient']) assert.equal(typeof b[k], 'function', k);
    const urls: string[] = [];
    const task = { onOpen() {}, onMessage() {}, onClose() {}, onError() {}, send() {}, close() {} };
    const c = b.createClient({ url: 'wss://example.com/wss', lifecycle: false, platform: { connectSocket: (o: { url: string }) => (urls.push(o.url), task) } });
    return until(() => urls.length === 1, 2000).then((ok) => {
      c.destroy();
      assert.ok(ok, 'connectSocket called from the webpack 4 bundle');
    });
  });

  test('TypeScript node10 (WeChat template) with miniprogram-api-typings alone: the three entries and the README samples, strict', () => {
    write('ts-node10/usage.ts', [
      "import { createClient, type Client, type Platform } from 'wss-mp-client';",
      "import { webPlatform, type WebSocketConstructor } from 'wss-mp-client/web';",
      "import { alipayPlatform } from 'wss-mp-client/alipay';",
      "import { createMessagingClient, type MessagingClient } from 'wss-mp-client/messaging';",
      "const mc: MessagingClient = createMessagingClient({ url: 'wss://example.com/wss', token: () => 't' });",
      'mc.destroy();',
      'const platform: Platform = wx;',
      "const c: Client = createClient({ url: { url: 'wss://example.com/wss', tcpNoDelay: true }, platform, pongMessage: '{\"type\":\"pong\"}', maxMessageSize: 1 << 16 });",
      'declare const W: WebSocketConstructor;',
      'webPlatform(W);',
      'declare const my: Parameters<typeof alipayPlatform>[0];',
      'alipayPlatform(my);',
      'c.destroy();',
      '',
    ].join('\n'));
    const samples = readmeSamples();
    assert.ok(samples.filter((s) => s.env === 'wechat').length >= 4 && samples.some((s) => s.env === 'dom') && samples.some((s) => s.env === 'ws'));
    samples.forEach((s, i) => write(`samples-${s.env}/sample-${i}.ts`, PRELUDE[s.env]! + s.code));
    write('ts-node10/tsconfig.json', tsconfig(
      { lib: ['ES2017'], types: ['miniprogram-api-typings'], module: 'commonjs', moduleResolution: 'node10' },
      ['usage.ts', '../samples-wechat/*.ts'],
    ));
    tsc('ts-node10');
  });

  test('TypeScript bundler with the DOM lib, and with ws: webPlatform(WebSocket) and the README samples, strict', () => {
    write('ts-dom/tsconfig.json', tsconfig({ lib: ['ES2017', 'DOM'], types: [], module: 'esnext', moduleResolution: 'bundler' }, ['../samples-dom/*.ts']));
    tsc('ts-dom');
    // skipLibCheck here only: our .d.ts are checked without it above; @types/node's are not ours.
    write('ts-ws/tsconfig.json', tsconfig({ lib: ['ES2017'], types: ['node'], module: 'esnext', moduleResolution: 'bundler', skipLibCheck: true }, ['../samples-ws/*.ts']));
    tsc('ts-ws');
  });

  test('browser bundle (esbuild, wss-mp-client/web): runs on a W3C WebSocket against a real echo server', async () => {
    const { build } = await import('esbuild');
    write('browser/main.js', [
      "import { createClient } from 'wss-mp-client/web';",
      'globalThis.start = (url, got) => {',
      '  const c = createClient({ url });',
      "  c.on('message', (e) => got.push(e.data));",
      "  c.send('tom');",
      '  return c;',
      '};',
      '',
    ].join('\n'));
    const r = await build({ entryPoints: [path.join(dir, 'browser/main.js')], bundle: true, format: 'iife', platform: 'browser', target: 'es2017', write: false, logLevel: 'silent', absWorkingDir: dir });
    const code = r.outputFiles[0]!.text;
    // A page's globals: WebSocket (ws plays the browser's), events, document; no require, no process.
    const page: Record<string, unknown> = {
      WebSocket,
      document: { visibilityState: 'visible' },
      addEventListener() {},
      removeEventListener() {},
      setTimeout,
      clearTimeout,
      console,
    };
    page.globalThis = page;
    const ctx = vm.createContext(page);
    vm.runInContext(code, ctx);
    const echo = await startEcho();
    const got: unknown[] = [];
    const c = (page.start as (u: string, g: unknown[]) => { destroy(): void })(echo.url, got);
    try {
      assert.ok(await until(() => got.includes('tom'), 5000), 'echo through the browser bundle');
    } finally {
      c.destroy();
      await echo.close();
    }
  });
});
