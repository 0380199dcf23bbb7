// `wss-mp-server --workers 2`: one port served by two node:cluster workers (real processes),
// channels across workers through the primary (no Redis), a killed worker replaced, and
// SIGTERM draining every worker. Publications are made by a client through --conformance.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { createPki, issueLeaf } from './support/certs';
import { ProtoClient, type Frame } from './conformance/client';
import { spawn } from 'node:child_process';
import { SERVER_CLI, startServer, type RunningServer } from './support/server';
import { waitFor, within } from './support/wait';
import { signHs256, now } from './support/jwt';
import { requireBinary } from './support/binaries';
import { handshakeSerial } from './support/net-tools';
import { startRedis } from './support/redis';
import type { Presence } from 'wss-mp-server';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

async function cluster(extra: string[] = []): Promise<RunningServer> {
  const s = await startServer(['--behind-proxy', '--workers', '2', '--messaging', '--conformance', '--heartbeat-interval', '0', '--drain-timeout', '2s', ...extra], { timeout: 30_000 });
  cleanup.push(() => s.stop('SIGKILL'));
  // Both workers listening (the harness returns at the first).
  await waitFor(() => s.logs.filter((l) => l.event === 'listening').length >= 2, { what: 'two workers listening', timeout: 30_000 });
  return s;
}

const workerPids = (s: RunningServer) => s.logs.filter((l) => l.event === 'worker' && l.msg === 'started').map((l) => l.pid as number);

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';

async function proto(url: string, user?: string): Promise<ProtoClient> {
  const c = await ProtoClient.open(url, user === undefined ? {} : { headers: { authorization: `Bearer ${signHs256(SECRET, { sub: user, exp: now() + 600 })}` } });
  cleanup.push(() => c.close());
  await c.next((f) => f.t === 'welcome');
  return c;
}

const sub = (c: ProtoClient, ch: string, pos?: { offset: number; epoch: string }): Promise<Frame> => c.subscribed(ch, pos);


/** GET /api/presence over a new connection (no keep-alive: round-robin picks the worker). */
function presenceOver(port: number, query: string): Promise<Presence> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/api/presence${query}`, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${res.statusCode} ${body}`));
        const { rid: _rid, ...p } = JSON.parse(body) as Presence & { rid: string };
        resolve({ ...p, users: [...p.users].sort() });
      });
    });
    req.on('error', reject);
  });
}

const datas = (c: ProtoClient, ch: string) => c.frames.filter((f) => f.t === 'pub' && f.ch === ch).map((f) => f.data.n);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('--workers 2', () => {
  test('plain echo, a channel across both workers (each publication once per subscriber), a killed worker replaced and its clients recovered', async () => {
    const s = await cluster();
    assert.equal(new Set(workerPids(s)).size, 2);

    // Plain echo (no subprotocol).
    const plain = new WebSocket(s.url);
    cleanup.push(async () => plain.terminate());
    await new Promise((r, j) => plain.once('open', r).once('error', j));
    plain.send('hello');
    const [echo] = await new Promise<[Buffer]>((r) => plain.once('message', (d: Buffer) => r([d])));
    assert.equal(echo.toString(), 'hello');

    // Eight clients: round-robin spreads them over both workers.
    const clients = await Promise.all(Array.from({ length: 8 }, () => proto(s.url)));
    for (const c of clients) await sub(c, 'room');
    for (let n = 1; n <= 10; n++) await clients[n % 8]!.request({ publish: { ch: 'room', data: { n } } });
    for (const c of clients) {
      await waitFor(() => datas(c, 'room').length >= 10, { what: 'ten publications on every client' });
      await c.request('flush');
      assert.deepEqual(datas(c, 'room'), range(1, 10), 'each once, in order, whichever worker published');
    }

    // Kill one worker: its clients are cut, the others stay; a replacement starts.
    const [victim] = workerPids(s);
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => clients.some((c) => c.closed), { what: 'the killed worker\'s clients cut' });
    await s.waitForLog((l) => l.event === 'worker' && l.msg === 'worker died; starting a replacement' && l.pid === victim);
    await waitFor(() => workerPids(s).length >= 3, { what: 'a replacement worker', timeout: 30_000 });
    const cut = clients.filter((c) => c.closed);
    const kept = clients.filter((c) => !c.closed);
    assert.ok(cut.length > 0 && kept.length > 0, `some clients on each worker (cut ${cut.length}, kept ${kept.length})`);

    // Published while the cut clients are away; the history lives in the primary.
    for (let n = 11; n <= 15; n++) await kept[0]!.request({ publish: { ch: 'room', data: { n } } });
    for (const old of cut) {
      const last = old.frames.filter((f) => f.t === 'pub').at(-1)!;
      const c = await proto(s.url);
      const ack = await sub(c, 'room', { offset: last.offset, epoch: last.epoch });
      assert.equal(ack.recovered, true);
      assert.deepEqual([...datas(old, 'room'), ...datas(c, 'room')], range(1, 15), 'no loss across the worker kill');
    }
  });

  test('presence agrees across workers (overall and per channel, with connection counts); a killed worker\'s entries go at once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-workers-presence-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'jwt'), SECRET);
    const s = await cluster(['--jwt-secret-file', path.join(dir, 'jwt'), '--admin', '127.0.0.1:0']);
    const port = (await s.waitForLog((l) => l.event === 'admin' && typeof l.port === 'number')).port as number;
    // Eight users round-robined over the two workers; u0…u3 on 'room', every one on 'all'.
    const users = Array.from({ length: 8 }, (_, i) => `u${i}`);
    const clients = await Promise.all(users.map((u) => proto(s.url, u)));
    for (const [i, c] of clients.entries()) {
      await sub(c, 'all');
      if (i < 4) await sub(c, 'room');
    }
    const want = (us: string[]) => ({ users: [...us].sort(), connections: us.length, userConnections: Object.fromEntries(us.map((u) => [u, 1])) });
    // Each query on a new connection: the primary hands them out round-robin, so both workers answer.
    const answers = async (q: string) => Promise.all(Array.from({ length: 4 }, () => presenceOver(port, q)));
    for (const a of await answers('')) assert.deepEqual(a, want(users), 'overall, whichever worker answers');
    for (const a of await answers('?channel=all')) assert.deepEqual(a, want(users));
    for (const a of await answers('?channel=room')) assert.deepEqual(a, want(users.slice(0, 4)));

    // Kill one worker: its clients' entries are dropped by the primary as it exits.
    const [victim] = workerPids(s);
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => clients.some((c) => c.closed), { what: 'the killed worker\'s clients cut' });
    await s.waitForLog((l) => l.event === 'worker' && l.pid === victim);
    // The primary drops the dead worker's entries all at once; this side sees its clients close
    // one by one: done when both agree.
    const open = () => clients.filter((c) => !c.closed).length;
    await waitFor(async () => (await presenceOver(port, '?channel=all')).connections === open(), { what: 'the dead worker\'s entries gone', timeout: 20_000 });
    const kept = users.filter((_, i) => !clients[i]!.closed);
    assert.ok(kept.length > 0 && kept.length < users.length, `clients on both workers (kept ${kept.length})`);
    for (const a of await answers('?channel=all')) assert.deepEqual(a, want(kept));
    for (const a of await answers('?channel=room')) assert.deepEqual(a, want(kept.filter((u) => users.indexOf(u) < 4)));
    for (const a of await answers('')) assert.deepEqual(a, want(kept));
  });

  test('with --redis each worker is a node: presence agrees across workers; a SIGKILLed worker stops counting within the presence ttl', async (t) => {
    const bin = requireBinary(t, 'redis-server');
    if (!bin) return;
    const r = await startRedis(bin);
    cleanup.push(() => r.stop());
    const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-workers-redis-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'jwt'), SECRET);
    const s = await cluster(['--jwt-secret-file', path.join(dir, 'jwt'), '--admin', '127.0.0.1:0', '--redis', r.url,
      '--redis-heartbeat', '250ms', '--redis-presence-ttl', '3s']);
    const port = (await s.waitForLog((l) => l.event === 'admin' && typeof l.port === 'number')).port as number;
    await waitFor(() => s.logs.filter((l) => l.event === 'redis' && l.msg === 'connected').length >= 2, { what: 'both workers on Redis', timeout: 20_000 });
    const users = ['r0', 'r1', 'r2', 'r3'];
    const clients = await Promise.all(users.map((u) => proto(s.url, u)));
    for (const c of clients) await sub(c, 'room');
    const want = (us: string[]) => ({ users: [...us].sort(), connections: us.length, userConnections: Object.fromEntries(us.map((u) => [u, 1])) });
    for (const q of ['', '?channel=room']) {
      const answers = await Promise.all(Array.from({ length: 4 }, () => presenceOver(port, q)));
      for (const a of answers) assert.deepEqual(a, want(users), `${q || 'overall'}, whichever worker answers`);
    }
    const [victim] = workerPids(s);
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => clients.some((c) => c.closed), { what: 'the killed worker\'s clients cut' });
    // Nobody deletes a SIGKILLed node's entries: they stop counting 3 s after its last heartbeat
    // (and this side sees the cut clients close one by one: done when both agree).
    const open = () => clients.filter((c) => !c.closed).length;
    await waitFor(async () => (await presenceOver(port, '?channel=room')).connections === open(), { what: 'the dead worker\'s entries expired', timeout: 20_000, interval: 100 });
    const kept = users.filter((_, i) => !clients[i]!.closed);
    assert.ok(kept.length > 0 && kept.length < users.length, `clients on both workers (kept ${kept.length})`);
    for (const q of ['', '?channel=room']) assert.deepEqual(await presenceOver(port, q), want(kept));
  });

  test('SIGHUP to the primary reloads the certificate in every worker: every new handshake gets the new one', async () => {
    const pki = createPki('wss-mp-workers');
    cleanup.push(async () => pki.cleanup());
    const a = issueLeaf(pki, { name: 'a' });
    const b = issueLeaf(pki, { name: 'b' });
    const cf = path.join(pki.dir, 'w-cert.pem');
    const kf = path.join(pki.dir, 'w-key.pem');
    copyFileSync(a.fullchain, cf);
    copyFileSync(a.key, kf);
    const s = await startServer(['--cert', cf, '--key', kf, '--host', '127.0.0.1', '--no-watch', '--workers', '2', '--heartbeat-interval', '0'], { timeout: 30_000 });
    cleanup.push(() => s.stop('SIGKILL'));
    await waitFor(() => s.logs.filter((l) => l.event === 'listening').length >= 2, { what: 'two workers listening', timeout: 30_000 });
    // Round-robin: consecutive handshakes alternate between the workers.
    for (let i = 0; i < 4; i++) assert.equal(await handshakeSerial(s.port, pki.caCert), a.serial);
    copyFileSync(b.fullchain, cf);
    copyFileSync(b.key, kf);
    s.proc.kill('SIGHUP');
    await waitFor(() => s.logs.filter((l) => l.event === 'reload' && l.ok === true && l.serial === b.serial).length >= 2, { what: 'both workers reloaded' });
    for (let i = 0; i < 4; i++) assert.equal(await handshakeSerial(s.port, pki.caCert), b.serial);
  });

  test('a worker that fails at start-up (missing certificate) stops the primary with its exit code, no fork loop', async () => {
    const proc = spawn(process.execPath, [SERVER_CLI, '--workers', '2', '--cert', '/nonexistent/cert.pem', '--key', '/nonexistent/key.pem', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    const code = await within(new Promise<number | null>((r) => proc.once('exit', (c) => r(c))), 20_000, 'the primary to exit');
    assert.equal(code, 1);
    assert.match(out, /a worker failed at start-up; stopping/);
    assert.ok(out.split('\n').filter((l) => l.includes('"msg":"started"')).length <= 2, 'no replacement forked');
  });

  test('SIGTERM drains every worker: clients get 1001, the primary exits 0', async () => {
    const s = await cluster();
    const clients = await Promise.all(Array.from({ length: 4 }, () => proto(s.url)));
    const code = await s.stop('SIGTERM', 20_000);
    assert.equal(code, 0);
    for (const c of clients) {
      await waitFor(() => c.closed, { what: 'closed' });
      assert.equal(c.closed!.code, 1001);
    }
    assert.ok(s.logs.some((l) => l.event === 'worker' && l.msg === 'every worker drained and exited'));
    assert.equal(s.logs.filter((l) => l.event === 'stopped').length, 2, 'both workers drained');
  });
});
