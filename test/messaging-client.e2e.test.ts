// wss-mp-client/messaging end to end: the built miniprogram_dist/messaging.js on the built
// miniprogram_dist/index.js (loaded the way WeChat loads modules), on the wx shim over real
// sockets, against a minimal wss-mp.v1 test-double server (support/messaging-server.ts), and
// against wss-mp-server itself for its rate limits. Twins of the unit tests in
// packages/client/test/messaging.test.ts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { until } from './comparison/scenarios';
import { CLIENT_MP } from './comparison/subjects';
import { newState, startProtocolServer, type ProtocolServer } from './support/messaging-server';
import { loadMiniprogramMessaging } from './support/miniprogram-module';
import { createWxShim, type WxShim } from './support/wx-shim';
import { within } from './support/wait';
import { createServer } from 'wss-mp-server';

const DIST = path.dirname(CLIENT_MP);
// Fast retries; deadlines generous enough for a loaded machine.
const FAST = { backoffBase: 50, backoffMax: 300, connectTimeout: 5000, heartbeatInterval: 0 };
const DEADLINE = 20_000;

let createMessagingClient: (o: object) => any;
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

before(() => {
  assert.ok(existsSync(path.join(DIST, 'messaging.js')), 'build the client first: pnpm --filter wss-mp-client build');
  createMessagingClient = loadMiniprogramMessaging(DIST).messaging.exports.createMessagingClient;
});

/** A Map-backed storage shared by "app runs" (what wx.setStorageSync keeps across restarts). */
function storage() {
  const map = new Map<string, string>();
  return { map, getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), removeItem: (k: string) => void map.delete(k) };
}

function app(server: ProtocolServer, wx: WxShim, opts: object = {}, store = storage()) {
  const mc = createMessagingClient({ url: server.url, platform: wx, storage: store, ...FAST, ...opts });
  const errors: any[] = [];
  const replies: any[] = [];
  let welcomes = 0;
  mc.on('error', (e: any) => errors.push(e));
  mc.on('reply', (r: any) => replies.push(r));
  mc.on('welcome', () => welcomes++);
  cleanups.push(() => mc.destroy());
  return { mc, errors, replies, store, welcomes: () => welcomes };
}

async function withServer(opts: Parameters<typeof startProtocolServer>[0] = {}) {
  const s = await startProtocolServer(opts);
  cleanups.push(() => s.close());
  return s;
}

function shim() {
  const wx = createWxShim();
  cleanups.push(() => wx.closeAll());
  return wx;
}

/** A server and an app subscribed to 'feed' (what it gets in `got`), once the server has the subscription. */
async function feedApp() {
  const server = await withServer();
  const wx = shim();
  const a = app(server, wx);
  const got: number[] = [];
  a.mc.subscribe('feed', { onPublication: (d: number) => got.push(d) });
  assert.ok(await until(() => server.state.streams.has('feed'), DEADLINE));
  return { server, wx, a, got };
}

describe('wss-mp-client/messaging on real sockets (miniprogram_dist through the wx shim)', () => {
  test('negotiates wss-mp.v1 with the token in the Authorization header; request → ack; publications in order', async () => {
    const server = await withServer();
    const wx = shim();
    const a = app(server, wx, { token: 'tk-1' });
    const got: number[] = [];
    a.mc.subscribe('news', { onPublication: (_d: unknown, p: { offset: number }) => got.push(p.offset) });
    const reply = await a.mc.request({ to: 'tom' });
    assert.equal(JSON.stringify(reply), '{"to":"tom"}');
    assert.deepEqual(server.tokens, ['tk-1']);
    assert.equal(JSON.stringify(wx.options[0].protocols), '["wss-mp.v1"]');
    assert.ok(await until(() => server.state.streams.has('news'), DEADLINE));
    for (let i = 0; i < 5; i++) server.publish('news', i);
    assert.ok(await until(() => got.length === 5, DEADLINE));
    assert.deepEqual(got, [1, 2, 3, 4, 5]);
  });

  test('connections cut again and again while 200 publications and 200 requests flow: every publication once, in order; every request processed once and answered', async () => {
    const { server, a, got } = await feedApp();
    const answers: unknown[] = [];
    const N = 200;
    for (let i = 1; i <= N; i++) {
      server.publish('feed', i);
      a.mc.request(i).then((r: unknown) => answers.push(r));
      if (i % 40 === 0) server.terminateAll();
      await new Promise((r) => setTimeout(r, 3));
    }
    assert.ok(await until(() => got.length >= N && answers.length === N, DEADLINE), `got ${got.length}, answers ${answers.length}`);
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => i + 1), 'exactly once, in order');
    assert.equal(server.state.handled.length, N, 'each request processed once');
    assert.equal(new Set(server.state.handled).size, N);
    assert.deepEqual([...answers].sort((x, y) => (x as number) - (y as number)), Array.from({ length: N }, (_, i) => i + 1));
    assert.ok(a.welcomes() >= 5, `reconnected after each cut (${a.welcomes()} welcomes)`);
    assert.equal(a.mc.pending, 0);
  });

  test('app cold restart: unacked requests and positions persist; the next run resends (same ids, processed once) and resumes the channel', async () => {
    const server = await withServer();
    const wx1 = shim();
    const store = storage();
    const a = app(server, wx1, {}, store);
    const got1: number[] = [];
    a.mc.subscribe('news', { onPublication: (_d: unknown, p: { offset: number }) => got1.push(p.offset) });
    assert.ok(await until(() => server.state.streams.has('news'), DEADLINE));
    server.publish('news', 'a');
    assert.ok(await until(() => got1.length === 1, DEADLINE));
    server.ack = false; // processed, but the answers never reach this run
    a.mc.request('r1').catch(() => {});
    a.mc.request('r2').catch(() => {});
    assert.ok(await until(() => server.state.handled.length === 2, DEADLINE));
    a.mc.destroy(); // killed
    wx1.closeAll();
    server.publish('news', 'b');
    server.ack = true;
    const wx2 = shim();
    const b = app(server, wx2, {}, store);
    const got2: number[] = [];
    b.mc.subscribe('news', { onPublication: (_d: unknown, p: { offset: number }) => got2.push(p.offset) });
    assert.ok(await until(() => b.replies.length === 2 && got2.length === 1, DEADLINE));
    assert.deepEqual(b.replies.map((r) => r.data), ['r1', 'r2']);
    assert.deepEqual(b.replies.map((r) => r.id), server.state.handled);
    assert.equal(server.state.handled.length, 2, 'not processed again');
    assert.deepEqual(got2, [2], 'only what it missed');
  });

  test('a server restart that lost its history: resync (never a silent gap), then on from the new position', async () => {
    let server = await withServer();
    const wx = shim();
    const a = app(server, wx);
    const got: unknown[] = [];
    const resyncs: any[] = [];
    a.mc.subscribe('news', { onPublication: (d: unknown) => got.push(d), onResync: (i: unknown) => resyncs.push(i) });
    assert.ok(await until(() => server.state.streams.has('news'), DEADLINE));
    server.publish('news', 'a');
    assert.ok(await until(() => got.length === 1, DEADLINE));
    const port = server.port;
    await server.close();
    server = await withServer({ port, epoch: 'e2', state: newState() });
    server.publish('news', 'lost-while-down');
    assert.ok(await until(() => resyncs.length === 1, DEADLINE));
    assert.equal(JSON.stringify(resyncs[0]), JSON.stringify({ channel: 'news', position: { offset: 1, epoch: 'e2' }, previous: { offset: 1, epoch: 'e1' } }));
    server.publish('news', 'c');
    assert.ok(await until(() => got.length === 2, DEADLINE));
    assert.deepEqual(got, ['a', 'c']);
  });

  test('app suspended (sockets closed 1000 "interrupted", connects refused) then shown, and network off/on: nothing lost, nothing twice', async () => {
    const { server, wx, a, got } = await feedApp();
    const answers: unknown[] = [];
    const send = (i: number) => {
      server.publish('feed', i);
      a.mc.request(i).then((r: unknown) => answers.push(r));
    };
    for (let i = 1; i <= 10; i++) send(i);
    wx.hide();
    wx.suspend();
    for (let i = 11; i <= 30; i++) send(i); // while the app is suspended
    assert.ok(await until(() => a.mc.client.state === 'paused', DEADLINE));
    wx.resume();
    wx.show();
    for (let i = 31; i <= 40; i++) send(i);
    assert.ok(await until(() => got.length >= 40 && answers.length === 40, DEADLINE), `got ${got.length}, answers ${answers.length}`);
    wx.network(false);
    for (let i = 41; i <= 50; i++) send(i);
    wx.network(true);
    assert.ok(await until(() => got.length >= 50 && answers.length === 50, DEADLINE), `got ${got.length}, answers ${answers.length}`);
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i + 1));
    assert.equal(server.state.handled.length, 50);
    assert.equal(wx.callsWhileSuspended, 0);
  });

  test('hostile callbacks on real sockets: a throwing onPublication and listener are reported (ERR_CALLBACK); delivery goes on', async () => {
    const server = await withServer();
    const wx = shim();
    const a = app(server, wx);
    a.mc.on('welcome', () => {
      throw new Error('listener bug');
    });
    const seen: number[] = [];
    a.mc.subscribe('news', {
      onPublication: (_d: unknown, p: { offset: number }) => {
        seen.push(p.offset);
        throw new Error('app bug');
      },
    });
    assert.ok(await until(() => server.state.streams.has('news'), DEADLINE));
    server.publish('news', 1);
    server.publish('news', 2);
    assert.ok(await until(() => seen.length === 2, DEADLINE));
    server.terminateAll();
    server.publish('news', 3);
    assert.ok(await until(() => seen.length === 3, DEADLINE));
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(a.errors.filter((e) => e.code !== 'ERR_SOCKET').map((e) => e.code), ['ERR_CALLBACK', 'ERR_CALLBACK', 'ERR_CALLBACK', 'ERR_CALLBACK', 'ERR_CALLBACK']);
  });

  test('a bad static token: HTTP 401 before any 101, then ERR_AUTH and the client stays closed', async () => {
    const server = await withServer({ authenticate: (t) => (t === 'good' ? null : 401) });
    const wx = shim();
    const a = app(server, wx, { token: 'expired' });
    assert.ok(await until(() => a.mc.client.state === 'closed', DEADLINE));
    assert.equal(server.upgrades, 0, 'no 101');
    assert.equal(server.refused, 1, 'one attempt, no retry storm');
    assert.deepEqual(a.errors.map((e) => e.code), ['ERR_SOCKET', 'ERR_AUTH']);
    assert.match(a.errors[0].cause.errMsg, /401/);
  });

  test('a token function: refused once (403), asked again with refused: true, connects with the fresh token', async () => {
    const server = await withServer({ authenticate: (t) => (t === 'fresh' ? null : 403) });
    const wx = shim();
    const asked: boolean[] = [];
    const a = app(server, wx, { token: async (i: { refused: boolean }) => (asked.push(i.refused), i.refused ? 'fresh' : 'stale') });
    assert.equal(JSON.stringify(await a.mc.request('hi')), '"hi"');
    assert.deepEqual(asked, [false, true]);
    assert.deepEqual(server.tokens, ['stale', 'fresh']);
  });

  test('a server that does not select wss-mp.v1: the ws-backed shim fails the handshake ("no subprotocol"); nothing is sent', async () => {
    const server = await withServer({ selectProtocol: false });
    const wx = shim();
    const a = app(server, wx);
    a.mc.request('x').catch(() => {});
    assert.ok(await until(() => a.errors.length >= 1, DEADLINE));
    assert.equal(a.errors[0].code, 'ERR_SOCKET');
    assert.match(a.errors[0].message, /no subprotocol/);
    assert.ok(server.upgrades >= 1, 'the server did answer 101 (the client refused it)'); // retried with backoff meanwhile
  });
});

describe('wss-mp-client/messaging against wss-mp-server with its default rate limits (50/s, burst 100 per connection)', () => {
  test('300 requests at once: each processed once and answered on the one connection, resent at the server\'s retryAfter, never closed', async () => {
    const calls = new Map<number, number>();
    const server = createServer({ port: 0, host: '127.0.0.1', logger: false, heartbeatInterval: 0,
      messaging: { onRequest: (_c, d) => (calls.set(d as number, (calls.get(d as number) ?? 0) + 1), d) } });
    cleanups.push(() => server.close());
    const url = await server.listen();
    const wx = shim();
    const mc = createMessagingClient({ url, platform: wx, storage: storage(), ...FAST });
    cleanups.push(() => mc.destroy());
    const errors: unknown[] = [];
    mc.on('error', (e: unknown) => errors.push(e));
    let welcomes = 0;
    mc.on('welcome', () => welcomes++);
    const N = 300;
    const t0 = Date.now();
    const answers = await within(Promise.all(Array.from({ length: N }, (_, i) => mc.request(i, { timeout: 0 }))), 60_000, `${N} answers`);
    const took = Date.now() - t0;
    assert.deepEqual(answers, Array.from({ length: N }, (_, i) => i));
    assert.equal(calls.size, N);
    assert.ok([...calls.values()].every((n) => n === 1), 'each processed exactly once');
    const st = server.stats.snapshot();
    // The burst passed, the rest was refused (and answered) at least once, and paced: ~200 at 50/s.
    assert.ok(st.rateLimitHits.connection >= 150, `${st.rateLimitHits.connection} refusals`);
    assert.ok(took >= 2500, `paced by the limit: ${took} ms`);
    assert.equal(st.rateLimitCloses, 0, 'never closed for it');
    assert.equal(welcomes, 1, 'one connection throughout');
    assert.equal(wx.options.length, 1);
    assert.deepEqual(errors, [], 'refusals are not errors');
    assert.equal(mc.pending, 0);
    console.log(`300 requests over 50/s burst 100: ${took} ms, ${st.rateLimitHits.connection} refusals, ${st.rateLimitCloses} closes`);
  });
});
