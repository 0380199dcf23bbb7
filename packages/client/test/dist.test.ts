// Gates on the built package (run `pnpm --filter wss-mp-client build` first; `npm test` does):
// the ES2015 syntax gate WeChat's Build npm needs, the size budget, the exports, the shipped
// types under lib ES2017 without DOM, and the real miniprogram_dist/index.js in a WeChat-like
// sandbox (it is mangled for size, so it must be run, not only parsed).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { before, test } from 'node:test';
import { parse } from 'acorn';
import { FakeClock } from './fake-clock';
import { FakeWx } from './fake-wx';
import { FakeProtocolServer, MemoryStorage } from './messaging-fake';
import { loadInWechatSandbox, PACKAGE } from './sandbox';
import { loadMiniprogramMessaging } from '../../../test/support/miniprogram-module';

const file = (rel: string) => path.join(PACKAGE, rel);
const require = createRequire(import.meta.url);

before(() => {
  if (!existsSync(file('miniprogram_dist/index.js')) || !existsSync(file('dist/index.cjs'))) {
    throw new Error('build first: pnpm --filter wss-mp-client build');
  }
});

test('miniprogram_dist holds only what WeChat needs: index.js (ES2015 script, one minified file) and its map', () => {
  assert.deepEqual(readdirSync(file('miniprogram_dist')).sort(), ['index.js', 'index.js.map', 'messaging.js', 'messaging.js.map']);
  const src = readFileSync(file('miniprogram_dist/index.js'), 'utf8');
  assert.doesNotThrow(() => parse(src, { ecmaVersion: 2015, sourceType: 'script' }));
  assert.doesNotMatch(src, /\brequire\(/, 'one bundled file');
  assert.ok(src.split('\n').length < 40, 'minified');
  assert.match(src, /\/\/# sourceMappingURL=index\.js\.map\s*$/);
  const map = JSON.parse(readFileSync(file('miniprogram_dist/index.js.map'), 'utf8'));
  assert.ok(map.sources.some((s: string) => s.endsWith('src/client.ts')), 'the map points at the sources');
  assert.equal(map.sources.length, map.sourcesContent.length, 'with the source text (src/ is not shipped)');
});

test('miniprogram_dist/messaging.js: ES2015 script, minified, the core only through require("./index.js")', () => {
  const src = readFileSync(file('miniprogram_dist/messaging.js'), 'utf8');
  assert.doesNotThrow(() => parse(src, { ecmaVersion: 2015, sourceType: 'script' }));
  assert.deepEqual([...src.matchAll(/\brequire\(([^)]*)\)/g)].map((m) => m[1]), ['"./index.js"']);
  assert.ok(src.split('\n').length < 40, 'minified');
  assert.doesNotMatch(src, /connectSocket|heartbeat/i, 'no second copy of the core');
  const map = JSON.parse(readFileSync(file('miniprogram_dist/messaging.js.map'), 'utf8'));
  assert.ok(map.sources.some((s: string) => s.endsWith('src/messaging/client.ts')));
  assert.ok(!map.sources.some((s: string) => s.endsWith('src/client.ts')), 'the core is not bundled in');
});

/** `rel` measured exactly as shipped: its gzipped size within `budget` bytes (printed either way). */
async function assertGzWithin(rel: string, budget: number): Promise<void> {
  const { measure } = await import('../scripts/size.mjs');
  const r = measure(file(rel));
  console.log(`${rel}: ${r.bytes} B, gzip ${r.gz} B (budget ${budget} B)`);
  assert.ok(r.gz <= budget, `${r.gz} B gz > ${budget} B`);
}

test('size: miniprogram_dist/messaging.js exactly as shipped, gzipped, ≤ 3 KB (3072 B) on top of the core', async () => {
  const { MESSAGING_BUDGET_GZ } = await import('../scripts/size.mjs');
  assert.equal(MESSAGING_BUDGET_GZ, 3072);
  await assertGzWithin('miniprogram_dist/messaging.js', MESSAGING_BUDGET_GZ);
});

test('size: miniprogram_dist/index.js exactly as shipped, gzipped, ≤ 3.5 KB (3584 B)', async () => {
  const { BUDGET_GZ } = await import('../scripts/size.mjs');
  assert.equal(BUDGET_GZ, 3584);
  await assertGzWithin('miniprogram_dist/index.js', BUDGET_GZ);
});

test('miniprogram_dist/index.js exports exactly what dist/index.cjs does; every package.json path exists', () => {
  const mp = require(file('miniprogram_dist/index.js'));
  const cjs = require(file('dist/index.cjs'));
  assert.deepEqual(Object.keys(mp).sort(), Object.keys(cjs).sort());
  const mpm = require(file('miniprogram_dist/messaging.js'));
  assert.deepEqual(Object.keys(mpm).sort(), Object.keys(require(file('dist/messaging.cjs'))).sort());
  const pkg = JSON.parse(readFileSync(file('package.json'), 'utf8'));
  const paths: string[] = [pkg.main, pkg.module, pkg.types, `${pkg.miniprogram}/index.js`, `${pkg.miniprogram}/messaging.js`];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') paths.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(pkg.exports);
  // Sub-path folders for resolvers without `exports` (TypeScript node10, webpack 4).
  for (const sub of ['web', 'alipay', 'messaging']) {
    assert.ok(pkg.files.includes(sub), `${sub}/ is published`);
    const f = JSON.parse(readFileSync(file(`${sub}/package.json`), 'utf8'));
    for (const k of ['main', 'module', 'types']) paths.push(path.join(sub, f[k]));
    assert.equal(path.join(sub, f.types), pkg.exports[`./${sub}`].require.types.replace(/^\.\//, ''));
  }
  for (const p of paths) assert.ok(existsSync(file(p)), p);
  assert.deepEqual(pkg.dependencies ?? {}, {}, 'zero runtime dependencies');
});

test('the real miniprogram_dist/index.js runs in a WeChat-like module sandbox', async () => {
  const box = await loadInWechatSandbox(readFileSync(file('miniprogram_dist/index.js'), 'utf8'));
  assert.deepEqual(box.globalWrites(), []);
  assert.equal(box.timersAtImport + box.randomAtImport, 0);
  const clock = new FakeClock();
  const wx = new FakeWx(clock);
  const client = box.exports.createClient({ url: 'wss://example.test/', platform: wx, clock, heartbeatInterval: 1000, heartbeatTimeout: 500 });
  const got: unknown[] = [];
  client.on('message', (e: { data: unknown }) => got.push(e.data));
  client.send('a');
  await clock.until(() => got.length === 1);
  wx.current!.makeZombie();
  await clock.until(() => client.state === 'open' && wx.tasks.length === 2);
  assert.equal(client.stats.reconnects, 1);
  assert.equal(wx.maxLive, 2); // the zombie never confirmed its close
  client.destroy();
  assert.equal(wx.appListeners, 0);
});

test('the real miniprogram_dist/messaging.js runs on the real index.js in WeChat-like sandboxes: request and subscribe', async () => {
  const dir = file('miniprogram_dist');
  const { core, messaging } = loadMiniprogramMessaging(dir);
  assert.deepEqual(messaging.globalWrites(), []);
  assert.equal(messaging.timersAtImport + messaging.randomAtImport, 0);
  assert.equal(typeof core.exports.createClient, 'function');
  const clock = new FakeClock();
  const wx = new FakeWx(clock);
  const server = new FakeProtocolServer(wx, clock);
  const storage = new MemoryStorage();
  const mc = messaging.exports.createMessagingClient({ url: 'wss://example.test/', platform: wx, clock, storage, heartbeatInterval: 0 });
  const got: number[] = [];
  mc.subscribe('news', { onPublication: (_d: unknown, p: { offset: number }) => got.push(p.offset) });
  let reply: unknown;
  mc.request({ q: 1 }).then((r: unknown) => (reply = r));
  await clock.until(() => reply !== undefined && server.sent('sub').length === 1);
  server.publish('news', 'a');
  server.publish('news', 'b');
  server.current.drop();
  server.publish('news', 'c');
  await clock.until(() => got.length === 3);
  assert.deepEqual(got, [1, 2, 3]);
  assert.equal(JSON.stringify(reply), '{"q":1}'); // (an object of the sandbox's realm)
  assert.deepEqual(storage.json('wss-mp:positions'), { news: { offset: 3, epoch: 'e1' } });
  mc.destroy();
  assert.equal(wx.appListeners, 0);
});

test('shipped types compile under lib ES2017 + miniprogram-api-typings, no DOM, skipLibCheck false', () => {
  const tsc = path.join(PACKAGE, '../../node_modules/typescript/bin/tsc');
  for (const cfg of ['tsconfig.wechat.json', 'tsconfig.web.json']) {
    try {
      execFileSync(process.execPath, [tsc, '-p', file(`test/types/${cfg}`)], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      assert.fail(`${cfg}:\n${(e as { stdout: string }).stdout}`);
    }
  }
});
