// Many nodes through one real Redis: wss-mp-server CLI processes and an in-process server (for
// the API: sendToUser, publish, globalPresence), real ws clients speaking wss-mp.v1, a real
// redis-server started per test on its own port and directory and stopped by PID.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { createServer, type LogEntry, type Presence, type WssMpServer } from 'wss-mp-server';
import { ProtoClient, type Frame } from './conformance/client';
import { requireBinary } from './support/binaries';
import { startRedis, type RunningRedis } from './support/redis';
import { startServer, type RunningServer } from './support/server';
import { signHs256, now } from './support/jwt';
import { waitFor } from './support/wait';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const secretFile = path.join(mkdtempSync(path.join(tmpdir(), 'wss-mp-redis-test-')), 'jwt');
writeFileSync(secretFile, SECRET);
const token = (user: string) => signHs256(SECRET, { sub: user, exp: now() + 600 });

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

async function redis(t: TestContext, appendonly = false): Promise<RunningRedis | null> {
  const bin = requireBinary(t, 'redis-server');
  if (!bin) return null;
  const r = await startRedis(bin, { appendonly });
  cleanup.push(() => r.stop());
  return r;
}

/** A CLI node: plain ws on loopback (as behind a proxy), messaging through Redis. */
async function cliNode(r: RunningRedis, extra: string[] = []): Promise<RunningServer> {
  const s = await startServer(['--behind-proxy', '--messaging', '--redis', r.url, '--jwt-secret-file', secretFile, '--heartbeat-interval', '0', '--quiet', ...extra]);
  cleanup.push(() => s.stop('SIGKILL'));
  await s.waitForLog((l) => l.event === 'redis' && l.msg === 'connected');
  return s;
}

/** An in-process node, for the server API. */
async function apiNode(r: Pick<RunningRedis, 'url'>): Promise<{ server: WssMpServer; url: string; logs: LogEntry[] }> {
  const logs: LogEntry[] = [];
  const server = createServer({ port: 0, host: '127.0.0.1', heartbeatInterval: 0, drainTimeout: 200, logger: (e) => logs.push(e),
    jwt: { secret: SECRET }, messaging: { redis: r.url }, admin: { port: 0 } });
  cleanup.push(() => server.close());
  const url = await server.listen();
  await waitFor(() => logs.some((l) => l.event === 'redis' && l.msg === 'connected'), { what: 'redis connected', timeout: 15_000 });
  return { server, url, logs };
}

async function client(url: string, user: string): Promise<ProtoClient> {
  const c = await ProtoClient.open(url, { headers: { authorization: `Bearer ${token(user)}` } });
  cleanup.push(() => c.close());
  assert.equal((await c.next((f) => f.t === 'welcome')).user, user);
  return c;
}

/** Users in a stable order (the order they are listed in is not part of the contract). */
const norm = (p: Presence): Presence => ({ ...p, users: [...p.users].sort() });

const sub = (c: ProtoClient, ch: string, pos?: { offset: number; epoch: string }): Promise<Frame> => c.subscribed(ch, pos);

const pubs = (c: ProtoClient, ch: string) => c.frames.filter((f) => f.t === 'pub' && f.ch === ch);
const datas = (c: ProtoClient, ch: string) => pubs(c, ch).map((f) => f.data.n);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Publishes through `server` until Redis takes it (after an outage), with a deadline. */
async function publishWhenUp(server: WssMpServer, ch: string, data: unknown, idempotencyKey?: string) {
  return waitFor(() => server.publish(ch, data, { idempotencyKey }).catch(() => undefined), { timeout: 20_000, interval: 50, what: `publish ${ch} accepted` });
}

/** Node a (CLI) and node b (in-process) on `r`, and alice on node a subscribed to `ch`. */
async function aliceOnA(r: RunningRedis, ch: string) {
  const a = await cliNode(r);
  const b = await apiNode(r);
  const alice = await client(a.url, 'alice');
  await sub(alice, ch);
  return { a, b, alice };
}

/** An in-process node b reaching `r` through a redisTap, and alice on it subscribed to `ch`. */
async function aliceBehindTap(r: RunningRedis, ch: string) {
  const tap = await redisTap(r.port);
  cleanup.push(() => tap.close());
  const b = await apiNode({ url: `redis://127.0.0.1:${tap.port}` });
  const alice = await client(b.url, 'alice');
  await sub(alice, ch);
  return { tap, b, alice };
}

/** Waits for the publication at `pos` on `c`, then for a request round trip: whatever came before it on `ch` has been delivered. */
async function untilDelivered(c: ProtoClient, ch: string, pos: { offset: number }, what: string): Promise<void> {
  await waitFor(() => pubs(c, ch).some((f) => f.offset === pos.offset), { what, timeout: 20_000 });
  await c.request('flush');
}

describe('two nodes and one Redis', () => {
  test('sendToUser from node B reaches the user on node A (only A subscribes); a channel on both nodes gets each publication once per subscriber; presence agrees', async (t) => {
    const r = await redis(t);
    if (!r) return;
    const a = await cliNode(r);
    const b = await apiNode(r);
    const alice = await client(a.url, 'alice');
    const bob = await client(a.url, 'bob');
    const carol = await client(b.url, 'carol');
    assert.equal((await sub(alice, '$user')).recovered, true);
    const sent = await b.server.sendToUser('alice', { n: 1, text: 'from B' });
    const got = await alice.next((f) => f.t === 'pub' && f.ch === '$user');
    assert.deepEqual(got, { t: 'pub', ch: '$user', offset: sent.offset, epoch: sent.epoch, data: { n: 1, text: 'from B' } });
    // Only node A listens on alice's stream: the sender (B) has no subscriber for it.
    assert.equal(await redisInt(r.port, 'PUBSUB', 'NUMSUB', 'wss-mp:p:$user:alice'), 1);

    for (const c of [alice, bob, carol]) await sub(c, 'room');
    for (let n = 1; n <= 20; n++) await b.server.publish('room', { n });
    for (const c of [alice, bob, carol]) {
      await waitFor(() => pubs(c, 'room').length >= 20, { what: 'room publications', timeout: 15_000 });
    }
    // Delivery is over before the next frame we ask for: a request round trip on each client.
    for (const c of [alice, bob, carol]) {
      await c.request('flush');
      assert.deepEqual(datas(c, 'room'), range(1, 20), 'each publication exactly once, in order');
      assert.deepEqual(pubs(c, 'room').map((f) => f.offset), range(1, 20));
    }

    const p = await b.server.presence();
    assert.deepEqual(p.users.sort(), ['alice', 'bob', 'carol']);
    assert.equal(p.connections, 3);
    assert.deepEqual(b.server.localPresence().users, ['carol'], 'localPresence() stays this node');
    await bob.close();
    await waitFor(async () => (await b.server.presence()).connections === 2, { what: 'presence after a close' });
    assert.deepEqual((await b.server.presence()).users.sort(), ['alice', 'carol']);
  });

  test('presence across nodes: both report the same users (with connection counts) and counts, per channel and overall; a client leaving updates both; a SIGKILLed node stops counting within its presence ttl', async (t) => {
    const r = await redis(t);
    if (!r) return;
    // Short presence timing for the kill below (the defaults are 5 s / 15 s).
    const a = await cliNode(r, ['--admin', '127.0.0.1:0', '--redis-heartbeat', '250ms', '--redis-presence-ttl', '3s']);
    const adminA = `http://127.0.0.1:${(await a.waitForLog((l) => l.event === 'admin' && typeof l.port === 'number')).port}`;
    const b = await apiNode(r);
    const a1 = await client(a.url, 'alice');
    const a2 = await client(a.url, 'alice');
    const bobA = await client(a.url, 'bob');
    await client(b.url, 'dave'); // connected, on no channel
    const carolB = await client(b.url, 'carol');
    const alice3B = await client(b.url, 'alice');
    for (const c of [a1, a2, bobA, carolB, alice3B]) await sub(c, 'room');
    await sub(bobA, 'lobby');
    await sub(carolB, 'lobby');

    /** Presence as node A's admin API and node B's server API report it. */
    const both = async (channel?: string) => {
      const q = channel === undefined ? '' : `?channel=${encodeURIComponent(channel)}`;
      const res = await fetch(`${adminA}/api/presence${q}`);
      assert.equal(res.status, 200, await res.clone().text());
      const { rid: _rid, ...fromA } = (await res.json()) as Record<string, unknown>;
      return { fromA: norm(fromA as never), fromB: norm(await b.server.presence(channel)) };
    };
    const agree = async (channel: string | undefined, want: Presence) => {
      const { fromA, fromB } = await both(channel);
      assert.deepEqual(fromA, want, `node A, ${channel ?? 'overall'}`);
      assert.deepEqual(fromB, want, `node B, ${channel ?? 'overall'}`);
    };
    await agree('room', { users: ['alice', 'bob', 'carol'], connections: 5, userConnections: { alice: 3, bob: 1, carol: 1 } });
    await agree('lobby', { users: ['bob', 'carol'], connections: 2, userConnections: { bob: 1, carol: 1 } });
    await agree('nobody', { users: [], connections: 0, userConnections: {} });
    await agree(undefined, { users: ['alice', 'bob', 'carol', 'dave'], connections: 6, userConnections: { alice: 3, bob: 1, carol: 1, dave: 1 } });
    // /api/stats: this node's numbers, and the deployment's.
    const stats = (await (await fetch(`${adminA}/api/stats`)).json()) as { connections: number; deployment: unknown };
    assert.equal(stats.connections, 3);
    assert.deepEqual(stats.deployment, { connections: 6, users: 4 });

    // Leaving a channel, and leaving altogether, on either node: both see it.
    const id = a2.id('u');
    a2.send({ t: 'unsub', id, ch: 'room' });
    await a2.next((f) => f.t === 'ack' && f.id === id);
    await carolB.close();
    await waitFor(async () => (await both('room')).fromA.connections === 3, { what: 'A sees the unsubscribe and the close' });
    await agree('room', { users: ['alice', 'bob'], connections: 3, userConnections: { alice: 2, bob: 1 } });
    await agree('lobby', { users: ['bob'], connections: 1, userConnections: { bob: 1 } });
    await agree(undefined, { users: ['alice', 'bob', 'dave'], connections: 5, userConnections: { alice: 3, bob: 1, dave: 1 } });

    // Node A SIGKILLed: nothing removes its entries but their expiry (3 s after its last beat).
    await a.stop('SIGKILL');
    const killed = Date.now();
    await waitFor(async () => (await b.server.presence('room')).connections === 1, { what: 'A\'s entries gone', timeout: 20_000, interval: 100 });
    const took = Date.now() - killed;
    assert.deepEqual(norm(await b.server.presence('room')), { users: ['alice'], connections: 1, userConnections: { alice: 1 } });
    assert.deepEqual(norm(await b.server.presence('lobby')), { users: [], connections: 0, userConnections: {} });
    assert.deepEqual(norm(await b.server.presence()), { users: ['alice', 'dave'], connections: 2, userConnections: { alice: 1, dave: 1 } });
    t.diagnostic(`a SIGKILLed node's presence gone after ${took} ms (ttl 3 s)`);
  });

  test('Redis restarted (appendonly): publications refused while down, nodes reconnect and fill gaps, clients lose nothing and recover', async (t) => {
    const r = await redis(t, true);
    if (!r) return;
    const { b, alice } = await aliceOnA(r, 'news');
    for (let n = 1; n <= 5; n++) await b.server.publish('news', { n });
    await waitFor(() => pubs(alice, 'news').length === 5, { what: '5 before the restart' });
    const pos = { offset: 5, epoch: pubs(alice, 'news')[4]!.epoch as string };

    await r.restart();
    // Whatever the node saw of the outage, it now publishes again; a publish during an outage
    // either is refused with ERR_UNAVAILABLE or succeeds once Redis is back: never lost.
    const refused: string[] = [];
    for (let n = 6; n <= 10; n++) {
      for (;;) {
        try {
          await b.server.publish('news', { n });
          break;
        } catch (err) {
          refused.push((err as { code: string }).code);
          await waitFor(() => b.server.publish('news', { n }).then(() => true, () => false), { timeout: 20_000, interval: 50, what: 'Redis back' });
          break;
        }
      }
    }
    for (const code of refused) assert.equal(code, 'ERR_UNAVAILABLE');
    await waitFor(() => pubs(alice, 'news').length >= 10, { what: 'all 10 on node A', timeout: 20_000 });
    await alice.request('flush');
    assert.deepEqual(datas(alice, 'news'), range(1, 10));
    assert.equal(new Set(pubs(alice, 'news').map((f) => f.epoch)).size, 1, 'the epoch survived the restart');

    // A client that left before the restart comes back with its position: recovered, no loss.
    const late = await client(b.url, 'dave');
    const ack = await sub(late, 'news', pos);
    assert.equal(ack.recovered, true);
    assert.deepEqual(datas(late, 'news'), range(6, 10));
  });

  test('a node that missed pub/sub messages (its subscriber connection cut) fills the gap from the stream', async (t) => {
    const r = await redis(t);
    if (!r) return;
    const { a, b, alice } = await aliceOnA(r, 'g');
    for (let n = 1; n <= 3; n++) await b.server.publish('g', { n });
    await waitFor(() => pubs(alice, 'g').length === 3, { what: 'first 3' });
    // Cut every subscriber connection; node A reconnects after its backoff (100 ms), and what
    // is published meanwhile never reaches it through pub/sub.
    assert.ok((await redisInt(r.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')) >= 1);
    for (let n = 4; n <= 8; n++) await b.server.publish('g', { n });
    await waitFor(() => pubs(alice, 'g').length >= 8, { what: 'the gap filled', timeout: 15_000 });
    await alice.request('flush');
    assert.deepEqual(datas(alice, 'g'), range(1, 8));
    const line = await a.waitForLog((l) => l.event === 'redis' && l.msg === 'gap filled from the stream');
    assert.equal(line.stream, 'g');
    assert.equal(line.to, 8);
  });

  test('Redis paused (SIGSTOP) for 10 s: each publication is refused (ERR_UNAVAILABLE) or delivered, once, in order; nothing lost after', async (t) => {
    const r = await redis(t);
    if (!r) return;
    const { b, alice } = await aliceOnA(r, 'p');
    await b.server.publish('p', { n: 1 });
    r.pause();
    const pausedAt = Date.now();
    const during = await Promise.allSettled([2, 3, 4].map((n) => b.server.publish('p', { n })));
    for (const s of during) if (s.status === 'rejected') assert.equal((s.reason as { code: string }).code, 'ERR_UNAVAILABLE');
    // The scenario is a 10 s outage (longer than the command timeout), not a synchronisation.
    await waitFor(() => Date.now() - pausedAt >= 10_000, { timeout: 15_000, interval: 100, what: 'the 10 s pause' });
    r.resume();
    const last = await publishWhenUp(b.server, 'p', { n: 5 });
    await untilDelivered(alice, 'p', last, 'the publication after the pause');
    const seen = pubs(alice, 'p');
    assert.deepEqual(seen.map((f) => f.offset), range(1, last.offset), 'contiguous offsets, each once');
    const accepted = during.flatMap((s, i) => (s.status === 'fulfilled' ? [i + 2] : []));
    for (const n of [1, ...accepted, 5]) assert.ok(seen.some((f) => f.data.n === n), `accepted publication ${n} delivered`);
  });

  test('Redis frozen past the command timeout: a publication refused then is not made when Redis wakes up', async (t) => {
    const r = await redis(t);
    if (!r) return;
    const b = await apiNode(r);
    const alice = await client(b.url, 'alice');
    await sub(alice, 'late');
    const first = await b.server.publish('late', { n: 1 });
    r.pause();
    // Unanswered: refused after the node's command timeout (5 s), while its script waits in
    // Redis's socket for Redis to wake up.
    await assert.rejects(b.server.publish('late', { n: 2 }), (e: { code: string }) => e.code === 'ERR_UNAVAILABLE');
    r.resume();
    const third = await publishWhenUp(b.server, 'late', { n: 3 });
    await untilDelivered(alice, 'late', third, 'the publication after the freeze');
    // Before the fix, Redis ran the refused one when it woke up: n 2 at offset 2, n 3 at 3.
    assert.deepEqual(datas(alice, 'late'), [1, 3], 'the refused publication was never made');
    assert.deepEqual([first.offset, third.offset], [1, 2]);
  });

  test('the connection to Redis drops after Redis ran a publication, before its reply: made once (not resent), refused to the caller', async (t) => {
    const r = await redis(t);
    if (!r) return;
    const { tap: cutter, b, alice } = await aliceBehindTap(r, 'cut');
    await b.server.publish('cut', { n: 1 });
    cutter.cut();
    const second = await b.server.publish('cut', { n: 2 }).then(() => 'made', (e: { code: string }) => e.code);
    assert.ok(cutter.cuts === 1, 'the reply to the publication was cut');
    const third = await publishWhenUp(b.server, 'cut', { n: 3 });
    await untilDelivered(alice, 'cut', third, 'the publication after the cut');
    // Before the fix, ioredis sent the script again after reconnecting: n 2 at offsets 2 and 3.
    assert.deepEqual(datas(alice, 'cut'), [1, 2, 3], 'n 2 made once');
    assert.equal(second, 'ERR_UNAVAILABLE', 'its outcome never reached the node: refused, not resolved from a second run');
  });

  test('the reply to a publication is lost, the caller retries with its idempotency key: made once, the retry gets its position', async (t) => {
    const r = await redis(t);
    if (!r) return;
    const { tap: cutter, b, alice } = await aliceBehindTap(r, 'idem');
    await b.server.publish('idem', { n: 1 }, { idempotencyKey: 'n1' });
    cutter.cut();
    const lost = await b.server.publish('idem', { n: 2 }, { idempotencyKey: 'n2' }).then(() => 'made', (e: { code: string }) => e.code);
    assert.equal(lost, 'ERR_UNAVAILABLE', 'the outcome never reached the node');
    // What a publisher that cannot tell does: try again with the same key until accepted.
    const retried = await publishWhenUp(b.server, 'idem', { n: 2 }, 'n2');
    const third = await publishWhenUp(b.server, 'idem', { n: 3 }, 'n3');
    await untilDelivered(alice, 'idem', third, 'n 3');
    // Without the key the retry is a second publication: n 2 at offsets 2 and 3.
    assert.deepEqual(datas(alice, 'idem'), [1, 2, 3], 'n 2 once');
    assert.deepEqual([retried.offset, third.offset], [2, 3], 'the retry settled with the position Redis gave n 2');
  });

  test('a gap fill that failed while Redis stalled (connections open) is tried again: nothing stays queued', async (t) => {
    const r = await redis(t);
    if (!r) return;
    const { tap, b, alice } = await aliceBehindTap(r, 'stall');
    const other = await apiNode(r);
    await b.server.publish('stall', { n: 1 });
    await waitFor(() => pubs(alice, 'stall').length === 1, { what: 'n 1' });
    // Node b misses n 2 (its pub/sub is held), then makes n 3 itself: a gap at offset 2, and the
    // fill's read is the reply held next, so it times out (5 s) with every connection open.
    tap.holdSub();
    await other.server.publish('stall', { n: 2 });
    tap.holdCmdAfterNextReply();
    await b.server.publish('stall', { n: 3 });
    // The read's command timeout is 5 s: release after it, as a Redis that wakes up would.
    const heldAt = Date.now();
    await waitFor(() => Date.now() - heldAt >= 6_000, { timeout: 10_000, interval: 100, what: 'the stall' });
    tap.release();
    await other.server.publish('stall', { n: 4 });
    // Before the fix, node b kept n 2, 3 and 4 queued behind the failed fill for good.
    await waitFor(() => pubs(alice, 'stall').length >= 4, { what: 'n 2-4 on node b', timeout: 15_000 });
    await alice.request('flush');
    assert.deepEqual(datas(alice, 'stall'), [1, 2, 3, 4]);
  });

  test('Redis down: publish and presence reject ERR_UNAVAILABLE (admin API 503), a subscription with history answers UNAVAILABLE, echo still works; a clear log line', async (t) => {
    const r = await redis(t);
    if (!r) return;
    const b = await apiNode(r);
    const c = await client(b.url, 'erin');
    assert.equal((await fetch(`${b.server.adminUrl}/readyz`)).status, 200, 'ready while Redis answers');
    await r.stop();
    await waitFor(() => b.logs.some((l) => l.event === 'redis' && l.level === 'error'), { what: 'a redis error line' });
    await assert.rejects(b.server.publish('x', 1), (e: { code: string }) => e.code === 'ERR_UNAVAILABLE');
    await assert.rejects(b.server.sendToUser('erin', 1), (e: { code: string }) => e.code === 'ERR_UNAVAILABLE');
    // Not ready for a load balancer while Redis is unreachable (the broker is a HealthReporter).
    const ready = await fetch(`${b.server.adminUrl}/readyz`);
    assert.equal(ready.status, 503, await ready.text());
    // Presence cannot be known: refused, never this node's part passed off as the whole.
    await assert.rejects(b.server.presence('x'), (e: { code: string }) => e.code === 'ERR_UNAVAILABLE');
    const pres = await fetch(`${b.server.adminUrl}/api/presence`);
    assert.equal(pres.status, 503);
    assert.equal(((await pres.json()) as { error: string }).error, 'UNAVAILABLE');
    const stats = (await (await fetch(`${b.server.adminUrl}/api/stats`)).json()) as { connections: number; deployment: unknown };
    assert.equal(stats.connections, 1, 'this process\'s numbers still come');
    assert.equal(stats.deployment, null);
    const id = c.id('s');
    c.send({ t: 'sub', id, ch: 'x' });
    const ack = await c.next((f) => f.t === 'ack' && f.id === id);
    assert.equal(ack.error.code, 'UNAVAILABLE');
    assert.deepEqual((await c.request({ hello: 1 })).data, { hello: 1 }, 'requests (no stream) keep working');
  });

  test('a node SIGKILLed: its clients move to the other node and recover from the Redis history with no loss', async (t) => {
    const r = await redis(t);
    if (!r) return;
    const a = await cliNode(r);
    const b = await cliNode(r);
    const api = await apiNode(r);
    const users = ['u1', 'u2', 'u3', 'u4'];
    const onA = await Promise.all(users.map((u) => client(a.url, u)));
    for (const c of onA) await sub(c, 'feed');
    for (const c of onA) await sub(c, '$user');
    /** Publications n = from..to, each on 'feed' and to every user's $user stream. */
    const publish = async (from: number, to: number) => {
      for (let n = from; n <= to; n++) {
        await api.server.publish('feed', { n });
        for (const u of users) await api.server.sendToUser(u, { n });
      }
    };
    await publish(1, 5);
    for (const c of onA) await waitFor(() => pubs(c, 'feed').length === 5 && pubs(c, '$user').length === 5, { what: 'first 5' });
    await a.stop('SIGKILL');
    for (const c of onA) await waitFor(() => c.closed, { what: 'connection cut' });
    // Published while the clients are between nodes.
    await publish(6, 10);
    const moved = await Promise.all(users.map((u) => client(b.url, u)));
    for (let i = 0; i < users.length; i++) {
      for (const ch of ['feed', '$user']) {
        const last = pubs(onA[i]!, ch).at(-1)!;
        const ack = await sub(moved[i]!, ch, { offset: last.offset, epoch: last.epoch });
        assert.equal(ack.recovered, true, `${users[i]} ${ch} recovered`);
      }
    }
    await publish(11, 12);
    for (let i = 0; i < users.length; i++) {
      const c = moved[i]!;
      await waitFor(() => pubs(c, 'feed').length >= 7 && pubs(c, '$user').length >= 7, { what: 'replay + live' });
      await c.request('flush');
      for (const ch of ['feed', '$user']) {
        assert.deepEqual([...datas(onA[i]!, ch), ...datas(c, ch)], range(1, 12), `${users[i]} ${ch}: exactly once, in order`);
      }
    }
  });
});

/**
 * A TCP relay between a node and Redis that can fail the node's connections on cue: `cut()`
 * drops the next reply to a script (EVALSHA/EVAL) on a command connection and closes it (Redis
 * ran the script, the node never hears); `holdSub()` keeps what Redis sends to subscriber
 * connections (named wss-mp-sub:…) and `holdCmdAfterNextReply()` what it sends to command
 * connections after the next reply, until `release()`: a Redis that stalls, sockets open.
 */
async function redisTap(redisPort: number) {
  const net = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const held: (() => void)[] = [];
  const mode = { cut: false, sub: false, cmdAfter: -1 };
  const tap = {
    port: 0,
    cuts: 0,
    cut: () => void (mode.cut = true),
    holdSub: () => void (mode.sub = true),
    holdCmdAfterNextReply: () => void (mode.cmdAfter = 1),
    release() {
      mode.sub = false;
      mode.cmdAfter = -1;
      for (const f of held.splice(0)) f();
    },
    close: async () => {},
  };
  const server = net.createServer((down) => {
    const up = net.connect(redisPort, '127.0.0.1');
    sockets.add(down).add(up);
    let head = '';
    let cutNext = false;
    const isSub = () => head.includes('wss-mp-sub:');
    down.on('data', (d) => {
      if (head.length < 4096) head += d.toString('latin1');
      if (mode.cut && !isSub() && /evalsha|\beval\b/i.test(d.toString('latin1'))) {
        mode.cut = false;
        cutNext = true;
      }
      up.write(d);
    });
    up.on('data', (d) => {
      if (cutNext) {
        tap.cuts++;
        down.destroy();
        up.destroy();
        return;
      }
      const hold = isSub() ? mode.sub : mode.cmdAfter === 0;
      if (!isSub() && mode.cmdAfter > 0) mode.cmdAfter--;
      if (hold) held.push(() => down.write(d));
      else down.write(d);
    });
    for (const s of [down, up]) {
      s.on('error', () => {});
      s.on('close', () => (down.destroy(), up.destroy(), sockets.delete(s)));
    }
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  tap.port = (server.address() as import('node:net').AddressInfo).port;
  tap.close = () => new Promise<void>((res) => {
    for (const s of sockets) s.destroy();
    server.close(() => res());
  });
  return tap;
}

/** One command over a raw RESP socket; resolves with the last integer in the reply. */
async function redisInt(port: number, ...args: string[]): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.on('error', reject);
    s.on('connect', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    s.on('data', (d) => {
      buf += d;
      const ints = [...buf.matchAll(/:(-?\d+)\r\n/g)];
      if (ints.length > 0) {
        s.destroy();
        resolve(Number(ints.at(-1)![1]));
      }
    });
  });
}
