// wss-mp-client/messaging on the fake wx and a scripted wss-mp.v1 server (messaging-fake.ts),
// with an injected clock: every rule of docs/protocol.md the client owns. The end-to-end twins
// run the built miniprogram_dist/messaging.js on real sockets (test/messaging-client.e2e.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMessagingClient, MESSAGING_DEFAULTS, MessagingError, type MessagingOptions, type Position } from '../src/messaging';
import { webPlatform } from '../src/web';
import { FakeClock, fixedRandom } from './fake-clock';
import { FakeWx } from './fake-wx';
import { FakeLimit, FakeProtocolServer, MemoryStorage } from './messaging-fake';

const URL = 'wss://example.test/ws';

function setup(opts: Partial<MessagingOptions> = {}, shared?: { clock: FakeClock; wx: FakeWx; server: FakeProtocolServer; storage: MemoryStorage }) {
  const clock = shared?.clock ?? new FakeClock();
  const wx = shared?.wx ?? new FakeWx(clock);
  const server = shared?.server ?? new FakeProtocolServer(wx, clock);
  const storage = shared?.storage ?? new MemoryStorage();
  const mc = createMessagingClient({ url: URL, platform: wx, clock, random: fixedRandom(0.25, 0.75), storage, heartbeatInterval: 0, ...opts });
  const errors: { code: string; remoteCode?: string; message: string }[] = [];
  const events: string[] = [];
  mc.on('error', (e) => errors.push(e as any));
  for (const k of ['welcome', 'resync', 'reply', 'message'] as const) mc.on(k, () => events.push(k));
  const welcomed = async (n = 1) => clock.until(() => events.filter((e) => e === 'welcome').length >= n);
  return { clock, wx, server, storage, mc, errors, events, welcomed, shared: { clock, wx, server, storage } };
}

/** Runs the fake clock until `p` settles, then gives its outcome. */
async function settle<T>(clock: FakeClock, p: Promise<T>): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await clock.until(() => done);
  return p;
}

/** A subscription that records what it delivers. */
function recorder() {
  const got: { data: unknown; ctx: Position }[] = [];
  const resyncs: unknown[] = [];
  const errors: MessagingError[] = [];
  return {
    got,
    resyncs,
    errors,
    offsets: () => got.map((g) => g.ctx.offset),
    handlers: { onPublication: (data: unknown, ctx: Position) => void got.push({ data, ctx }), onResync: (i: unknown) => void resyncs.push(i), onError: (e: MessagingError) => void errors.push(e) },
  };
}

describe('negotiation and authentication', () => {
  test('offers wss-mp.v1 (first, keeping the app\'s own), the token as Authorization: Bearer on wx', async () => {
    const s = setup({ url: { url: URL, protocols: ['chat'] }, token: 'tk1' });
    await s.welcomed();
    const o = s.wx.options[0];
    assert.deepEqual(o.protocols, ['wss-mp.v1', 'chat']);
    assert.equal(o.header.Authorization, 'Bearer tk1');
    assert.equal(o.url, URL);
    s.mc.destroy();
  });

  test('a host that cannot set headers (webPlatform) gets ?token= (URL-encoded); a token function is called per attempt', async () => {
    const clock = new FakeClock();
    const wx = new FakeWx(clock);
    const server = new FakeProtocolServer(wx, clock);
    const platform = Object.assign({}, wx, { noHeaders: true, connectSocket: wx.connectSocket });
    let calls = 0;
    const mc = createMessagingClient({ url: URL + '?a=1', platform, clock, storage: new MemoryStorage(), token: () => `t ${++calls}&`, heartbeatInterval: 0 });
    await clock.until(() => wx.current?.state === 'open');
    assert.equal(wx.options[0].url, URL + '?a=1&token=t%201%26');
    assert.equal(wx.options[0].header, undefined);
    wx.current!.drop();
    await clock.until(() => wx.options.length === 2);
    assert.equal(wx.options[1].url, URL + '?a=1&token=t%202%26');
    assert.equal(webPlatform().noHeaders, true);
    mc.destroy();
    void server;
  });

  test('nothing but heartbeats before the welcome: a request and a subscription made early go after it, sub first', async () => {
    const s = setup({ heartbeatInterval: 1000, heartbeatTimeout: 5000 });
    s.server.welcome = false;
    const p = s.mc.request('early');
    s.mc.subscribe('news', recorder().handlers);
    await s.clock.until(() => s.wx.current?.state === 'open');
    await s.clock.advance(3000);
    assert.equal(s.server.frames.length, 0, 'no protocol frame before the welcome');
    assert.ok(s.wx.sentLog.includes('{"type":"ping"}'), 'heartbeats do go');
    s.server.push(s.server.current, { t: 'welcome', v: 1, cid: '9', user: 'u1', ping: 25000 });
    assert.equal(await settle(s.clock, p), 'early');
    assert.deepEqual(s.server.frames.map((x) => x.f.t), ['sub', 'req']);
    s.mc.destroy();
  });

  test('a server that does not select wss-mp.v1: ERR_PROTOCOL, and no protocol frame is sent', async () => {
    const s = setup();
    s.server.selectProtocol = false;
    s.server.welcome = false;
    void s.mc.request('x').catch(() => {});
    await s.clock.until(() => s.errors.length > 0);
    assert.equal(s.errors[0]!.code, 'ERR_PROTOCOL');
    await s.clock.advance(1000);
    assert.equal(s.server.frames.length, 0);
    s.mc.destroy();
  });

  test('a host without handshake headers and a server whose first frame is not a welcome: ERR_PROTOCOL once', async () => {
    const s = setup();
    s.server.welcome = false;
    // The host gives no headers (like webPlatform): only the first frame can tell.
    const connect = s.wx.connectSocket;
    s.wx.connectSocket = (o: any) => {
      const t = connect(o);
      const on = t.onOpen.bind(t);
      t.onOpen = (fn: any) => on(() => fn(undefined));
      return t;
    };
    await s.clock.until(() => s.wx.current?.state === 'open');
    s.wx.current!.push('{"type":"hello"}');
    s.wx.current!.push('{"type":"hello"}');
    await s.clock.advance(10);
    assert.deepEqual(s.errors.map((e) => e.code), ['ERR_PROTOCOL']);
    s.mc.destroy();
  });

  test('HTTP 401 with a static token: ERR_AUTH and closed after one attempt (no retry storm)', async () => {
    const s = setup({ token: 'bad' });
    s.server.refuse = [401];
    await s.clock.until(() => s.mc.client.state === 'closed');
    assert.equal(s.wx.connectCalls, 1);
    assert.deepEqual(s.errors.map((e) => e.code), ['ERR_SOCKET', 'ERR_AUTH']);
    assert.match(s.errors[1]!.message, /401/);
    assert.ok(!JSON.stringify(s.errors.map((e) => e.message)).includes('bad'), 'the token is never in an error');
    s.mc.destroy();
  });

  test('HTTP 401/403 with a token function: asked again with refused: true, authRetries times, then ERR_AUTH', async () => {
    const s = setup({ token: (i) => (infos.push(i.refused), 'tk') });
    const infos: boolean[] = [];
    s.server.refuse = [401, 403];
    await s.welcomed();
    assert.deepEqual(infos, [false, true, true]);
    // A welcome resets the count; then three refusals in a row exceed authRetries (2).
    s.server.refuse = [401, 401, 401];
    s.server.current.drop();
    await s.clock.until(() => s.mc.client.state === 'closed');
    assert.deepEqual(infos, [false, true, true, false, true, true]);
    assert.equal(s.errors.filter((e) => e.code === 'ERR_AUTH').length, 1);
    s.mc.destroy();
  });

  test('close 4001 after the upgrade counts as a refusal too: retried with a fresh token when token is a function', async () => {
    const infos: boolean[] = [];
    const s = setup({ token: (i) => (infos.push(i.refused), 'tk') });
    await s.welcomed();
    s.server.current.serverClose(4001, 'expired');
    await s.welcomed(2);
    assert.deepEqual(infos, [false, true]);
    s.mc.destroy();
  });
});

describe('requests', () => {
  test('resolve with the ack data; an ack error rejects ERR_REMOTE with the server code; ids = stored prefix + counter', async () => {
    const s = setup();
    s.server.handler = (d) => (d === 'boom' ? undefined : { echo: d });
    await s.welcomed();
    assert.deepEqual(await settle(s.clock, s.mc.request('tom')), { echo: 'tom' });
    const t = s.server.current;
    s.server.ack = false;
    const rej = s.mc.request('boom');
    await s.clock.until(() => s.server.sent('req').length === 2);
    const id = s.server.sent('req')[1].id;
    t.push(JSON.stringify({ t: 'ack', id, error: { code: 'HANDLER_ERROR', message: 'handler failed' } }));
    await assert.rejects(settle(s.clock, rej), (e: MessagingError) => e instanceof MessagingError && e.code === 'ERR_REMOTE' && e.remoteCode === 'HANDLER_ERROR');
    const ids = s.server.sent('req').map((f) => f.id);
    const prefix = JSON.parse(s.storage.map.get('wss-mp:client')!);
    assert.deepEqual(ids, [`${prefix}-1`, `${prefix}-2`]);
    assert.equal(s.mc.pending, 0);
    assert.deepEqual(s.storage.json('wss-mp:requests'), { n: 2, q: [] });
    s.mc.destroy();
  });

  test('kept until acked and resent with the same id after every reconnect; processed once', async () => {
    const s = setup();
    await s.welcomed();
    s.server.ack = false;
    const p = s.mc.request({ n: 1 });
    await s.clock.until(() => s.server.handled.length === 1);
    s.server.current.drop(); // the ack is lost with the link
    await s.welcomed(2);
    s.server.current.drop();
    s.server.ack = true;
    await s.welcomed(3);
    assert.deepEqual(await settle(s.clock, p), { n: 1 });
    const reqs = s.server.sent('req');
    assert.equal(reqs.length, 3);
    assert.ok(reqs.every((f) => f.id === reqs[0].id));
    assert.equal(s.server.handled.length, 1, 'processed once');
    s.mc.destroy();
  });

  test('UNAVAILABLE is not an answer: the request is kept and resent after the next welcome', async () => {
    const s = setup();
    await s.welcomed();
    s.server.ack = false;
    const p = s.mc.request('later');
    await s.clock.until(() => s.server.sent('req').length === 1);
    const id = s.server.sent('req')[0].id;
    s.server.push(s.server.current, { t: 'ack', id, error: { code: 'UNAVAILABLE', message: 'draining' } });
    await s.clock.advance(50);
    assert.equal(s.mc.pending, 1);
    s.server.ack = true;
    s.server.current.serverClose(1001, 'draining');
    assert.equal(await settle(s.clock, p), 'later');
    s.mc.destroy();
  });

  test('timeout: ERR_TIMEOUT, the request stays pending and its late ack comes as a reply event', async () => {
    const s = setup({ requestTimeout: 1000 });
    await s.welcomed();
    s.server.ack = false;
    const p = s.mc.request('slow');
    const t0 = s.clock.now();
    await assert.rejects(
      Promise.all([p, s.clock.advance(1500)]),
      (e: MessagingError) => e.code === 'ERR_TIMEOUT',
    );
    assert.ok(s.clock.now() - t0 >= 1000);
    assert.equal(s.mc.pending, 1);
    const replies: any[] = [];
    s.mc.on('reply', (r) => replies.push(r));
    s.server.ack = true;
    s.server.current.drop();
    await s.clock.until(() => replies.length === 1);
    assert.equal(replies[0].data, 'slow');
    assert.equal(s.mc.pending, 0);
    s.mc.destroy();
  });

  test('app restart: unacked requests persist; a new client on the same storage resends them (same ids) and emits reply', async () => {
    const a = setup();
    await a.welcomed();
    a.server.ack = false;
    const p1 = a.mc.request('r1');
    const p2 = a.mc.request({ r: 2 });
    await a.clock.until(() => a.server.handled.length === 2);
    const ids = a.server.sent('req').map((f) => f.id);
    assert.deepEqual(a.storage.json('wss-mp:requests').q.map((e: unknown[]) => e[0]), ids);
    a.mc.destroy(); // the app is killed
    await assert.rejects(p1, (e: MessagingError) => e.code === 'ERR_CLOSED');
    await assert.rejects(p2, (e: MessagingError) => e.code === 'ERR_CLOSED');
    a.server.ack = true;
    const b = setup({}, a.shared);
    assert.equal(b.mc.pending, 2);
    const replies: any[] = [];
    b.mc.on('reply', (r) => replies.push(r));
    await b.clock.until(() => replies.length === 2);
    assert.deepEqual(replies.map((r) => [r.id, r.data]), [[ids[0], 'r1'], [ids[1], { r: 2 }]]);
    assert.equal(a.server.handled.length, 2, 'each processed exactly once');
    // The counter survived too: the next id is new.
    await settle(b.clock, b.mc.request('r3'));
    const next = b.server.sent('req').at(-1).id;
    assert.ok(!ids.includes(next) && next.endsWith('-3'), next);
    b.mc.destroy();
  });

  test('bad arguments: non-JSON data and a bad timeout reject ERR_ARGUMENT; request after destroy rejects ERR_CLOSED', async () => {
    const s = setup();
    await assert.rejects(s.mc.request(10n), (e: MessagingError) => e.code === 'ERR_ARGUMENT');
    await assert.rejects(s.mc.request(1, { timeout: -1 }), (e: MessagingError) => e.code === 'ERR_ARGUMENT');
    s.mc.destroy();
    await assert.rejects(s.mc.request(1), (e: MessagingError) => e.code === 'ERR_CLOSED');
    assert.equal(s.mc.pending, 0);
  });

  test('a request over maxMessageSize is refused (ERR_ARGUMENT) and not kept', async () => {
    const s = setup({ maxMessageSize: 100 });
    await s.welcomed();
    await assert.rejects(s.mc.request('é'.repeat(60)), (e: MessagingError) => e.code === 'ERR_ARGUMENT');
    assert.equal(s.mc.pending, 0);
    assert.deepEqual(s.storage.json('wss-mp:requests').q, []);
    s.mc.destroy();
  });
});

describe('rate limits (an error frame with an id: not processed, resend after retryAfter)', () => {
  test('a burst of 300 over 50/s (burst 100): each processed once and resolved, resends at the server\'s times, the socket kept', async () => {
    const s = setup({ requestTimeout: 0 });
    const limit = (s.server.limit = new FakeLimit(s.clock, 50, 100));
    await s.welcomed();
    const t0 = s.clock.now();
    const ps = Array.from({ length: 300 }, (_, i) => s.mc.request({ i }));
    let done = 0;
    for (const p of ps) p.then(() => done++);
    await s.clock.until(() => done === 300, 60_000);
    assert.deepEqual(await Promise.all(ps), Array.from({ length: 300 }, (_, i) => ({ i })));
    assert.equal(s.server.handled.length, 300);
    assert.equal(new Set(s.server.handled).size, 300, 'each processed exactly once');
    assert.equal(limit.refused, 200, 'the 200 over the burst were refused once each');
    assert.equal(limit.early, 0, 'never a resend before its time');
    // 200 more at 50/s: about 4 s, not a reconnect's worth of waiting.
    const took = s.clock.now() - t0;
    assert.ok(took >= 4000 && took < 4500, `${took} ms`);
    assert.equal(s.wx.options.length, 1, 'one connection throughout');
    assert.equal(s.errors.length, 0, 'refusals are not errors');
    assert.equal(s.mc.pending, 0);
    s.mc.destroy();
  });

  test('at most 64 requests unanswered (MAX_UNACKED_REQUESTS): the rest go as answers come; a new connection, a new window', async () => {
    const s = setup({ requestTimeout: 0 });
    await s.welcomed();
    s.server.ack = false;
    const ps = Array.from({ length: 100 }, (_, i) => s.mc.request(i));
    let done = 0;
    for (const p of ps) p.then(() => done++);
    await s.clock.advance(500);
    assert.deepEqual(s.server.sent('req').map((f) => f.data), Array.from({ length: 64 }, (_, i) => i), 'the oldest 64, and no more');
    // Answers come again (on a new connection: the held acks are gone with the old one).
    s.server.ack = true;
    s.mc.client.reconnect();
    await s.clock.until(() => done === 100, 30_000);
    assert.equal(new Set(s.server.handled).size, 100, 'each processed once');
    const second = s.server.frames.filter((x) => x.f.t === 'req' && x.task !== s.server.frames[0]!.task);
    assert.equal(new Set(second.map((x) => x.f.id)).size, 100, 'all 100 went on the new connection, 64 at a time');
    assert.equal(s.mc.pending, 0);
    s.mc.destroy();
  });

  test('requests made while refused ones wait go after the last of them (never into their slots)', async () => {
    const s = setup({ requestTimeout: 0 });
    const limit = (s.server.limit = new FakeLimit(s.clock, 10, 5));
    await s.welcomed();
    const first = Array.from({ length: 20 }, (_, i) => s.mc.request(`a${i}`));
    await s.clock.until(() => limit.refused === 15);
    // Mid-way through the resends, the app goes on making requests.
    await s.clock.advance(700);
    const later = Array.from({ length: 10 }, (_, i) => s.mc.request(`b${i}`));
    const all = Promise.all([...first, ...later]);
    let done = false;
    all.then(() => (done = true));
    await s.clock.until(() => done, 60_000);
    const reqs = s.server.sent('req').map((f) => f.data as string);
    const lastA = reqs.lastIndexOf('a19');
    assert.ok(reqs.indexOf('b0') > lastA, `b0 sent after the last refused a: ${reqs.join(' ')}`);
    assert.equal(limit.early, 0);
    assert.equal(new Set(s.server.handled).size, 30);
    assert.equal(s.server.handled.length, 30);
    s.mc.destroy();
  });

  test('no retryAfter: resent after a jittered 0.5–1.5 s (injected random); a refused sub is subscribed again', async () => {
    const s = setup();
    await s.welcomed();
    let refuse = 2;
    // Refuse the first two frames without retryAfter (NaN: none given).
    s.server.limit = { check: () => (refuse-- > 0 ? Number.NaN : undefined) };
    const rec = recorder();
    s.mc.subscribe('news', rec.handlers);
    const p = s.mc.request('x');
    await s.clock.until(() => s.server.frames.length === 2);
    const t0 = s.clock.now();
    assert.equal(await settle(s.clock, p), 'x');
    const reqs = s.server.frames.filter((x) => x.f.t === 'req');
    assert.equal(reqs.length, 2, 'sent, refused, resent once');
    // fixedRandom(0.25, 0.75): the prefix took two values; the backoffs are 500 + 1000 × the next.
    const waited = s.clock.now() - t0;
    assert.ok(waited >= 750 && waited < 1300, `resent after ${waited} ms`);
    await s.clock.until(() => s.server.sent('sub').length === 2);
    const subs = s.server.sent('sub');
    assert.notEqual(subs[1].id, subs[0].id, 'a fresh sub id');
    s.server.publish('news', 'hello');
    await s.clock.until(() => rec.got.length === 1);
    assert.deepEqual(rec.errors, []);
    s.mc.destroy();
  });

  test('its own timeout still applies: ERR_TIMEOUT, then the resend is processed and answered as a reply event', async () => {
    const s = setup({ requestTimeout: 1000 });
    await s.welcomed();
    s.server.limit = { check: (f) => (f.data === 'slow' && s.server.sent('req').length === 1 ? 3000 : undefined) };
    const p = s.mc.request('slow');
    const replies: any[] = [];
    s.mc.on('reply', (r) => replies.push(r));
    await assert.rejects(Promise.all([p, s.clock.advance(1500)]), (e: MessagingError) => e.code === 'ERR_TIMEOUT');
    assert.equal(s.mc.pending, 1, 'still kept');
    await s.clock.until(() => replies.length === 1);
    assert.equal(replies[0].data, 'slow');
    assert.deepEqual(s.server.handled.length, 1);
    s.mc.destroy();
  });

  test('a new connection resends every waiting request at once (a new bucket): no stale timer holds new ones', async () => {
    const s = setup({ requestTimeout: 0 });
    await s.welcomed();
    s.server.limit = { check: (f) => (f.t === 'req' && s.wx.options.length === 1 ? 60_000 : undefined) };
    const p = s.mc.request('a');
    await s.clock.until(() => s.server.sent('req').length === 1);
    s.server.current.drop();
    await s.welcomed(2);
    assert.equal(await settle(s.clock, p), 'a');
    const t = s.clock.now();
    assert.equal(await settle(s.clock, s.mc.request('b')), 'b');
    assert.ok(s.clock.now() - t < 100, 'sent at once');
    s.mc.destroy();
  });
});

describe('subscriptions', () => {
  test('new channel: sub without pos; publications exactly once, in order; duplicates dropped; position persisted', async () => {
    const s = setup();
    const r = recorder();
    const sub = s.mc.subscribe('news', r.handlers);
    assert.equal(sub.position, null);
    await s.clock.until(() => sub.position !== null);
    assert.deepEqual(s.server.sent('sub')[0], { t: 'sub', id: s.server.sent('sub')[0].id, ch: 'news' });
    for (let i = 1; i <= 3; i++) s.server.publish('news', { i });
    await s.clock.until(() => r.got.length === 3);
    s.server.push(s.server.current, { t: 'pub', ch: 'news', offset: 2, epoch: 'e1', data: 'dup' });
    await s.clock.advance(20);
    assert.deepEqual(r.offsets(), [1, 2, 3]);
    assert.deepEqual(r.got[0], { data: { i: 1 }, ctx: { offset: 1, epoch: 'e1' } });
    assert.deepEqual(sub.position, { offset: 3, epoch: 'e1' });
    assert.deepEqual(s.storage.json('wss-mp:positions'), { news: { offset: 3, epoch: 'e1' } });
    s.mc.destroy();
  });

  test('after every reconnect: sub with the position; what was missed is replayed exactly once', async () => {
    const s = setup();
    const r = recorder();
    s.mc.subscribe('news', r.handlers);
    await s.welcomed();
    s.server.publish('news', 1);
    await s.clock.until(() => r.got.length === 1);
    s.server.current.drop();
    for (let i = 2; i <= 5; i++) s.server.publish('news', i); // while away
    await s.welcomed(2);
    await s.clock.until(() => r.got.length === 5);
    s.server.publish('news', 6);
    await s.clock.until(() => r.got.length === 6);
    assert.deepEqual(r.offsets(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(s.server.sent('sub')[1].pos, { offset: 1, epoch: 'e1' });
    assert.deepEqual(r.resyncs, []);
    s.mc.destroy();
  });

  test('a gap (offset > last + 1) is never delivered: unsub + sub from the position fills it', async () => {
    const s = setup();
    const r = recorder();
    s.mc.subscribe('news', r.handlers);
    await s.welcomed();
    await s.clock.until(() => s.server.sent('sub').length === 1);
    await s.clock.advance(10);
    s.server.publish('news', 1);
    s.server.publish('news', 2);
    s.server.publish('news', 3);
    await s.clock.until(() => r.got.length === 3);
    // The server "loses" 4 and 5 on this connection, then sends 6.
    const st = s.server.stream('news');
    st.items.push({ offset: 4, data: 4 }, { offset: 5, data: 5 });
    s.server.publish('news', 6);
    await s.clock.until(() => r.got.length === 6);
    assert.deepEqual(r.offsets(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(s.server.frames.slice(-2).map((x) => x.f.t), ['unsub', 'sub']);
    assert.deepEqual(s.server.sent('sub').at(-1).pos, { offset: 3, epoch: 'e1' });
    s.mc.destroy();
  });

  test('recovered: false (history lost, new epoch): onResync + resync event, then on from the returned position', async () => {
    const s = setup();
    const r = recorder();
    const sub = s.mc.subscribe('news', r.handlers);
    await s.welcomed();
    s.server.publish('news', 'a');
    await s.clock.until(() => r.got.length === 1);
    s.server.current.drop();
    s.server.loseHistory('news', 'e2');
    s.server.publish('news', 'b'); // offset 1 of e2
    await s.clock.until(() => r.resyncs.length === 1);
    assert.deepEqual(r.resyncs[0], { channel: 'news', position: { offset: 1, epoch: 'e2' }, previous: { offset: 1, epoch: 'e1' } });
    assert.ok(s.events.includes('resync'));
    s.server.publish('news', 'c');
    await s.clock.until(() => r.got.length === 2);
    assert.deepEqual(r.got[1], { data: 'c', ctx: { offset: 2, epoch: 'e2' } });
    assert.deepEqual(sub.position, { offset: 2, epoch: 'e2' });
    s.mc.destroy();
  });

  test('app restart: a new client on the same storage subscribes from the stored position and gets what it missed', async () => {
    const a = setup();
    const r1 = recorder();
    a.mc.subscribe('news', r1.handlers);
    await a.welcomed();
    a.server.publish('news', 1);
    a.server.publish('news', 2);
    await a.clock.until(() => r1.got.length === 2);
    a.mc.destroy();
    a.server.publish('news', 3);
    const b = setup({}, a.shared);
    const r2 = recorder();
    b.mc.subscribe('news', r2.handlers);
    await b.clock.until(() => r2.got.length === 1);
    await b.clock.advance(50);
    assert.deepEqual(r2.offsets(), [3]);
    assert.deepEqual(a.server.sent('sub').at(-1).pos, { offset: 2, epoch: 'e1' });
    b.mc.destroy();
  });

  test('unsubscribe stops delivery and forgets the position; a server unsub ends it with ERR_REMOTE', async () => {
    const s = setup();
    const r = recorder();
    const sub = s.mc.subscribe('a', r.handlers);
    const r2 = recorder();
    s.mc.subscribe('b', r2.handlers);
    await s.clock.until(() => sub.position !== null);
    sub.unsubscribe();
    sub.unsubscribe();
    s.server.publish('a', 1);
    await s.clock.advance(20);
    assert.deepEqual(r.got, []);
    assert.equal(s.server.sent('unsub').length, 1);
    assert.deepEqual(Object.keys(s.storage.json('wss-mp:positions')), ['b']);
    s.server.push(s.server.current, { t: 'unsub', ch: 'b', code: 'FORBIDDEN', message: 'revoked' });
    await s.clock.advance(5);
    assert.equal(r2.errors[0]!.code, 'ERR_REMOTE');
    assert.equal(r2.errors[0]!.remoteCode, 'FORBIDDEN');
    assert.throws(() => s.mc.subscribe('', r.handlers), (e: MessagingError) => e.code === 'ERR_ARGUMENT');
    s.mc.subscribe('a', r.handlers); // allowed again
    assert.throws(() => s.mc.subscribe('a', r.handlers), (e: MessagingError) => e.code === 'ERR_ARGUMENT');
    s.mc.destroy();
  });

  test('a sub refused by the server (FORBIDDEN ack) ends the subscription through onError', async () => {
    const b = setup();
    const conn = b.server;
    const r2 = recorder();
    const frameHandler = (conn as any).frame.bind(conn);
    (conn as any).frame = (t: any, d: string) => {
      const f = JSON.parse(d);
      if (f.t === 'sub') return conn.push(t, { t: 'ack', id: f.id, error: { code: 'FORBIDDEN', message: 'no' } });
      frameHandler(t, d);
    };
    const sub = b.mc.subscribe('secret', r2.handlers);
    await b.clock.until(() => r2.errors.length === 1);
    assert.equal(r2.errors[0]!.remoteCode, 'FORBIDDEN');
    assert.equal(sub.position, null);
    b.server.publish('secret', 'x');
    await b.clock.advance(10);
    assert.deepEqual(r2.got, []);
    b.mc.subscribe('secret', r2.handlers); // over: the channel may be subscribed again
    b.mc.destroy();
  });
});

describe('hostile callbacks, storage, options', () => {
  test('onPublication and listeners that throw: ERR_CALLBACK, delivery and state go on', async () => {
    const s = setup();
    let n = 0;
    s.mc.on('welcome', () => {
      throw new Error('listener');
    });
    const sub = s.mc.subscribe('news', {
      onPublication: () => {
        n++;
        throw new Error('app bug');
      },
    });
    await s.welcomed();
    s.server.publish('news', 1);
    s.server.publish('news', 2);
    await s.clock.until(() => n === 2);
    assert.deepEqual(sub.position, { offset: 2, epoch: 'e1' });
    assert.deepEqual(s.errors.map((e) => e.code), ['ERR_CALLBACK', 'ERR_CALLBACK', 'ERR_CALLBACK']);
    s.mc.destroy();
  });

  test('storage that throws: ERR_STORAGE, the client carries on in memory', async () => {
    const storage = new MemoryStorage();
    storage.fail = true;
    const s = setup({ storage });
    assert.equal(await settle(s.clock, s.mc.request('x')), 'x');
    assert.ok(s.errors.some((e) => e.code === 'ERR_STORAGE'));
    s.mc.destroy();
  });

  test('default storage: the platform\'s get/setStorageSync (WeChat answers "" for a missing key; nothing is ever removed)', async () => {
    const clock = new FakeClock();
    const wx = new FakeWx(clock) as FakeWx & Record<string, unknown>;
    new FakeProtocolServer(wx, clock);
    const kv = new Map<string, unknown>();
    Object.assign(wx, { getStorageSync: (k: string) => (kv.has(k) ? kv.get(k) : ''), setStorageSync: (k: string, v: unknown) => kv.set(k, v) });
    const mc = createMessagingClient({ url: URL, platform: wx, clock, heartbeatInterval: 0, storageKey: 'app' });
    assert.equal(await settle(clock, mc.request('hi')), 'hi');
    assert.deepEqual([...kv.keys()].sort(), ['app:client', 'app:requests']);
    mc.destroy();
  });

  test('options: defaults; a wrong messaging option throws ERR_OPTION naming it; core options still checked', () => {
    assert.deepEqual(MESSAGING_DEFAULTS, { storageKey: 'wss-mp', requestTimeout: 30000, authRetries: 2 });
    const bad: [string, unknown][] = [['token', 5], ['storage', 'x'], ['storage', { getItem() {} }], ['storageKey', ''], ['requestTimeout', -1], ['authRetries', Infinity]];
    for (const [k, v] of bad) {
      assert.throws(
        () => createMessagingClient({ url: URL, platform: new FakeWx(new FakeClock()), [k]: v } as MessagingOptions),
        (e: MessagingError) => e.code === 'ERR_OPTION' && e.message.includes(`"${k}"`),
        k,
      );
    }
    assert.throws(() => createMessagingClient({ url: URL, platform: new FakeWx(new FakeClock()), queueSize: -1 }), (e: any) => e.code === 'ERR_OPTION');
  });

  test('msg frames come as message events; error frames as ERR_REMOTE', async () => {
    const s = setup();
    const msgs: unknown[] = [];
    s.mc.on('message', (m) => msgs.push(m.data));
    await s.welcomed();
    s.server.push(s.server.current, { t: 'msg', data: { hello: 1 } });
    s.server.push(s.server.current, { t: 'error', code: 'BAD_FRAME', message: 'unknown t' });
    await s.clock.advance(5);
    assert.deepEqual(msgs, [{ hello: 1 }]);
    assert.equal(s.errors.at(-1)!.remoteCode, 'BAD_FRAME');
    s.mc.destroy();
  });
});
