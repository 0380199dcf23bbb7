// The WeChat demo (apps/demo-miniprogram), proven with the official tools:
// - Build npm: miniprogram-ci packNpmManually from the monorepo root, exactly what DevTools'
//   Build npm does with the project's packNpmRelationList; output checked for ES2015, warnings,
//   outside deps and the 2 MB cap.
// - The project files pass miniprogram-ci's own JSON schemas (what DevTools checks on open).
// - The page: miniprogram-simulate renders pages/index, whose require('wss-mp-client/messaging')
//   loads the Build npm output; wx.connectSocket, wx.login and wx.request are support/wx-shim
//   (real sockets) to wss-mp-server over TLS (dev CA trusted) with JWTs and the wechatLogin route
//   (code2Session answered by a local stand-in): the page logs in, connects, shows what the server
//   publishes on its channel, and a tap on "send tom" shows the acknowledged "tom".
// Needs the built client and server (`pnpm -r build`; `npm test` does it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from './support/server';
import { createServer, ensureDevCert } from 'wss-mp-server';
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

test('the page: wx.login → token → connect; the channel it subscribes to is listed; a tap on "send tom" shows the acknowledged reply; through miniprogram_npm', async (t) => {
  assert.ok(existsSync(CLIENT_MP_DIST), `${CLIENT_MP_DIST} is missing: build the client first (pnpm -r build)`);
  const [dev] = await Promise.all([startLoginServer(), ensureDemoPacked()]);
  t.after(() => dev.stop());
  // wx: the SDK's end-to-end shim (real `ws` sockets, WeChat's SocketTask rules, wx.login and
  // wx.request over node:https), trusting the dev CA.
  const wx = createWxShim({ ca: dev.ca, loginCode: 'good-code' });
  t.after(() => wx.closeAll());

  const started = Date.now();
  const env = setupMiniprogramEnv({
    mpRoot: DEMO_MP_ROOT,
    wx: {
      connectSocket: wx.connectSocket, login: wx.login, request: wx.request,
      onAppShow: wx.onAppShow, offAppShow: wx.offAppShow, onAppHide: wx.onAppHide, offAppHide: wx.offAppHide,
      onNetworkStatusChange: wx.onNetworkStatusChange, offNetworkStatusChange: wx.offNetworkStatusChange,
    },
  });
  t.after(() => env.restore());
  // The page's URLs come from its query (as DevTools' compile mode passes them), else config.js;
  // a short heartbeat makes the rtt (the SDK's ping/pong with the server) show up quickly.
  const page = env.renderPage('pages/index/index', { url: encodeURIComponent(dev.url), login: encodeURIComponent(dev.loginUrl), heartbeat: '300' });
  // On a failed assertion too: onUnload stops the page's timers and the client.
  let detached = false;
  t.after(() => detached || page.detach());
  const text = (sel: string) => page.querySelector(sel)?.dom.textContent?.trim();
  const texts = (sel: string) => page.querySelectorAll(sel).map((r) => r.dom.textContent?.trim());
  console.log(`# simulate: page rendered in ${Date.now() - started} ms`);

  // The client really is the Build npm output, not node_modules.
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('wss-mp-client')).sort();
  assert.deepEqual(loaded, ['index.js', 'messaging.js'].map((f) => path.join(DEMO_MP_NPM, 'wss-mp-client', f)), 'wss-mp-client loaded from miniprogram_npm only');

  assert.equal(text('.url'), dev.url);
  await waitFor(() => text('.state') === 'open' && text('.user') === OPENID, { timeout: 10_000, what: 'the rendered state "open" and the logged-in user' });
  // The login went wx.login → POST /login → code2Session (the stand-in) → a JWT on the handshake.
  assert.deepEqual(dev.codes, ['good-code']);
  assert.equal(wx.tasks.length, 1, 'one wx.connectSocket');
  assert.match(String(wx.options[0].header?.Authorization ?? wx.options[0].header?.authorization), /^Bearer ey/);
  assert.equal(page.querySelector('.reply'), undefined, 'no reply before the tap');

  page.querySelector('.send')!.dispatchEvent('tap');
  await waitFor(() => text('.reply') === 'tom', { timeout: 10_000, what: '"tom" in the rendered .reply' });
  console.log(`# simulate: render → login → open → tap → "tom" in ${Date.now() - started} ms`);
  assert.equal(text('.last-send'), 'acknowledged');
  assert.equal(text('.reconnects'), '0');
  // The server publishes on the channel the page subscribed to.
  await waitFor(() => dev.server.localPresence('news').connections === 1, { timeout: 10_000, what: 'the page subscribed to news' });
  await dev.server.publish('news', 'hello');
  await waitFor(() => texts('.news').length === 1, { timeout: 10_000, what: 'the publication on the page' });
  assert.deepEqual(texts('.news'), ['#1 hello']);
  await waitFor(() => /^\d+ ms$/.test(text('.rtt') ?? ''), { timeout: 10_000, what: 'a measured rtt on the page' });
  // "reconnect" drops the link and opens a new one: the counter shows it, what was published
  // meanwhile is recovered, and tom still comes back.
  page.querySelector('.reconnect')!.dispatchEvent('tap');
  await dev.server.publish('news', 'while away');
  await waitFor(() => text('.reconnects') === '1' && text('.state') === 'open', { timeout: 10_000, what: 'reconnects: 1, state: open' });
  page.querySelector('.send')!.dispatchEvent('tap');
  await waitFor(() => texts('.reply').length === 2 && texts('.news').length === 2, { timeout: 10_000, what: 'a second reply and the missed publication' });
  assert.deepEqual(texts('.reply'), ['tom', 'tom']);
  assert.deepEqual(texts('.news'), ['#2 while away', '#1 hello']);
  assert.deepEqual(dev.codes, ['good-code'], 'the token was reused, no second login');
  mkdirSync(path.dirname(RENDERED), { recursive: true });
  writeFileSync(RENDERED, page.dom.outerHTML);

  // Leaving the page (onUnload) destroys the client, which closes its socket.
  page.detach();
  detached = true;
  await waitFor(() => wx.tasks.every((task) => task.state === 'closed') && wx.appListeners === 0, { timeout: 5_000, what: 'the socket to close and app listeners to go after onUnload' });
});

const OPENID = 'oDemo_openid_from_the_stand_in';

/**
 * wss-mp-server over TLS (its development certificate) with messaging, JWTs and the wechatLogin
 * route, whose code2Session calls go to a stand-in for WeChat's API on loopback (its documented
 * request and answer; never the real one).
 */
async function startLoginServer() {
  const codes: string[] = [];
  const wechat = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://stand-in');
    const code = u.searchParams.get('js_code') ?? '';
    codes.push(code);
    const ok = u.pathname === '/sns/jscode2session' && u.searchParams.get('appid') === APPID && u.searchParams.get('secret') === 'demo-app-secret' && code === 'good-code';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { openid: OPENID, session_key: 'c2Vzc2lvbi1rZXk=' } : { errcode: 40029, errmsg: 'invalid code' }));
  });
  await new Promise<void>((r) => wechat.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-demo-'));
  const cert = await ensureDevCert(dir);
  const server = createServer({
    port: 0,
    tls: { certFile: cert.certFile, keyFile: cert.keyFile },
    host: '127.0.0.1',
    jwt: { secret: 'the-demo-test-secret-of-at-least-32-bytes' },
    wechatLogin: { appId: APPID, appSecret: 'demo-app-secret', apiBase: `http://127.0.0.1:${(wechat.address() as AddressInfo).port}` },
    messaging: true,
    logger: () => {},
  });
  const url = (await server.listen()).replace('127.0.0.1', 'localhost');
  return {
    server,
    url,
    loginUrl: url.replace(/^wss:/, 'https:').replace(/\/wss$/, '/login'),
    ca: cert.caFile,
    codes,
    async stop() {
      await server.close();
      wechat.closeAllConnections();
      await new Promise((r) => wechat.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
const APPID = 'wx0123456789abcdef';
