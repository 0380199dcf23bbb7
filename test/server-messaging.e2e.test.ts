// Messaging and authentication in wss-mp-server (built package, in process), with real ws
// sockets on loopback and raw TCP where "no 101 was ever written" must be proven.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type LogEntry, type ServerOptions, type WssMpServer } from 'wss-mp-server';
import { WebSocket } from 'ws';
import { ProtoClient } from './conformance/client';
import { rawExchange } from './support/net-tools';
import { signHs256, now } from './support/jwt';
import { waitFor } from './support/wait';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const servers: WssMpServer<any>[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function start(o: ServerOptions<any>): Promise<{ server: WssMpServer<any>; url: string; port: number; logs: LogEntry[] }> {
  const logs: LogEntry[] = [];
  const server = createServer({ port: 0, heartbeatInterval: 0, drainTimeout: 200, logger: (e) => logs.push(e), ...o });
  servers.push(server);
  const url = await server.listen();
  return { server, url, port: server.address()!.port, logs };
}

const upgradeRequest = (path: string, headers = '') =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wss-mp.v1\r\n${headers}\r\n`;

async function welcomed(url: string, token?: string): Promise<ProtoClient> {
  const c = await ProtoClient.open(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const w = await c.next();
  assert.equal(w.t, 'welcome');
  return c;
}

describe('authentication before the upgrade', () => {
  test('jwt: a missing, bad, expired or sub-less token is a 401 on the raw socket, never a 101; tokens are not logged', async () => {
    const { port, url, logs } = await start({ jwt: { secret: SECRET }, messaging: true });
    const expired = signHs256(SECRET, { sub: 'u1', exp: now() - 60 });
    const forged = signHs256('another-secret-that-is-at-least-32-bytes!!', { sub: 'u1' });
    const noSub = signHs256(SECRET, { exp: now() + 60 });
    const cases: [string, string, RegExp][] = [
      ['/wss', '', /missing token/],
      ['/wss', 'Authorization: Bearer not.a.jwt\r\n', /invalid token/],
      ['/wss', `Authorization: Bearer ${forged}\r\n`, /invalid token/],
      [`/wss?token=${expired}`, '', /token expired/],
      ['/wss', `Authorization: Bearer ${noSub}\r\n`, /no sub/],
    ];
    for (const [path, headers, body] of cases) {
      const { data } = await rawExchange(port, upgradeRequest(path, headers));
      const text = data.toString();
      assert.match(text, /^HTTP\/1\.1 401 Unauthorized\r\n/, text);
      assert.match(text, /WWW-Authenticate: Bearer/);
      assert.match(text, body);
      assert.doesNotMatch(text, /101 Switching Protocols/);
    }
    // A good token, in the header and in the query.
    const token = signHs256(SECRET, { sub: 'alice', exp: now() + 60, role: 'x' });
    const a = await ProtoClient.open(url, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual((await a.next()).user, 'alice');
    const b = await ProtoClient.open(`${url}?token=${token}`);
    assert.equal((await b.next()).user, 'alice');
    await Promise.all([a.close(), b.close()]);
    const all = JSON.stringify(logs);
    for (const t of [token, expired, forged, noSub]) assert.ok(!all.includes(t), 'no token in the logs');
    assert.equal(logs.filter((l) => l.event === 'reject' && l.status === 401).length, cases.length);
  });

  test('authenticate: 403 refusal, a throw is a contained 500, a never-settling promise a 503 at the handshake timeout', async () => {
    const errors: Error[] = [];
    const { port, url } = await start({
      handshakeTimeout: 400,
      onError: (e) => errors.push(e),
      authenticate(req) {
        const who = new URL(req.url!, 'http://x').searchParams.get('who');
        if (who === 'banned') return { status: 403, reason: 'banned user' };
        if (who === 'boom') throw new Error('authenticate exploded');
        if (who === 'hang') return new Promise(() => {});
        if (who === 'junk') return { nope: true } as never;
        return { id: who ?? 'anon', data: { plan: 'free' } };
      },
      messaging: true,
    });
    const expect = async (who: string, status: RegExp) => {
      const t0 = Date.now();
      const text = (await rawExchange(port, upgradeRequest(`/wss?who=${who}`))).data.toString();
      assert.match(text, status, who);
      assert.doesNotMatch(text, / 101 /);
      return Date.now() - t0;
    };
    await expect('banned', /^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*banned user/);
    await expect('boom', /^HTTP\/1\.1 500 /);
    await expect('junk', /^HTTP\/1\.1 500 /);
    const waited = await expect('hang', /^HTTP\/1\.1 503 /);
    assert.ok(waited >= 350, `503 only at the handshake timeout (${waited} ms)`);
    // The server is fine afterwards, and the user is the one authenticate named.
    const c = await ProtoClient.open(`${url}?who=bob`);
    const w = await c.next();
    assert.equal(w.user, 'bob');
    await c.close();
  });

  test('a shutdown that starts while authenticate decides refuses that upgrade with 503, not a 101', async () => {
    let release: (() => void) | undefined;
    const { server, port } = await start({
      authenticate: () => new Promise((resolve) => (release = () => resolve({ id: 'late' }))),
    });
    const answer = rawExchange(port, upgradeRequest('/wss'));
    await waitFor(() => release, { what: 'authenticate to be called' });
    const closing = server.close();
    release!();
    const text = (await answer).data.toString();
    assert.match(text, /^HTTP\/1\.1 503 /);
    assert.match(text, /server shutting down/);
    await closing;
  });
});

describe('addressing', () => {
  test('sendToUser reaches every connection of that user subscribed to $user; presence counts users and connections', async () => {
    const { server, url } = await start({ jwt: { secret: SECRET }, messaging: true });
    const tok = (sub: string) => signHs256(SECRET, { sub, exp: now() + 60 });
    const [a1, a2, b] = await Promise.all([welcomed(url, tok('alice')), welcomed(url, tok('alice')), welcomed(url, tok('bob'))]);
    for (const c of [a1, a2, b]) {
      c.send({ t: 'sub', id: 's1', ch: '$user' });
      const ack = await c.next((f) => f.t === 'ack');
      assert.equal(ack.data.recovered, true);
      c.send({ t: 'sub', id: 's2', ch: 'room' });
      await c.next((f) => f.t === 'ack' && f.id === 's2');
    }
    const pos = await server.sendToUser('alice', { hi: 1 });
    for (const c of [a1, a2]) {
      const p = await c.next((f) => f.t === 'pub');
      assert.deepEqual(p, { t: 'pub', ch: '$user', offset: pos.offset, epoch: pos.epoch, data: { hi: 1 } });
    }
    assert.equal((await b.request('marker')).data, 'marker');
    assert.equal(b.frames.filter((f) => f.t === 'pub').length, 0, 'bob got nothing');
    const everyone = await server.presence();
    assert.deepEqual([...everyone.users].sort(), ['alice', 'bob']);
    assert.equal(everyone.connections, 3);
    assert.deepEqual(everyone.userConnections, { alice: 2, bob: 1 });
    assert.deepEqual(await server.presence('room'), { users: ['alice', 'bob'], connections: 3, userConnections: { alice: 2, bob: 1 } });
    assert.deepEqual(server.localPresence('room'), await server.presence('room'), 'one process: the local view is the whole');
    await assert.rejects(() => server.presence('$user'), { code: 'ERR_ARGUMENT' });
    await a2.close();
    await waitFor(async () => (await server.presence('room')).connections === 2, { what: 'presence to drop a2' });
    assert.deepEqual((await server.presence('room')).userConnections, { alice: 1, bob: 1 });
    await assert.rejects(() => server.publish('$user', 1), { code: 'ERR_ARGUMENT' });
    await Promise.all([a1.close(), b.close()]);
  });

  test('singleSession: a newer connection of the same user closes the older with 4009', async () => {
    const { url } = await start({ jwt: { secret: SECRET }, messaging: true, singleSession: true });
    const tok = signHs256(SECRET, { sub: 'carol', exp: now() + 60 });
    const old = await welcomed(url, tok);
    const newer = await welcomed(url, tok);
    await waitFor(() => old.closed, { what: 'the older session to close' });
    assert.deepEqual(old.closed, { code: 4009, reason: 'replaced by a newer session' });
    assert.equal((await newer.request('ok')).data, 'ok');
    await newer.close();
  });

  test('messaging off: wss-mp.v1 is never selected (a v1 client sees no subprotocol); other offers only when the server is configured to speak them', async () => {
    const { url } = await start({});
    const ws = new WebSocket(url, ['wss-mp.v1']);
    let upgrade: import('node:http').IncomingMessage | undefined;
    ws.once('upgrade', (res) => (upgrade = res));
    const err = await new Promise<Error>((resolve) => ws.once('error', resolve));
    assert.equal(upgrade?.statusCode, 101);
    assert.equal(upgrade?.headers['sec-websocket-protocol'], undefined);
    assert.match(err.message, /no subprotocol/);
    // An unknown offer is never echoed (ws's default would answer `chat` to `wss-mp.v1, chat`)...
    const unknown = new WebSocket(url, ['wss-mp.v1', 'chat']);
    const unknownErr = await new Promise<Error>((resolve) => unknown.once('error', resolve));
    assert.match(unknownErr.message, /no subprotocol/);
    // ...but one the server is configured to speak is selected.
    const configured = await start({ subprotocols: ['chat'] });
    const other = new WebSocket(configured.url, ['wss-mp.v1', 'chat']);
    await new Promise((r, j) => { other.once('open', r); other.once('error', j); });
    assert.equal(other.protocol, 'chat');
    other.close();
  });
});

describe('requests: hostile handlers and idempotency', () => {
  test('a duplicate in flight waits for the first; throws are HANDLER_ERROR; never-settling is TIMEOUT and may run again', async () => {
    let runs = 0;
    const gates: (() => void)[] = [];
    const { url } = await start({
      onError: () => {},
      messaging: {
        requestTimeout: 300,
        onRequest(_conn, data) {
          runs++;
          if (data === 'throw') throw new Error('secret detail');
          if (data === 'hang') return new Promise(() => {});
          if (data === 'slow') return new Promise((resolve) => gates.push(() => resolve(`slow #${runs}`)));
          if (data === 'bigint') return 1n;
          return data;
        },
      },
    });
    const c = await welcomed(url);
    c.send({ t: 'req', id: 'same', data: 'slow' });
    c.send({ t: 'req', id: 'same', data: 'slow' });
    await waitFor(() => gates.length === 1, { what: 'the first request to reach the handler' });
    gates[0]!();
    const [a1, a2] = [await c.next((f) => f.id === 'same'), await c.next((f) => f.id === 'same')];
    assert.deepEqual(a1, a2);
    assert.equal(a1.data, 'slow #1');
    assert.equal(runs, 1, 'processed once');

    const thrown = await c.request('throw');
    assert.equal(thrown.error.code, 'HANDLER_ERROR');
    assert.doesNotMatch(JSON.stringify(thrown), /secret detail/);
    assert.equal((await c.request('bigint')).error.code, 'HANDLER_ERROR');

    const before = runs;
    const hung = await c.request('hang', 'h1');
    assert.equal(hung.error.code, 'TIMEOUT');
    const again = await c.request('hang', 'h1');
    assert.equal(again.error.code, 'TIMEOUT');
    assert.equal(runs, before + 2, 'a timed-out id is not stored: the resend ran again');
    assert.equal((await c.request('alive')).data, 'alive');
    await c.close();
  });

  test('canSubscribe: false is FORBIDDEN, a throw HANDLER_ERROR, never settling TIMEOUT; the connection stays open', async () => {
    const { url } = await start({
      onError: () => {},
      messaging: {
        requestTimeout: 300,
        canSubscribe: (_c, ch) => (ch === 'no' ? false : ch === 'boom' ? Promise.reject(new Error('x')) : ch === 'hang' ? new Promise(() => {}) : true),
      },
    });
    const c = await welcomed(url);
    for (const [ch, code] of [['no', 'FORBIDDEN'], ['boom', 'HANDLER_ERROR'], ['hang', 'TIMEOUT'], ['$secret', 'FORBIDDEN'], ['$user', 'FORBIDDEN']] as const) {
      c.send({ t: 'sub', id: `s-${ch}`, ch });
      const ack = await c.next((f) => f.t === 'ack' && f.id === `s-${ch}`);
      assert.equal(ack.error?.code, code, ch);
    }
    c.send({ t: 'sub', id: 'ok', ch: 'yes' });
    assert.equal((await c.next((f) => f.id === 'ok')).data.recovered, true);
    await c.close();
  });
});

describe('drain with requests in flight', () => {
  // Same user on several connections (ids are scoped per user): a duplicate from another
  // connection waits for the first run.
  const asUser = { authenticate: (req: { url?: string }) => ({ id: new URL(req.url!, 'http://x').searchParams.get('who') ?? 'anon' }) };
  const closedWith = (c: ProtoClient, what: string) => waitFor(() => c.closed, { timeout: 15_000, what });

  test('close() waits for a slow handler: its ack (and the duplicate\'s) go out before 1001, the handler ran once, new requests are UNAVAILABLE', async () => {
    const runs: string[] = [];
    const errors: Error[] = [];
    const { server, url, logs } = await start({
      ...asUser,
      drainTimeout: 10_000,
      onError: (e) => errors.push(e),
      messaging: {
        onRequest(_conn, data, { id }) {
          runs.push(id);
          return data === 'slow' ? new Promise((resolve) => setTimeout(() => resolve(`done ${id}`), 500)) : data;
        },
      },
    });
    const a = await welcomed(`${url}?who=u1`);
    const b = await welcomed(`${url}?who=u1`);
    const idle = await welcomed(`${url}?who=u2`);
    a.send({ t: 'req', id: 'slow-1', data: 'slow' });
    await waitFor(() => runs.includes('slow-1'), { what: 'the slow handler to start' });
    // The duplicate from b waits for a's run; b's next request being answered proves the server
    // read the duplicate (frames of one connection are handled in order).
    b.send({ t: 'req', id: 'slow-1', data: 'slow' });
    assert.equal((await b.request('after-dup', 'b-2')).data, 'after-dup');
    const t0 = Date.now();
    const closing = server.close();
    // A connection with nothing in flight goes at once.
    await closedWith(idle, 'the idle connection to be closed');
    assert.equal(idle.closed!.code, 1001);
    assert.equal(a.closed, undefined, 'a is kept open for its ack');
    // Sent during the drain: not started, answered UNAVAILABLE (the client keeps it and resends).
    const late = await a.request('late', 'late-1');
    assert.equal(late.error?.code, 'UNAVAILABLE');
    const [ackA, ackB] = [await a.next((f) => f.t === 'ack' && f.id === 'slow-1'), await b.next((f) => f.t === 'ack' && f.id === 'slow-1')];
    assert.equal(ackA.data, 'done slow-1');
    assert.deepEqual(ackB, ackA, 'the duplicate got the same answer');
    await Promise.all([closedWith(a, 'a to be closed'), closedWith(b, 'b to be closed')]);
    assert.equal(a.closed!.code, 1001, 'a closed cleanly, after its ack');
    assert.equal(b.closed!.code, 1001);
    await closing;
    assert.ok(Date.now() - t0 < 5_000, 'the drain ended when the handler did, not at drainTimeout');
    assert.deepEqual(runs, ['slow-1', 'b-2'], 'the slow handler ran once; the late request never ran');
    assert.equal(a.frames.filter((f) => f.id === 'slow-1').length, 1, 'answered once');
    assert.deepEqual(errors, []);
    const drain = logs.find((l) => l.event === 'drain')!;
    assert.equal(drain.requestsInFlight, 2, 'a and b wait on the slow request');
    assert.equal(logs.find((l) => l.event === 'stopped')!.terminated, 0);
  });

  test('a handler that never settles: the drain still ends at drainTimeout, and it is reported', async () => {
    const errors: Error[] = [];
    const { server, url, logs } = await start({
      drainTimeout: 600,
      onError: (e) => errors.push(e),
      messaging: { requestTimeout: 60_000, onRequest: (_c, data) => (data === 'hang' ? new Promise(() => {}) : data) },
    });
    const c = await welcomed(url);
    c.send({ t: 'req', id: 'hang-1', data: 'hang' });
    assert.equal((await c.request('probe')).data, 'probe'); // the hanging request was read
    const t0 = Date.now();
    await server.close();
    const took = Date.now() - t0;
    assert.ok(took >= 550 && took < 5_000, `bounded by drainTimeout (${took} ms)`);
    await closedWith(c, 'the connection to be cut');
    assert.equal(c.closed!.code, 1006, 'cut at the deadline, no ack and no 1001 (the request stays pending on the client)');
    assert.equal(c.frames.filter((f) => f.id === 'hang-1').length, 0);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /1 request\(s\) not settled within drainTimeout \(600 ms\)/);
    assert.ok(logs.some((l) => l.event === 'error' && l.where === 'onRequest'), 'logged');
    assert.equal(logs.find((l) => l.event === 'stopped')!.terminated, 1);
  });
});

describe('delivery', () => {
  test('a restarted server is a new epoch: a client coming back with its position gets recovered: false', async () => {
    const first = await start({ messaging: true });
    const p = await first.server.publish('news', 'before restart');
    await first.server.close();
    const second = await start({ messaging: true });
    await second.server.publish('news', 'after restart');
    const c = await welcomed(second.url);
    c.send({ t: 'sub', id: 's', ch: 'news', pos: p });
    const ack = await c.next((f) => f.t === 'ack');
    assert.equal(ack.data.recovered, false);
    assert.notEqual(ack.data.epoch, p.epoch);
    assert.equal(c.frames.filter((f) => f.t === 'pub').length, 0, 'no replay across epochs');
    await c.close();
  });

  test('slow consumer: a protocol client that stops reading is closed with 4008 (plain ones are still terminated)', async () => {
    const { server, url, logs } = await start({ messaging: true, maxBufferedAmount: 64 * 1024 });
    const c = await welcomed(url);
    c.send({ t: 'sub', id: 's', ch: 'firehose' });
    await c.next((f) => f.t === 'ack');
    const raw = (c.ws as unknown as { _socket: import('node:net').Socket })._socket;
    raw.pause(); // stop reading: the server's queue grows
    const big = 'x'.repeat(8 * 1024);
    for (let i = 0; i < 2000 && !logs.some((l) => l.event === 'close'); i++) {
      await server.publish('firehose', big);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    raw.resume(); // read again: the queued frames, then the close
    await waitFor(() => c.closed, { timeout: 15_000, what: 'the slow consumer to be closed' });
    // The client resumed reading within the grace period: it reads the backlog, then 4008.
    assert.equal(c.closed!.code, 4008);
    assert.equal(c.closed!.reason, 'slow consumer');
    const line = await waitFor(() => logs.find((l) => l.event === 'close'), { what: 'close log' });
    assert.match(String(line.by), /slow consumer/);
    if (c.closed!.code === 4008) {
      const offsets = c.frames.filter((f) => f.t === 'pub').map((f) => f.offset);
      assert.deepEqual(offsets, offsets.map((_, i) => i + 1), 'what arrived arrived in order, without holes');
    }
  });
});

describe('server-side subscriptions and id scopes', () => {
  test('server.subscribe joins a connection to a $ channel (no ack); server.unsubscribe stops it and tells the client', async () => {
    const { server, url } = await start({ messaging: true });
    const c = await welcomed(url);
    const conn = await waitFor(() => [...server.connections][0], { what: 'the connection' });
    assert.equal(server.subscribe(conn, '$alerts'), true);
    const p = await server.publish('$alerts', 'fire');
    const pub = await c.next((f) => f.t === 'pub');
    assert.deepEqual(pub, { t: 'pub', ch: '$alerts', offset: p.offset, epoch: p.epoch, data: 'fire' });
    assert.equal(server.unsubscribe(conn, '$alerts', 'FORBIDDEN', 'revoked'), true);
    assert.deepEqual(await c.next((f) => f.t === 'unsub'), { t: 'unsub', ch: '$alerts', code: 'FORBIDDEN', message: 'revoked' });
    await server.publish('$alerts', 'again');
    assert.equal((await c.request('marker')).data, 'marker');
    assert.equal(c.frames.filter((f) => f.t === 'pub').length, 1);
    assert.equal(server.unsubscribe(conn, '$alerts'), false, 'not subscribed any more');
    await c.close();
  });

  test('request ids are scoped per user: the same id from two users runs twice, from one user once', async () => {
    let runs = 0;
    const { url } = await start({ jwt: { secret: SECRET }, messaging: { onRequest: () => ++runs } });
    const tok = (sub: string) => signHs256(SECRET, { sub, exp: now() + 60 });
    const [a, a2, b] = await Promise.all([welcomed(url, tok('ann')), welcomed(url, tok('ann')), welcomed(url, tok('ben'))]);
    const ra = await a.request('x', 'same-id');
    const ra2 = await a2.request('x', 'same-id'); // ann again, from another device: the stored answer
    const rb = await b.request('x', 'same-id');
    assert.equal(ra.data, 1);
    assert.equal(ra2.data, 1);
    assert.equal(rb.data, 2);
    assert.equal(runs, 2);
    await Promise.all([a.close(), a2.close(), b.close()]);
  });
});

describe('wechatLogin hooks', () => {
  test('onSession gets the session_key (the client never does); a throwing onSession fails the login with 500', async () => {
    const stand = (await import('node:http')).createServer((_req, res) =>
      res.end(JSON.stringify({ openid: 'oid-1', session_key: 'SK==', unionid: 'uid-1' })));
    await new Promise<void>((r) => stand.listen(0, '127.0.0.1', r));
    const apiBase = `http://127.0.0.1:${(stand.address() as import('node:net').AddressInfo).port}`;
    const sessions: string[][] = [];
    let fail = false;
    const { url } = await start({
      jwt: { secret: SECRET },
      onError: () => {},
      wechatLogin: {
        appId: 'wx1', appSecret: 's', apiBase, tokenTtl: 60,
        onSession(openid, key, unionid) {
          if (fail) throw new Error('db down');
          sessions.push([openid, key, unionid!]);
        },
      },
    });
    const login = url.replace(/^ws/, 'http').replace(/\/wss$/, '/login');
    const ok = await fetch(login, { method: 'POST', body: '{"code":"c"}' });
    const body = await ok.text();
    assert.equal(ok.status, 200);
    assert.deepEqual(sessions, [['oid-1', 'SK==', 'uid-1']]);
    assert.ok(!body.includes('SK=='));
    assert.equal(JSON.parse(body).expiresIn, 60);
    fail = true;
    const bad = await fetch(login, { method: 'POST', body: '{"code":"c"}' });
    assert.equal(bad.status, 500);
    stand.closeAllConnections();
    await new Promise((r) => stand.close(r));
  });
});
