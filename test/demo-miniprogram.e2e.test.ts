// The WeChat demo (apps/demo-miniprogram), proven with the official tools:
// - Build npm: miniprogram-ci packNpmManually from the monorepo root, exactly what DevTools'
//   Build npm does with the project's packNpmRelationList; output checked for ES2015, warnings,
//   outside deps and the 2 MB cap.
// - The project files pass miniprogram-ci's own JSON schemas (what DevTools checks on open).
// - The page: miniprogram-simulate renders pages/index, whose require('wss-mp-client') loads
//   the Build npm output; wx.connectSocket is support/wx-shim (a real `ws` connection) to wss-mp-server --dev-cert
//   over TLS (dev CA trusted); a tap on "send tom" shows "tom" in the rendered WXML.
// Needs the built client and server (`pnpm -r build`; `npm test` does it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from './support/server';
import { startDevServer } from './support/dev-server';
import {
  DEMO_MP_DIR, DEMO_MP_ROOT, DEMO_MP_NPM, checkEs2015Script, ensureDemoPacked, listFiles, loadCi,
} from './support/pack-npm';
import { createWxShim } from './support/wx-shim';
import { setupMiniprogramEnv } from './support/mp-simulate';
import { waitFor } from './support/wait';

const CLIENT_MP_DIST = path.join(ROOT, 'packages/client/miniprogram_dist/index.js');
const RENDERED = path.join(ROOT, 'test-results/demo-miniprogram.html'); // the rendered page, for a look
const MAIN_PACKAGE_LIMIT = 2 * 1024 * 1024; // WeChat: main package ≤ 2 MB

test('Build npm: packNpmManually puts an ES2015, self-contained wss-mp-client into miniprogram_npm/', async () => {
  assert.ok(existsSync(CLIENT_MP_DIST), `${CLIENT_MP_DIST} is missing: build the client first (pnpm -r build)`);
  const { result, loadMs, packMs } = await ensureDemoPacked();
  console.log(`# packNpmManually: ${packMs} ms (+${loadMs} ms loading miniprogram-ci)`);

  assert.deepEqual(result.warnList, [], 'Build npm warnings');
  assert.equal(result.miniProgramPackNum, 1, 'wss-mp-client copied from its "miniprogram" dir');
  assert.equal(result.otherNpmPackNum, 0, 'no other npm package was bundled');
  assert.deepEqual(readdirSync(DEMO_MP_NPM), ['wss-mp-client'], 'miniprogram_npm holds the client and nothing else');
  assert.ok(existsSync(path.join(DEMO_MP_NPM, 'wss-mp-client/index.js')), 'miniprogram_npm/wss-mp-client/index.js');

  const files = listFiles(DEMO_MP_NPM);
  const js = files.filter((f) => f.endsWith('.js'));
  let bytes = 0;
  for (const f of files) bytes += statSync(f).size;
  assert.ok(bytes < MAIN_PACKAGE_LIMIT, `miniprogram_npm is ${bytes} bytes, over the 2 MB main-package cap`);
  for (const f of files) {
    assert.ok(!readFileSync(f, 'utf8').includes('miniprogram-npm-outsideDeps'), `${f}: Build npm dropped a file (outsideDeps marker)`);
  }
  for (const f of js) {
    const { parseError, requires } = checkEs2015Script(f);
    assert.equal(parseError, null, `${path.relative(DEMO_MP_DIR, f)} is not an ES2015 script`);
    // No outside deps: every require stays inside the package (WeChat has no node_modules and no Node built-ins).
    for (const r of requires) {
      assert.ok(r.startsWith('.'), `${path.relative(DEMO_MP_DIR, f)} requires "${r}", which is not part of the package`);
      const target = path.resolve(path.dirname(f), r);
      assert.ok([target, `${target}.js`, path.join(target, 'index.js')].some((p) => existsSync(p) && statSync(p).isFile()),
        `${path.relative(DEMO_MP_DIR, f)} requires missing "${r}"`);
    }
  }
  console.log(`# miniprogram_npm: ${files.length} file(s), ${bytes} bytes`);
});

test('the demo project is what DevTools expects: schemas, Build npm relation, ES2015 sources', () => {
  const { ci } = loadCi();
  const readJson = (rel: string) => JSON.parse(readFileSync(path.join(DEMO_MP_DIR, rel), 'utf8'));
  const project = readJson('project.config.json');
  const app = readJson('miniprogram/app.json');
  for (const [schema, json, name] of [
    ['projectconfig', project, 'project.config.json'],
    ['app', app, 'app.json'],
    ...app.pages.map((p: string) => ['page', readJson(`miniprogram/${p}.json`), `${p}.json`]),
  ] as [string, unknown, string][]) {
    const { warning, error } = ci.schemaValidate(schema, json);
    assert.deepEqual(error, [], `${name} schema errors`);
    assert.equal(warning, '', `${name} has keys DevTools does not know`);
  }
  assert.equal(project.miniprogramRoot, 'miniprogram/');
  assert.equal(project.setting.urlCheck, false, 'local use only: DevTools skips domain/TLS checks');
  assert.equal(project.setting.packNpmManually, true);
  const [rel] = project.setting.packNpmRelationList;
  const pkgJson = path.resolve(DEMO_MP_DIR, rel.packageJsonPath);
  assert.equal(pkgJson, path.join(ROOT, 'package.json'), 'Build npm reads the monorepo root package.json');
  assert.equal(JSON.parse(readFileSync(pkgJson, 'utf8')).dependencies['wss-mp-client'], 'workspace:*');
  assert.equal(path.resolve(DEMO_MP_DIR, rel.miniprogramNpmDistDir), DEMO_MP_ROOT, 'miniprogram_npm lands in miniprogramRoot');
  for (const p of app.pages) {
    for (const ext of ['js', 'wxml', 'wxss', 'json']) assert.ok(existsSync(path.join(DEMO_MP_ROOT, `${p}.${ext}`)), `${p}.${ext}`);
  }
  // Our own sources run untranspiled on any base library: ES2015 scripts.
  for (const f of listFiles(DEMO_MP_ROOT, '.js').filter((f) => !f.includes(`${path.sep}miniprogram_npm${path.sep}`))) {
    assert.equal(checkEs2015Script(f).parseError, null, `${path.relative(DEMO_MP_DIR, f)} is not an ES2015 script`);
  }
});

test('the page: a tap on "send tom" shows the reply from wss-mp-server, through miniprogram_npm', async (t) => {
  assert.ok(existsSync(CLIENT_MP_DIST), `${CLIENT_MP_DIST} is missing: build the client first (pnpm -r build)`);
  const [dev] = await Promise.all([startDevServer(), ensureDemoPacked()]);
  t.after(() => dev.stop());
  // wx: the SDK's end-to-end shim (real `ws` sockets, WeChat's SocketTask rules), trusting the dev CA.
  const wx = createWxShim({ ca: dev.ca });
  t.after(() => wx.closeAll());

  const started = Date.now();
  const env = setupMiniprogramEnv({
    mpRoot: DEMO_MP_ROOT,
    wx: {
      connectSocket: wx.connectSocket,
      onAppShow: wx.onAppShow, offAppShow: wx.offAppShow, onAppHide: wx.onAppHide, offAppHide: wx.offAppHide,
      onNetworkStatusChange: wx.onNetworkStatusChange, offNetworkStatusChange: wx.offNetworkStatusChange,
    },
  });
  t.after(() => env.restore());
  // The page's URL comes from its query (as DevTools' compile mode passes it), else config.js;
  // a short heartbeat makes the rtt (the SDK's ping/pong with the server) show up quickly.
  const page = env.renderPage('pages/index/index', { url: encodeURIComponent(dev.server.url), heartbeat: '300' });
  const text = (sel: string) => page.querySelector(sel)?.dom.textContent?.trim();
  console.log(`# simulate: page rendered in ${Date.now() - started} ms`);

  // The client really is the Build npm output, not node_modules.
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('wss-mp-client'));
  assert.deepEqual(loaded, [path.join(DEMO_MP_NPM, 'wss-mp-client/index.js')], 'wss-mp-client loaded from miniprogram_npm only');

  assert.equal(text('.url'), dev.server.url);
  await waitFor(() => text('.state') === 'open', { timeout: 10_000, what: 'the rendered state to read "open"' });
  assert.equal(wx.tasks.length, 1, 'one wx.connectSocket');
  assert.equal(wx.tasks[0]!.url, dev.server.url);
  assert.equal(page.querySelector('.reply'), undefined, 'no reply before the tap');

  page.querySelector('.send')!.dispatchEvent('tap');
  await waitFor(() => text('.reply') === 'tom', { timeout: 10_000, what: '"tom" in the rendered .reply' });
  console.log(`# simulate: render → open → tap → "tom" in ${Date.now() - started} ms`);
  assert.equal(text('.last-send'), 'sent');
  assert.equal(text('.reconnects'), '0');
  assert.equal(page.querySelectorAll('.reply').length, 1);
  await waitFor(() => /^\d+ ms$/.test(text('.rtt') ?? ''), { timeout: 10_000, what: 'a measured rtt on the page' });
  // "reconnect" drops the link and opens a new one: the counter shows it, and tom still echoes.
  page.querySelector('.reconnect')!.dispatchEvent('tap');
  await waitFor(() => text('.reconnects') === '1' && text('.state') === 'open', { timeout: 10_000, what: 'reconnects: 1, state: open' });
  page.querySelector('.send')!.dispatchEvent('tap');
  await waitFor(() => page.querySelectorAll('.reply').length === 2, { timeout: 10_000, what: 'a second reply' });
  assert.deepEqual(page.querySelectorAll('.reply').map((r) => r.dom.textContent), ['tom', 'tom']);
  mkdirSync(path.dirname(RENDERED), { recursive: true });
  writeFileSync(RENDERED, page.dom.outerHTML);

  // Leaving the page (onUnload) destroys the client, which closes its socket.
  page.detach();
  await waitFor(() => wx.tasks.every((task) => task.state === 'closed') && wx.appListeners === 0, { timeout: 5_000, what: 'the socket to close and app listeners to go after onUnload' });
});
