// Operations: the admin listener (Prometheus /metrics, /healthz, /readyz) and the admin API,
// against the built package with real TLS, real ws sockets and raw TCP on loopback.
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type LogEntry, type ServerOptions, type WssMpServer } from 'wss-mp-server';
import { ProtoClient } from './conformance/client';
import { adminFetch, scrapeMetrics } from './support/admin';
import { createPki, issueLeaf, type Leaf, type Pki } from './support/certs';
import tls from 'node:tls';
import { echoes, openWs, rawExchange, rawWs, tlsExchange } from './support/net-tools';
import { signHs256, now } from './support/jwt';
import { waitFor } from './support/wait';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const KEY = 'admin-key-for-the-tests-0123456789';
const servers: WssMpServer<any>[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function start(o: ServerOptions<any>) {
  const logs: LogEntry[] = [];
  const server = createServer({ port: 0, admin: 0, heartbeatInterval: 0, drainTimeout: 200, logger: (e) => logs.push(e), ...o });
  servers.push(server);
  const url = await server.listen();
  assert.ok(server.adminUrl, 'adminUrl once listening');
  return { server, url, port: server.address()!.port, admin: server.adminUrl!, logs };
}

const scrape = (admin: string) => scrapeMetrics(admin, (r) => assert.match(r.headers.get('content-type') ?? '', /^text\/plain/));

const api = (admin: string, path: string, body?: unknown, key: string | null = KEY) => adminFetch(admin, path, body, key);

describe('metrics', () => {
  let pki: Pki;
  let leaf: Leaf;
  before(() => {
    pki = createPki('wss-mp-ops');
    leaf = issueLeaf(pki, {});
  });
  after(() => pki.cleanup());

  test('/metrics counts what the test did: connections, messages, a 1009, a plain-HTTP 400, an auth refusal', async () => {
    const { url, port, admin, logs } = await start({
      tls: { certFile: leaf.fullchain, keyFile: leaf.key },
      watchCertificate: false,
      maxPayload: 1024,
      jwt: { secret: SECRET },
    });
    const token = signHs256(SECRET, { sub: 'alice', exp: now() + 60 });
    const auth = { headers: { authorization: `Bearer ${token}` }, caFile: pki.caCert };
    const before = await scrape(admin);
    assert.equal(before.get('wss_mp_connections'), 0);
    assert.equal(before.get('wss_mp_handshakes_total'), 0);
    assert.ok(before.has('nodejs_eventloop_lag_seconds'), 'event-loop lag is exported');

    const a = await openWs(url, auth);
    const b = await openWs(url, auth);
    let sentBytes = 0;
    for (let i = 0; i < 5; i++) {
      const msg = `hello ${i}`;
      sentBytes += Buffer.byteLength(msg);
      await echoes(a, msg);
    }
    // Too big: closed with 1009.
    const big = await openWs(url, auth);
    big.ws.send(Buffer.alloc(2000, 1));
    assert.equal((await big.closed)[0], 1009);
    // Plain HTTP on the TLS port: answered 400.
    const plain = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(plain.data.toString(), /^HTTP\/1\.1 400/);
    // Not a valid upgrade (no Sec-WebSocket-Key), over TLS.
    const badUpgrade = await tlsExchange(port, pki.caCert,
      `GET /wss?token=${token} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    assert.match(badUpgrade, /^HTTP\/1\.1 400 .*Missing or invalid Sec-WebSocket-Key/s);
    // A TLS 1.1 client (OpenSSL needs security level 0 to offer it at all): no handshake.
    await new Promise<void>((resolve) => {
      const old = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', minVersion: 'TLSv1', maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false });
      old.on('error', () => resolve());
      old.on('secureConnect', () => {
        old.destroy();
        resolve();
      });
    });
    // No token: refused before the upgrade.
    await assert.rejects(openWs(url, { caFile: pki.caCert }), /401/);
    await waitFor(() => logs.some((e) => e.event === 'close' && e.code === 1009) && logs.some((e) => e.event === 'tls-error'),
      { what: 'the 1009 close and the TLS failure logged' });

    const m = await scrape(admin);
    assert.equal(m.get('wss_mp_connections'), 2);
    assert.equal(m.get('wss_mp_users'), 1);
    assert.equal(m.get('wss_mp_handshakes_total'), 3);
    assert.equal(m.get('wss_mp_messages_received_total'), 5);
    assert.equal(m.get('wss_mp_messages_sent_total'), 5);
    assert.equal(m.get('wss_mp_received_bytes_total'), sentBytes);
    assert.equal(m.get('wss_mp_sent_bytes_total'), sentBytes);
    assert.equal(m.get('wss_mp_disconnects_total{code="1009"}'), 1);
    assert.equal(m.get('wss_mp_disconnects_total{code="other"}'), 0);
    assert.equal(m.get('wss_mp_handshake_failures_total{reason="plain_http"}'), 1);
    assert.equal(m.get('wss_mp_handshake_failures_total{reason="auth_refused"}'), 1);
    assert.equal(m.get('wss_mp_handshake_failures_total{reason="bad_upgrade"}'), 1);
    assert.equal(m.get('wss_mp_handshake_failures_total{reason="tls_version"}'), 1);
    assert.equal(m.get('wss_mp_ready'), 1);
    a.ws.close();
    b.ws.close();
  });

  test('/healthz answers while alive; /readyz goes 503 (not_draining: false) during the drain', async () => {
    const { server, port, admin } = await start({ drainTimeout: 5_000 });
    assert.equal((await fetch(`${admin}/healthz`)).status, 200);
    const ready = await fetch(`${admin}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, checks: { listening: true, not_draining: true } });
    // A client that never answers the 1001 holds the drain open for drainTimeout.
    const straggler = await rawWs(port, { read: false });
    const closing = server.close();
    const r = await waitFor(async () => {
      const res = await fetch(`${admin}/readyz`);
      return res.status === 503 ? res : undefined;
    }, { what: '/readyz 503 during the drain' });
    const body = (await r.json()) as { ready: boolean; checks: Record<string, boolean> };
    assert.equal(body.ready, false);
    assert.equal(body.checks.not_draining, false);
    assert.equal((await fetch(`${admin}/healthz`)).status, 200, 'alive while draining');
    straggler.socket.destroy();
    await closing;
    await assert.rejects(fetch(`${admin}/healthz`), 'the admin listener closes with the server');
  });
});

describe('admin API', () => {
  test('a wrong or missing key is a 401 with a log line that never holds the key', async () => {
    const { admin, logs } = await start({ messaging: true, adminKey: KEY });
    const wrong = 'not-the-key-but-long-enough-0000';
    for (const key of [wrong, null]) {
      const r = await api(admin, '/api/publish', { channel: 'news', data: 1 }, key);
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer');
      assert.equal(((await r.json()) as { error: string }).error, 'UNAUTHORIZED');
    }
    const lines = logs.filter((e) => e.event === 'admin' && e.status === 401);
    assert.equal(lines.length, 2);
    assert.deepEqual(lines.map((e) => e.reason), ['wrong key', 'no key']);
    const all = JSON.stringify(logs);
    assert.ok(!all.includes(KEY) && !all.includes(wrong), 'no key in any log line');
    // /metrics and the probes need no key.
    assert.equal((await fetch(`${admin}/metrics`)).status, 200);
  });

  test('publish, send to a user and disconnect reach the right clients; presence and stats', async () => {
    const { url, admin, logs } = await start({ messaging: true, jwt: { secret: SECRET }, adminKey: KEY });
    const open = async (sub: string) => {
      const c = await ProtoClient.open(url, { headers: { authorization: `Bearer ${signHs256(SECRET, { sub, exp: now() + 60 })}` } });
      assert.equal((await c.next()).t, 'welcome');
      return c;
    };
    const alice = await open('alice');
    const bob = await open('bob');
    for (const c of [alice, bob]) {
      const id = c.id('s');
      c.send({ t: 'sub', id, ch: '$user' });
      await c.next((f) => f.t === 'ack' && f.id === id);
    }
    const subId = bob.id('s');
    bob.send({ t: 'sub', id: subId, ch: 'news' });
    await bob.next((f) => f.t === 'ack' && f.id === subId);

    const pub = await api(admin, '/api/publish', { channel: 'news', data: { headline: 'hi' } });
    assert.equal(pub.status, 200);
    const pubBody = (await pub.json()) as { channel: string; offset: number; rid: string };
    assert.equal(pubBody.channel, 'news');
    assert.equal(pubBody.offset, 1);
    const got = await bob.next((f) => f.t === 'pub');
    assert.equal(got.ch, 'news');
    assert.deepEqual(got.data, { headline: 'hi' });

    const send = await api(admin, '/api/send', { user: 'alice', data: 'for alice' });
    assert.equal(send.status, 200);
    const sendBody = (await send.json()) as { connections: number[] };
    const toAlice = await alice.next((f) => f.t === 'pub');
    assert.equal(toAlice.ch, '$user');
    assert.equal(toAlice.data, 'for alice');
    assert.equal(sendBody.connections.length, 1);
    // Bob got only the channel publication.
    assert.equal(bob.frames.filter((f) => f.t === 'pub').length, 1);

    // Broadcast reaches plain connections (the demo page is one), text as given; protocol
    // connections take JSON frames only and are skipped (publish is for them).
    const plain = await openWs(url, { headers: { authorization: `Bearer ${signHs256(SECRET, { sub: 'carol', exp: now() + 60 })}` } });
    const bc = await api(admin, '/api/broadcast', { data: 'maintenance at noon' });
    assert.deepEqual(await bc.json(), { rid: 'a3', sent: 1 });
    assert.equal((await plain.next())[0].toString(), 'maintenance at noon');
    plain.ws.close();
    await plain.closed;
    assert.ok(!bob.frames.some((f) => f.t === '(not JSON)'), 'no raw text on a protocol connection');

    const presence = (await (await api(admin, '/api/presence')).json()) as { users: string[]; connections: number };
    assert.deepEqual([...presence.users].sort(), ['alice', 'bob']);
    assert.equal(presence.connections, 2);
    const stats = (await (await api(admin, '/api/stats')).json()) as { connections: number; users: number; channels: number };
    assert.equal(stats.connections, 2);
    assert.equal(stats.users, 2);
    assert.equal(stats.channels, 3); // news, $user:alice, $user:bob

    const dis = await api(admin, '/api/disconnect', { user: 'alice', code: 4003, reason: 'banned' });
    assert.equal(dis.status, 200);
    const disBody = (await dis.json()) as { disconnected: number[] };
    assert.deepEqual(disBody.disconnected, sendBody.connections, 'the ids match the connection ids (rid) in the logs');
    await waitFor(() => alice.closed, { what: 'alice closed' });
    assert.deepEqual([alice.closed!.code, alice.closed!.reason], [4003, 'banned']);
    assert.equal(bob.closed, undefined, 'bob stays connected');
    const closeLine = logs.find((e) => e.event === 'close' && e.id === disBody.disconnected[0]);
    assert.equal(closeLine?.by, 'admin API');
    // Bad input is a 400 naming the field.
    const bad = await api(admin, '/api/disconnect', { user: 'bob', code: 1006 });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /code/);
    // An idempotency key: the retry of a publish gets the first one's position and sends nothing.
    const first = (await (await api(admin, '/api/publish', { channel: 'news', data: 'once', idempotencyKey: 'news-2' })).json()) as { offset: number };
    const retry = (await (await api(admin, '/api/publish', { channel: 'news', data: 'once', idempotencyKey: 'news-2' })).json()) as { offset: number };
    assert.deepEqual([first.offset, retry.offset], [2, 2]);
    const after = (await (await api(admin, '/api/publish', { channel: 'news', data: 'next' })).json()) as { offset: number };
    assert.equal(after.offset, 3);
    await bob.next((f) => f.t === 'pub' && f.data === 'next');
    assert.deepEqual(bob.frames.filter((f) => f.t === 'pub').map((f) => f.data), [{ headline: 'hi' }, 'once', 'next']);
    const badKey = await api(admin, '/api/publish', { channel: 'news', data: 1, idempotencyKey: '' });
    assert.equal(badKey.status, 400);
    assert.match(((await badKey.json()) as { message: string }).message, /idempotencyKey/);
    await bob.close();
  });
});

describe('Grafana dashboard', () => {
  test('every panel query names metrics a real /metrics scrape exports', async () => {
    const { readFileSync } = await import('node:fs');
    const dashboard = JSON.parse(readFileSync(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const { admin } = await start({ messaging: true });
    const text = await (await fetch(`${admin}/metrics`)).text();
    // Every metric family in the scrape (counters expose `name_total` as the family name too).
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    assert.ok(exported.has('wss_mp_connections') && exported.has('nodejs_eventloop_lag_p99_seconds'));
    const used = new Set<string>();
    assert.ok(dashboard.panels.length >= 10);
    for (const p of dashboard.panels) {
      assert.ok(p.targets.length > 0, `${p.title} has a query`);
      for (const t of p.targets) {
        // Metric names in PromQL: identifiers followed by a selector or a range; not functions or labels.
        const names = [...t.expr.matchAll(/([a-z_][a-z0-9_]*)\s*(?=\{|\[)/g)].map((m) => m[1]!);
        assert.ok(names.length > 0, `${p.title}: "${t.expr}" names a metric`);
        for (const n of names) {
          assert.ok(exported.has(n), `${p.title}: ${n} is exported`);
          used.add(n);
        }
      }
    }
    // And the dashboard shows every wss_mp_ family.
    for (const n of exported) if (n.startsWith('wss_mp_')) assert.ok(used.has(n), `dashboard uses ${n}`);
  });
});

describe('rate limits', () => {
  const protoOpen = async (url: string, sub: string, headers: Record<string, string> = {}) => {
    const c = await ProtoClient.open(url, { headers: { authorization: `Bearer ${signHs256(SECRET, { sub, exp: now() + 60 })}`, ...headers } });
    assert.equal((await c.next()).t, 'welcome');
    return c;
  };

  test('a burst over the limit: each refused req is answered RATE_LIMITED with its id and retryAfter; resent then, each is processed once', async () => {
    const calls = new Map<number, number>();
    const { url, admin, logs } = await start({ messaging: { onRequest: (_c, d) => (calls.set(d as number, (calls.get(d as number) ?? 0) + 1), d) },
      jwt: { secret: SECRET } });
    const c = await protoOpen(url, 'bursty');
    const N = 300;
    for (let i = 0; i < N; i++) c.send({ t: 'req', id: `b${i}`, data: i });
    // Every request is answered once: an ack, or a refusal naming it.
    const first = new Map<string, Record<string, any>>();
    while (first.size < N) {
      const f = await c.next((x) => (x.t === 'ack' || x.t === 'error') && typeof x.id === 'string' && !first.has(x.id), 15_000, `answer ${first.size + 1} of ${N}`);
      first.set(f.id, f);
    }
    const order = [...first.values()];
    const refused = order.filter((f) => f.t === 'error');
    // The burst (100) passes, plus what refilled (50/s) while the frames arrived.
    const firstRefusal = order.findIndex((f) => f.t === 'error');
    assert.ok(firstRefusal >= 100, `${firstRefusal} passed before the first refusal`);
    assert.ok(refused.length >= 100 && refused.length <= 200, `${refused.length} refused`);
    // Frames of the burst that passed between the refusals (tokens refilled while it arrived)
    // took tokens the refusals' times count on: each may make one resend wait once more.
    const passedBetween = order.slice(firstRefusal).filter((f) => f.t === 'ack').length;
    for (const f of refused) {
      assert.equal(f.code, 'RATE_LIMITED');
      assert.ok(Number.isInteger(f.retryAfter) && f.retryAfter > 0, JSON.stringify(f));
    }
    // Slots one token (20 ms) apart, behind each other: the last one about refused × 20 ms out
    // (less the time the burst took to arrive).
    const last = Math.max(...refused.map((f) => f.retryAfter as number));
    assert.ok(last <= (refused.length + 1) * 20 + 1 && last >= (refused.length - 1) * 20 - 2000, `last slot ${last} ms`);
    // Not processed: no handler call for a refused id.
    for (const f of refused) assert.equal(calls.get(Number(f.id.slice(1))), undefined, `${f.id} was not processed`);
    // Resent each at its time (timers from now: later than the server's, never earlier).
    const timers = new Set<NodeJS.Timeout>();
    const resend = (f: Record<string, any>) => {
      const t = setTimeout(() => {
        timers.delete(t);
        c.send({ t: 'req', id: f.id, data: Number(f.id.slice(1)) });
      }, f.retryAfter);
      timers.add(t);
    };
    refused.forEach(resend);
    const acked = new Set<string>();
    for (const f of first.values()) if (f.t === 'ack') acked.add(f.id);
    let again = 0;
    try {
      while (acked.size < N) {
        const f = await c.next((x) => (x.t === 'ack' || x.t === 'error') && typeof x.id === 'string', 20_000, `ack ${acked.size + 1} of ${N}`);
        if (f.t === 'error') {
          again++;
          resend(f);
        } else acked.add(f.id);
      }
    } finally {
      for (const t of timers) clearTimeout(t);
    }
    assert.ok(again <= passedBetween, `${again} resends refused again; ${passedBetween} frames passed between the first refusals`);
    assert.equal(calls.size, N);
    assert.ok([...calls.values()].every((n) => n === 1), 'each processed exactly once');
    assert.equal(c.closed, undefined, 'not closed');
    const m = await scrape(admin);
    // Every refusal is counted as a hit.
    assert.equal(m.get('wss_mp_rate_limit_hits_total{scope="connection"}'), refused.length + again);
    assert.equal(m.get('wss_mp_rate_limit_closes_total'), 0);
    assert.ok(!logs.some((e) => e.event === 'close' && e.code === 4029));
    await c.close();
  });

  test('a flooder that does not wait for retryAfter is closed with 4029 once 256 refusals wait (not answered for the whole grace); another keeps being answered', async () => {
    const { url, admin, logs } = await start({ messaging: true, jwt: { secret: SECRET } });
    const flood = await protoOpen(url, 'mallory');
    const calm = await protoOpen(url, 'alice');
    let i = 0;
    const pump = setInterval(() => {
      for (let k = 0; k < 20 && !flood.closed; k++) flood.send({ t: 'req', id: `f${i++}`, data: 0 });
    }, 5);
    try {
      await waitFor(() => flood.closed, { timeout: 30_000, what: 'the flooder closed' });
    } finally {
      clearInterval(pump);
    }
    assert.deepEqual([flood.closed!.code, flood.closed!.reason], [4029, 'rate limited']);
    // 4,000 frames/s: inside the 2 s grace it has far more than MAX_REFUSALS_AHEAD (256) refused and
    // waiting, which no client keeping 64 requests unanswered can have: closed then, not answered
    // at full speed until the grace ends (about 7,600 answers before; the grace rule alone is in
    // the unit tests, packages/server/test/server/ops/ops.test.ts).
    const refusals = flood.frames.filter((f) => f.t === 'error' && f.code === 'RATE_LIMITED');
    assert.ok(refusals.length > 100 && refusals.length <= 256 + 50, `${refusals.length} refusals answered`);
    assert.ok(refusals.every((f) => typeof f.id === 'string'));
    // The other connection is unaffected.
    for (let j = 0; j < 5; j++) assert.deepEqual((await calm.request(`ping ${j}`)).data, `ping ${j}`);
    const m = await scrape(admin);
    assert.ok(m.get('wss_mp_rate_limit_hits_total{scope="connection"}')! >= refusals.length);
    assert.equal(m.get('wss_mp_rate_limit_closes_total'), 1);
    assert.equal(m.get('wss_mp_disconnects_total{code="4029"}'), 1);
    assert.ok(logs.some((e) => e.event === 'close' && e.code === 4029 && String(e.by).startsWith('rate limit')));
    await calm.close();
  });

  test('a refused frame whose id is not where the reference client puts it is still answered with it; junk without one, without', async () => {
    const { url } = await start({ messaging: true, jwt: { secret: SECRET }, rateLimit: { messagesBurst: 1, messagesPerSecond: 1 } });
    const c = await protoOpen(url, 'odd');
    assert.equal((await c.request('one')).data, 'one');
    c.send('{"data":{"id":"not this"},"id":"sub-first","t":"sub","ch":"x"}');
    const a = await c.next((f) => f.t === 'error');
    assert.deepEqual([a.id, a.code], ['sub-first', 'RATE_LIMITED']);
    c.send('not json');
    const b = await c.next((f) => f.t === 'error');
    assert.deepEqual([b.id, b.code, typeof b.retryAfter], [undefined, 'RATE_LIMITED', 'number']);
    await c.close();
  });

  test('the per-user bucket is shared by all of a user\'s connections', async () => {
    const { url, admin } = await start({ messaging: true, jwt: { secret: SECRET },
      rateLimit: { userMessagesBurst: 10, userMessagesPerSecond: 1 } });
    const a = await protoOpen(url, 'bob');
    const b = await protoOpen(url, 'bob');
    for (let i = 0; i < 6; i++) assert.equal((await a.request(i)).data, i);
    for (let i = 0; i < 4; i++) assert.equal((await b.request(i)).data, i);
    // The user's 11th message within the second: over the user's limit, though b's own bucket is nearly full.
    b.send({ t: 'req', id: 'over', data: 0 });
    const refused = await b.next((f) => f.t === 'error');
    assert.deepEqual([refused.code, refused.id], ['RATE_LIMITED', 'over']);
    // One message a second for the user: its slot is about a second out.
    assert.ok(refused.retryAfter > 500 && refused.retryAfter <= 1001, `retryAfter ${refused.retryAfter}`);
    assert.equal(b.closed, undefined, 'answered, not closed');
    assert.ok((await scrape(admin)).get('wss_mp_rate_limit_hits_total{scope="user"}')! >= 1);
    await a.close();
    await b.close();
  });

  test('handshakes per client IP: over the burst a 429 with Retry-After; another IP still connects', async () => {
    const { port, admin } = await start({ rateLimit: { handshakesPerSecondPerIp: 0.01, handshakeBurstPerIp: 3 } });
    const upgrade = (ip: string) =>
      `GET /wss HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Real-IP: ${ip}\r\n\r\n`;
    const opened = [];
    // Loopback is a trusted proxy by default: X-Real-IP is the client IP the limit counts.
    for (let i = 0; i < 3; i++) opened.push(await rawWs(port, { headers: { 'X-Real-IP': '203.0.113.9' } }));
    const refused = await rawExchange(port, upgrade('203.0.113.9'));
    assert.match(refused.data.toString(), /^HTTP\/1\.1 429 Too Many Requests\r\n/);
    assert.match(refused.data.toString(), /Retry-After: 1\r\n/);
    opened.push(await rawWs(port, { headers: { 'X-Real-IP': '203.0.113.10' } }));
    const m = await scrape(admin);
    assert.equal(m.get('wss_mp_handshake_failures_total{reason="rate_limited"}'), 1);
    assert.equal(m.get('wss_mp_rate_limit_hits_total{scope="handshake"}'), 1);
    assert.equal(m.get('wss_mp_handshakes_total'), 4);
    for (const o of opened) o.socket.destroy();
  });
});

describe('CLI', () => {
  test('--admin and --admin-key-file: probes, the keyed API, and /readyz through a SIGTERM drain', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { startServer } = await import('./support/server');
    const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-admin-'));
    const keyFile = path.join(dir, 'admin.key');
    writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
    const s = await startServer(['--behind-proxy', '--messaging', '--admin', '127.0.0.1:0', '--admin-key-file', keyFile, '--drain-timeout', '5s']);
    try {
      const line = await s.waitForLog((l) => l.event === 'admin' && typeof l.port === 'number');
      assert.equal(line.api, 'key');
      const admin = `http://127.0.0.1:${line.port}`;
      assert.equal((await fetch(`${admin}/readyz`)).status, 200);
      assert.equal((await api(admin, '/api/stats', undefined, null)).status, 401);
      const stats = (await (await api(admin, '/api/stats')).json()) as { connections: number };
      assert.equal(stats.connections, 0);
      // A client that never answers 1001 keeps the drain going: /readyz is 503 meanwhile.
      const straggler = await rawWs(s.port, { read: false });
      s.proc.kill('SIGTERM');
      await waitFor(async () => (await fetch(`${admin}/readyz`).catch(() => undefined))?.status === 503, { what: '/readyz 503 after SIGTERM' });
      straggler.socket.destroy();
      await s.waitForLog((l) => l.event === 'stopped');
      const code = await new Promise((resolve) => (s.proc.exitCode !== null ? resolve(s.proc.exitCode) : s.proc.once('exit', resolve)));
      assert.equal(code, 0);
      assert.ok(!s.text.join('\n').includes(KEY) && !JSON.stringify(s.logs).includes(KEY), 'the key is never printed');
    } finally {
      await s.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('recoveries and broker errors', () => {
  test('recovered, not recovered and a failing broker are counted by result', async () => {
    const { MemoryBroker } = await import('wss-mp-server');
    const inner = new MemoryBroker({ historySize: 100, historyTtl: 60_000 });
    let failHistory = false;
    // The in-memory broker, with history reads that fail on demand (a Redis outage).
    const broker = {
      publish: (s: string, d: unknown) => inner.publish(s, d),
      history: (s: string, since: any) => (failHistory ? Promise.reject(new Error('broker down')) : inner.history(s, since)),
      subscribe: (s: string) => (inner.subscribe as (s: string) => void)(s),
      unsubscribe: (s: string) => (inner.unsubscribe as (s: string) => void)(s),
      onPublication: (l: any) => inner.onPublication(l),
    };
    const { server, url, admin } = await start({ messaging: { broker } });
    const c = await ProtoClient.open(url);
    assert.equal((await c.next()).t, 'welcome');
    const sub = async (id: string, pos?: { offset: number; epoch: string }) => {
      c.send({ t: 'sub', id, ch: 'news', ...(pos ? { pos } : {}) });
      return c.next((f) => f.t === 'ack' && f.id === id);
    };
    const first = await sub('s1');
    await server.publish('news', 1);
    await c.next((f) => f.t === 'pub');
    c.send({ t: 'unsub', id: 'u1', ch: 'news' });
    await c.next((f) => f.t === 'ack' && f.id === 'u1');
    const epoch = first.data.epoch as string;
    assert.equal((await sub('s2', { offset: 0, epoch })).data.recovered, true);
    c.send({ t: 'unsub', id: 'u2', ch: 'news' });
    await c.next((f) => f.t === 'ack' && f.id === 'u2');
    assert.equal((await sub('s3', { offset: 0, epoch: 'another-epoch' })).data.recovered, false);
    c.send({ t: 'unsub', id: 'u3', ch: 'news' });
    await c.next((f) => f.t === 'ack' && f.id === 'u3');
    failHistory = true;
    assert.equal((await sub('s4', { offset: 1, epoch })).error.code, 'UNAVAILABLE');
    const m = await scrape(admin);
    assert.equal(m.get('wss_mp_recoveries_total{result="recovered"}'), 1);
    assert.equal(m.get('wss_mp_recoveries_total{result="not_recovered"}'), 1);
    assert.equal(m.get('wss_mp_recoveries_total{result="failed"}'), 1);
    assert.equal(m.get('wss_mp_broker_errors_total'), 1);
    await c.close();
  });
});
