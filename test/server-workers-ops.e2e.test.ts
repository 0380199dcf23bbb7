// `wss-mp-server --workers 2 --admin …` (real processes): the node's one admin listener is in
// the primary, /metrics adds up both workers (and keeps counting across a worker killed and
// replaced, or one that stops answering), the admin API acts on clients of both workers, and
// /readyz follows the drain and Redis. Which worker a client is on: its connection id (the
// welcome's `cid`), since worker k of N numbers its connections k, k + N, k + 2N…
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProtoClient } from './conformance/client';
import { adminFetch, scrapeMetrics } from './support/admin';
import { echoes, openWs, rawWs, type OpenedSocket } from './support/net-tools';
import { signHs256, now } from './support/jwt';
import { startRedis } from './support/redis';
import { requireBinary } from './support/binaries';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { SERVER_CLI, startServer, type RunningServer } from './support/server';
import { listenOnFreePort } from './support/ports';
import { waitFor, within } from './support/wait';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-workers-ops-'));
const secretFile = path.join(dir, 'jwt.secret');
writeFileSync(secretFile, SECRET);
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

interface Node {
  s: RunningServer;
  admin: string;
}

/** A --workers 2 node with an admin listener, once both workers listen and /readyz says ready. */
async function node(extra: string[] = []): Promise<Node> {
  const s = await startServer(['--behind-proxy', '--workers', '2', '--messaging', '--jwt-secret-file', secretFile, '--admin', '127.0.0.1:0',
    '--heartbeat-interval', '0', ...extra], { timeout: 30_000 });
  cleanup.push(() => s.stop('SIGKILL'));
  const line = await s.waitForLog((l) => l.event === 'admin' && typeof l.port === 'number');
  const admin = `http://127.0.0.1:${line.port}`;
  await waitFor(() => s.logs.filter((l) => l.event === 'listening').length >= 2, { what: 'two workers listening', timeout: 30_000 });
  await waitFor(async () => (await fetch(`${admin}/readyz`)).status === 200, { what: '/readyz 200', timeout: 30_000, interval: 100 });
  return { s, admin };
}

const token = (sub: string) => signHs256(SECRET, { sub, exp: now() + 600 });
const workerOf = (id: number) => (id % 2 === 1 ? 1 : 2);
const workerPid = (s: RunningServer, n: number) => s.logs.filter((l) => l.event === 'worker' && l.msg === 'started' && l.worker === n).at(-1)!.pid as number;

const scrape = (admin: string) =>
  scrapeMetrics(admin, (_r, text) => {
    // One family per name: the primary's gauges and the workers' add up to one exposition.
    const families = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    assert.equal(new Set(families).size, families.length, 'no metric family twice');
  });

async function api<T = any>(admin: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const r = await adminFetch(admin, p, body);
  return { status: r.status, body: (await r.json()) as T };
}

interface Proto {
  c: ProtoClient;
  id: number;
}

async function proto(url: string, user: string): Promise<Proto> {
  const c = await ProtoClient.open(url, { headers: { authorization: `Bearer ${token(user)}` } });
  cleanup.push(() => c.close());
  const welcome = await c.next((f) => f.t === 'welcome');
  return { c, id: Number(welcome.cid) };
}

/** Connections of `user` until there is one on each worker (round-robin makes that quick). */
async function onBothWorkers(url: string, user: string): Promise<Proto[]> {
  const got: Proto[] = [];
  for (let i = 0; i < 10 && new Set(got.map((p) => workerOf(p.id))).size < 2; i++) got.push(await proto(url, user));
  assert.equal(new Set(got.map((p) => workerOf(p.id))).size, 2, `${user} has a connection on each worker (ids ${got.map((p) => p.id)})`);
  return got;
}

describe('--workers 2 --admin: one admin listener for the node', () => {
  let n: Node;
  before(async () => {
    n = await node();
  });

  test('/metrics adds up both workers: connections spread over them, messages and bytes as sent', async () => {
    const { s, admin } = n;
    assert.equal(s.logs.filter((l) => l.event === 'admin').length, 1, 'one admin listener (the primary), not one per worker');
    const before = await scrape(admin);
    assert.equal(before.get('wss_mp_connections'), 0);
    assert.equal(before.get('wss_mp_handshakes_total'), 0);
    assert.equal(before.get('wss_mp_ready'), 1);
    assert.equal(before.get('wss_mp_worker_up{worker="1"}'), 1);
    assert.equal(before.get('wss_mp_worker_up{worker="2"}'), 1);
    assert.ok(before.has('wss_mp_worker_eventloop_lag_p99_seconds{worker="2"}'), 'event-loop lag per worker');
    assert.ok(before.has('nodejs_eventloop_lag_p99_seconds'), 'and the worst process\'s under the usual name');

    // Eight plain (echo) clients, users p0…p7, three messages each.
    const clients: OpenedSocket[] = [];
    for (let i = 0; i < 8; i++) clients.push(await openWs(`${s.url}?token=${token(`p${i}`)}`));
    let bytes = 0;
    for (const [i, c] of clients.entries()) {
      for (let k = 0; k < 3; k++) {
        const msg = `message ${k} from p${i}`;
        bytes += Buffer.byteLength(msg);
        await echoes(c, msg);
      }
    }
    const m = await scrape(admin);
    assert.equal(m.get('wss_mp_connections'), 8);
    const w1 = m.get('wss_mp_worker_connections{worker="1"}')!;
    const w2 = m.get('wss_mp_worker_connections{worker="2"}')!;
    assert.ok(w1 > 0 && w2 > 0 && w1 + w2 === 8, `both workers got clients (${w1} + ${w2})`);
    assert.equal(m.get('wss_mp_handshakes_total'), 8);
    assert.equal(m.get('wss_mp_messages_received_total'), 24);
    assert.equal(m.get('wss_mp_messages_sent_total'), 24);
    assert.equal(m.get('wss_mp_received_bytes_total'), bytes);
    assert.equal(m.get('wss_mp_sent_bytes_total'), bytes);
    assert.equal(m.get('wss_mp_users'), 8, 'distinct users on the node');

    const stats = await api(admin, '/api/stats');
    assert.equal(stats.status, 200);
    assert.equal(stats.body.connections, 8);
    assert.equal(stats.body.messagesIn, 24);
    assert.equal(stats.body.workers['1'].connections + stats.body.workers['2'].connections, 8);
    const presence = await api(admin, '/api/presence');
    assert.equal(presence.body.connections, 8);
    assert.deepEqual([...presence.body.users].sort(), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);

    for (const c of clients) c.ws.close(1000);
    for (const c of clients) await c.closed;
    await waitFor(async () => (await scrape(admin)).get('wss_mp_connections') === 0, { what: 'no connections', interval: 50 });
    const end = await scrape(admin);
    assert.equal(end.get('wss_mp_disconnects_total{code="1000"}'), 8);
  });

  test('the admin API reaches clients on both workers: publish, send to a user, disconnect a user or one id, presence', async () => {
    const { s, admin } = n;
    const alice = await onBothWorkers(s.url, 'alice');
    const bob = await onBothWorkers(s.url, 'bob');
    const all = [...alice, ...bob];
    assert.equal(new Set(all.map((p) => p.id)).size, all.length, 'connection ids are unique across the workers');
    for (const p of all) {
      await p.c.subscribed('$user');
      await p.c.subscribed('room');
    }

    const pub = await api(admin, '/api/publish', { channel: 'room', data: { n: 1 } });
    assert.equal(pub.status, 200);
    for (const p of all) {
      const f = await p.c.next((x) => x.t === 'pub' && x.ch === 'room');
      assert.deepEqual(f.data, { n: 1 });
    }

    const send = await api(admin, '/api/send', { user: 'alice', data: 'for alice' });
    assert.equal(send.status, 200);
    assert.deepEqual([...send.body.connections].sort(), alice.map((p) => p.id).sort(), 'the ids of alice\'s connections on both workers');
    for (const p of alice) assert.equal((await p.c.next((x) => x.t === 'pub' && x.ch === '$user')).data, 'for alice');

    const pres = await api(admin, '/api/presence?channel=room');
    assert.equal(pres.body.connections, all.length);
    assert.deepEqual([...pres.body.users].sort(), ['alice', 'bob']);

    const dis = await api(admin, '/api/disconnect', { user: 'alice', code: 4003, reason: 'banned' });
    assert.equal(dis.status, 200);
    assert.deepEqual([...dis.body.disconnected].sort(), alice.map((p) => p.id).sort());
    for (const p of alice) {
      await waitFor(() => p.c.closed, { what: 'alice closed' });
      assert.deepEqual(p.c.closed, { code: 4003, reason: 'banned' });
    }
    // One connection by id, on worker 2: only that one goes.
    const target = bob.find((p) => workerOf(p.id) === 2)!;
    const one = await api(admin, '/api/disconnect', { id: target.id });
    assert.deepEqual(one.body.disconnected, [target.id]);
    await waitFor(() => target.c.closed, { what: 'that connection closed' });
    for (const p of bob) if (p !== target) assert.equal(p.c.closed, undefined, 'bob\'s other connections stay');
    // The worker's log line comes through its stdout pipe: it may follow the close frame.
    await waitFor(() => s.logs.some((l) => l.event === 'close' && l.id === target.id && l.by === 'admin API'), { what: 'the close line naming the id' });
    assert.equal(bob.filter((p) => p !== target).every((p) => p.c.frames.filter((f) => f.t === 'pub' && f.ch === '$user').length === 0), true, 'bob got nothing of alice\'s');
    // A worker's refusal keeps its status: a bad channel is the caller's 400.
    const bad = await api(admin, '/api/publish', { channel: '$user', data: 1 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'BAD_REQUEST');
    for (const p of bob) await p.c.close();
  });

  test('a worker that stops answering (SIGSTOP): /metrics answers without it, its counters kept; /readyz 503 until it is back', async () => {
    const { s, admin } = n;
    const before = await scrape(admin);
    const pid = workerPid(s, 2);
    process.kill(pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const m = await scrape(admin);
      assert.ok(Date.now() - t0 < 8_000, 'the scrape is bounded by the per-worker timeout');
      assert.equal(m.get('wss_mp_worker_up{worker="2"}'), 0);
      assert.equal(m.get('wss_mp_worker_up{worker="1"}'), 1);
      assert.equal(m.get('wss_mp_ready'), 0);
      for (const k of ['wss_mp_handshakes_total', 'wss_mp_messages_received_total', 'wss_mp_disconnects_total{code="4003"}']) {
        assert.equal(m.get(k), before.get(k), `${k}: the silent worker's last counts are kept`);
      }
      const ready = await api(admin, '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.workers, false);
      assert.deepEqual(ready.body.workers, { 1: true, 2: false });
      assert.equal((await fetch(`${admin}/healthz`)).status, 200, 'the node is alive');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor(async () => (await fetch(`${admin}/readyz`)).status === 200, { what: '/readyz 200 again', interval: 100 });
  });

  test('a worker killed is replaced: counters do not go down, the replacement is counted as the same worker', async () => {
    const { s, admin } = n;
    const stay = await onBothWorkers(s.url, 'carol');
    const before = await scrape(admin);
    const victim = workerPid(s, 1);
    process.kill(victim, 'SIGKILL');
    await s.waitForLog((l) => l.event === 'worker' && l.msg === 'worker died; starting a replacement' && l.pid === victim, 20_000);
    await waitFor(() => s.logs.filter((l) => l.event === 'worker' && l.msg === 'started' && l.worker === 1).length >= 2, { what: 'a replacement for worker 1', timeout: 30_000 });
    await waitFor(async () => (await fetch(`${admin}/readyz`)).status === 200, { what: '/readyz 200 with the replacement', timeout: 30_000, interval: 100 });
    const after = await scrape(admin);
    for (const k of ['wss_mp_handshakes_total', 'wss_mp_messages_received_total', 'wss_mp_messages_sent_total', 'wss_mp_disconnects_total{code="1000"}']) {
      assert.equal(after.get(k), before.get(k), `${k} kept across the kill`);
    }
    assert.equal(after.get('wss_mp_worker_restarts_total'), 1);
    assert.equal(after.get('wss_mp_worker_up{worker="1"}'), 1);
    assert.ok(!after.has('wss_mp_worker_up{worker="3"}'), 'the replacement is worker 1 again: bounded labels');
    const kept = stay.filter((p) => workerOf(p.id) === 2).length;
    assert.equal(after.get('wss_mp_connections'), kept, 'only worker 2\'s clients are still connected');
    assert.equal(after.get('wss_mp_worker_connections{worker="1"}'), 0);

    // The replacement counts from there.
    const fresh = [await openWs(`${s.url}?token=${token('dave')}`), await openWs(`${s.url}?token=${token('dave')}`)];
    for (const c of fresh) {
      c.ws.send('x');
      await c.next();
    }
    const later = await scrape(admin);
    assert.equal(later.get('wss_mp_handshakes_total'), before.get('wss_mp_handshakes_total')! + 2);
    assert.equal(later.get('wss_mp_messages_received_total'), before.get('wss_mp_messages_received_total')! + 2);
    assert.equal(later.get('wss_mp_connections'), kept + 2);
    for (const c of fresh) c.ws.terminate();
    for (const p of stay) await p.c.close();
  });
});

describe('--workers 2 --admin: readiness', () => {
  test('SIGTERM: /readyz 503 from the start of the drain to the end, /healthz and /metrics still answer; the primary exits 0', async () => {
    const { s, admin } = await node(['--drain-timeout', '5s']);
    // A client that never answers 1001 keeps its worker draining for the whole timeout.
    const straggler = await rawWs(s.port, { read: false, path: `/wss?token=${token('erin')}` });
    s.proc.kill('SIGTERM');
    await s.waitForLog((l) => l.event === 'signal' && String(l.msg).startsWith('draining'));
    const ready = await api(admin, '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.not_draining, false);
    assert.equal((await fetch(`${admin}/healthz`)).status, 200);
    // The worker without a client exits at once: scrapes around that moment ask a worker whose
    // IPC channel is closing (EPIPE), which must not take the primary down.
    for (let i = 0; i < 10; i++) {
      for (const m of await Promise.all(Array.from({ length: 5 }, () => scrape(admin)))) assert.equal(m.get('wss_mp_ready'), 0);
    }
    const code = await new Promise((resolve) => (s.proc.exitCode !== null ? resolve(s.proc.exitCode) : s.proc.once('exit', resolve)));
    straggler.socket.destroy();
    assert.equal(code, 0);
    assert.equal(s.logs.filter((l) => l.event === 'stopped').length, 2, 'both workers drained');
    await assert.rejects(fetch(`${admin}/healthz`), 'the admin listener closes with the primary');
  });

  test('Redis configured and down: /readyz 503 with the broker check failing', async (t) => {
    const bin = requireBinary(t, 'redis-server');
    if (!bin) return;
    const r = await startRedis(bin);
    cleanup.push(() => r.stop());
    const { admin } = await node(['--redis', r.url]);
    const up = await api(admin, '/readyz');
    assert.equal(up.body.checks.broker, true);
    await r.stop();
    await waitFor(async () => (await fetch(`${admin}/readyz`)).status === 503, { what: '/readyz 503 with Redis down', interval: 100 });
    const down = await api(admin, '/readyz');
    assert.equal(down.body.checks.broker, false);
    assert.equal(down.body.checks.workers, true, 'every worker answered: not ready because of the broker');
    assert.deepEqual(down.body.workers, { 1: false, 2: false });
    assert.equal((await fetch(`${admin}/healthz`)).status, 200);
  });
});

describe('--workers 2 --admin: start-up errors in the primary, before any worker', () => {
  async function run(args: string[]): Promise<{ code: number | null; out: string }> {
    const proc = spawn(process.execPath, [SERVER_CLI, '--behind-proxy', '--port', '0', '--workers', '2', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    const code = await within(new Promise<number | null>((r) => proc.once('close', (c) => r(c))), 20_000, 'the primary to exit');
    return { code, out };
  }

  test('an invalid --admin is a usage error (exit 2) naming the option', async () => {
    const { code, out } = await run(['--admin', 'nonsense']);
    assert.equal(code, 2);
    assert.match(out, /admin: expected a port, "HOST:PORT"/);
    assert.doesNotMatch(out, /"msg":"started"/, 'no worker forked');
  });

  test('an admin port in use: exit 1 with the reason, no worker forked', async () => {
    const holder = net.createServer();
    const port = await listenOnFreePort(holder);
    try {
      const { code, out } = await run(['--admin', `127.0.0.1:${port}`]);
      assert.equal(code, 1);
      assert.match(out, new RegExp(`admin listener on 127.0.0.1 port ${port}: already in use`));
      assert.doesNotMatch(out, /"msg":"started"/);
    } finally {
      holder.close();
    }
  });
});
