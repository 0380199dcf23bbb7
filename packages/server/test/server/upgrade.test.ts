// upgrade: the handshake route over a real http server on loopback: admission refusals are
// answered in HTTP (with the log line), accepted upgrades reach the hub on the configured
// path, and the fragment cap follows maxPayload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { Hub } from '../../src/server/hub';
import { maxFragmentsFor, serveUpgrades } from '../../src/server/upgrade';
import { Logger, type LogEntry } from '../../src/common/log';
import { parseTrustList } from '../../src/server/trust-proxy';

async function setup(t: { after(fn: () => unknown): void }) {
  const logs: LogEntry[] = [];
  const log = new Logger((e) => logs.push(e), false);
  const hub = new Hub({ maxConnections: 0, maxConnectionsPerIp: 0, maxBufferedAmount: 1 << 20, coalesceWrites: true, ipv6Prefix: 64, maxUnfinishedBytes: 1 << 20, maxUnfinishedTotal: 64 << 20, messageTimeout: 30_000 }, log);
  const server = http.createServer();
  serveUpgrades(server, {
    paths: ['/wss', '/'],
    allowedOrigins: new Set(['https://ok.example']),
    maxPayload: 1024,
    subprotocols: [],
    trustProxy: parseTrustList('loopback'),
    ipHeaders: ['x-real-ip'],
  }, hub, log);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const c of hub.conns) c.terminate();
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  const base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { hub, logs, base };
}

/** The HTTP status an upgrade attempt got (101 when it opened). */
function attempt(url: string, headers: Record<string, string> = {}): Promise<{ status: number; ws?: WebSocket; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined });
      res.resume();
    });
    ws.once('error', reject);
  });
}

test('accepted on a configured path: the hub gets it with the configured path and the forwarded IP', async (t) => {
  const { hub, base } = await setup(t);
  const r = await attempt(`${base}/wss/?token=x`, { 'X-Real-IP': '203.0.113.9' });
  assert.equal(r.status, 101);
  t.after(() => r.ws!.terminate());
  const conn = [...hub.conns][0]!;
  assert.equal(conn.path, '/wss', 'normalised to the configured string');
  assert.equal(conn.ip, '203.0.113.9', 'loopback is a trusted proxy');
  assert.equal(conn.remoteAddress, '127.0.0.1');
});

test('refused in HTTP: 404 on another path, 403 for a browser origin not allowed, 503 + Retry-After while draining', async (t) => {
  const { hub, logs, base } = await setup(t);
  assert.equal((await attempt(`${base}/nope`)).status, 404);
  assert.equal((await attempt(`${base}/wss`, { Origin: 'https://evil.example' })).status, 403);
  const ok = await attempt(`${base}/wss`, { Origin: 'https://ok.example' });
  assert.equal(ok.status, 101);
  ok.ws!.terminate();
  hub.draining = true;
  const r = await attempt(`${base}/wss`);
  assert.deepEqual([r.status, r.retryAfter], [503, '5']);
  const rejects = logs.filter((l) => l.event === 'reject').map((l) => [l.status, l.level, l.origin]);
  assert.deepEqual(rejects, [[404, 'info', undefined], [403, 'warn', 'https://evil.example'], [503, 'info', undefined]]);
});

test('fragments per message: 64, or one per 16 KiB of a larger maxPayload, at most 16384', () => {
  assert.equal(maxFragmentsFor(64 * 1024), 64);
  assert.equal(maxFragmentsFor(1), 64);
  assert.equal(maxFragmentsFor(16 * 1024 * 1024), 1024);
  assert.equal(maxFragmentsFor(2 ** 31 - 1), 16_384);
});
