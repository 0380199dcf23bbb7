// PendingConnections on real loopback sockets: caps per address and in total, the absolute
// deadline (whatever the peer trickles), settle/requestSeen, and rate-limited reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { PendingConnections, type PendingCapsOptions } from '../../src/server/pending-caps';
import { parseTrustList } from '../../src/server/trust-proxy';
import { waitFor } from '../../../../test/support/wait';

type Report = { kind: string; ip: string; reason: string; count: number };

async function harness(t: { after(fn: () => unknown): void }, opts: Partial<PendingCapsOptions> = {}) {
  const reports: Report[] = [];
  const pending = new PendingConnections({
    maxPending: 0, maxPendingPerIp: 0, deadlineMs: 60_000, ipv6Prefix: 64, trusted: [],
    report: (kind, d) => reports.push({ kind, ...d }),
    ...opts,
  });
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => {});
    if (pending.admit(s)) accepted.push(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const clients: net.Socket[] = [];
  const connect = (localAddress?: string) => new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(c));
    c.on('error', reject);
    clients.push(c);
  });
  const closed = (c: net.Socket) => new Promise<void>((resolve) => (c.destroyed ? resolve() : c.once('close', () => resolve())));
  t.after(() => {
    pending.stop();
    for (const c of clients) c.destroy();
    pending.destroyAll();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { pending, reports, accepted, connect, closed, clients };
}

test('per-address cap: sockets over it are closed at accept and reported once; other addresses pass', async (t) => {
  const h = await harness(t, { maxPendingPerIp: 3 });
  for (let i = 0; i < 6; i++) await h.connect();
  await waitFor(() => h.accepted.length + h.reports.reduce((n, r) => n + r.count, 0) >= 4, { timeout: 5_000, what: 'the accepts' });
  await waitFor(() => h.clients.filter((c) => c.destroyed).length === 3, { timeout: 5_000, what: '3 refused sockets to close' });
  assert.equal(h.pending.size, 3);
  assert.equal(h.pending.countFor('127.0.0.1'), 3);
  assert.deepEqual(h.reports[0], { kind: 'refused', ip: '127.0.0.1', reason: 'too many connections still in their handshake from this address', count: 1 });
  // Another loopback address has its own allowance.
  await h.connect('127.0.0.2');
  await waitFor(() => h.pending.countFor('127.0.0.2') === 1, { timeout: 5_000, what: 'the other address to be admitted' });
  // A socket that closes frees its slot.
  h.clients[0]!.destroy();
  await waitFor(() => h.pending.countFor('127.0.0.1') === 2, { timeout: 5_000, what: 'the slot to be freed' });
});

test('trusted peers (a proxy) are exempt from the per-address cap, not from the total', async (t) => {
  const h = await harness(t, { maxPendingPerIp: 1, maxPending: 3, trusted: parseTrustList('loopback') });
  for (let i = 0; i < 4; i++) await h.connect();
  await waitFor(() => h.clients.filter((c) => c.destroyed).length === 1, { timeout: 5_000, what: 'one over the total to close' });
  assert.equal(h.pending.size, 3);
  assert.match(h.reports[0]!.reason, /\(server\)/);
});

test('the deadline is absolute: a socket trickling bytes is destroyed; one that sent a request or upgraded is not', async (t) => {
  const h = await harness(t, { deadlineMs: 300 });
  h.pending.start();
  const trickler = await h.connect();
  const requested = await h.connect();
  const upgraded = await h.connect();
  await waitFor(() => h.accepted.length === 3, { timeout: 5_000, what: '3 accepts' });
  h.pending.requestSeen(h.accepted[1]!);
  h.pending.settle(h.accepted[2]!);
  assert.equal(h.pending.size, 2, 'the upgraded socket no longer counts');
  const t0 = Date.now();
  const timer = setInterval(() => trickler.write('x'), 50); // activity does not extend the deadline
  t.after(() => clearInterval(timer));
  await h.closed(trickler);
  clearInterval(timer);
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 200 && elapsed < 3_000, `destroyed after ${elapsed} ms`);
  await waitFor(() => h.reports.some((r) => r.kind === 'timeout'), { timeout: 3_000, what: 'the timeout report' });
  assert.match(h.reports.find((r) => r.kind === 'timeout')!.reason, /no complete request within 300 ms/);
  assert.equal(requested.destroyed, false);
  assert.equal(upgraded.destroyed, false);
  assert.equal(h.pending.size, 1);
});

test('reports are rate-limited to one a second per kind, with the count since the last', async (t) => {
  const h = await harness(t, { maxPending: 1 });
  h.pending.start();
  for (let i = 0; i < 8; i++) await h.connect();
  await waitFor(() => h.clients.filter((c) => c.destroyed).length === 7, { timeout: 5_000, what: '7 refusals' });
  assert.equal(h.reports.length, 1, 'one line for the burst so far');
  // The rest are reported by a later sweep, counted.
  await waitFor(() => h.reports.length === 2, { timeout: 5_000, what: 'the held-back count' });
  assert.equal(h.reports[0]!.count + h.reports[1]!.count, 7);
});

test('destroyAll closes every pending socket (shutdown)', async (t) => {
  const h = await harness(t);
  for (let i = 0; i < 3; i++) await h.connect();
  await waitFor(() => h.pending.size === 3, { timeout: 5_000, what: '3 pending' });
  assert.equal(h.pending.destroyAll(), 3);
  await Promise.all(h.clients.map(h.closed));
  await waitFor(() => h.pending.size === 0, { timeout: 5_000, what: 'all released' });
});
