// MessageBudget against a real ws server and client on loopback: what unfinished messages
// pin is counted while they are unfinished and released when they complete or the
// connection closes; the bounds close with 1009/1013; the deadline fires. Also checks that
// the ws internals it relies on are there, so a ws upgrade that changes them fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { MessageBudget, UNFINISHED_TOO_BIG, UNFINISHED_TOTAL, type MessageBudgetOptions } from '../../src/server/message-budget';
import { waitFor } from '../../../../test/support/wait';

async function harness(t: { after(fn: () => unknown): void }, opts: Partial<MessageBudgetOptions> = {}) {
  const timedOut: WebSocket[] = [];
  const budget = new MessageBudget({
    perConnection: 1 << 20, total: 64 << 20, timeoutMs: 60_000,
    onTimeout: (ws) => {
      timedOut.push(ws);
      ws.close(1008, 'message not completed in time');
    },
    ...opts,
  });
  const serverSockets: WebSocket[] = [];
  const received: string[] = [];
  const errors: Array<{ code?: string }> = [];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxFragments: 64 });
  wss.on('connection', (ws) => {
    budget.install(ws);
    serverSockets.push(ws);
    ws.on('message', (d) => received.push(d.toString()));
    ws.on('error', (e) => errors.push(e as { code?: string }));
    ws.on('close', () => budget.forget(ws));
  });
  await once(wss, 'listening');
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const clients: WebSocket[] = [];
  const connect = async () => {
    const c = new WebSocket(url);
    c.on('error', () => {});
    clients.push(c);
    await once(c, 'open');
    await waitFor(() => serverSockets.length === clients.length, { timeout: 5_000, what: 'the server side' });
    return c;
  };
  t.after(() => {
    budget.stop();
    for (const c of clients) c.terminate();
    return new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { budget, received, errors, connect, timedOut, serverSockets };
}

const closeOf = (c: WebSocket) => once(c, 'close') as Promise<[number, Buffer]>;

test('ws internals the budget relies on are present', async (t) => {
  const h = await harness(t);
  await h.connect();
  const r = (h.serverSockets[0] as unknown as { _receiver: Record<string, unknown> })._receiver;
  for (const field of ['_fin', '_numFragments', '_fragments', 'createError']) assert.ok(field in r, `Receiver has ${field}`);
  assert.equal(typeof r.dataMessage, 'function');
  assert.ok(Object.getOwnPropertySymbols(r).some((s) => s.description === 'websocket'), 'receiver → WebSocket symbol');
});

test('unfragmented messages are not tracked; a fragmented one is, until its last fragment', async (t) => {
  const h = await harness(t);
  const c = await h.connect();
  c.send('whole');
  await waitFor(() => h.received.length === 1, { timeout: 5_000, what: 'the whole message' });
  assert.equal(h.budget.unfinished, 0);
  c.send('ab', { fin: false });
  c.send('cd', { fin: false });
  await waitFor(() => h.budget.unfinished === 1, { timeout: 5_000, what: 'the unfinished message to be tracked' });
  assert.ok(h.budget.held > 0, 'bytes of the chunks its fragments pin');
  c.send('ef', { fin: true });
  await waitFor(() => h.received.length === 2, { timeout: 5_000, what: 'the completed message' });
  assert.equal(h.received[1], 'abcdef');
  assert.equal(h.budget.unfinished, 0);
  assert.equal(h.budget.held, 0);
});

test('a connection closing mid-message releases what it pinned', async (t) => {
  const h = await harness(t);
  const c = await h.connect();
  c.send('ab', { fin: false });
  await waitFor(() => h.budget.unfinished === 1, { timeout: 5_000, what: 'tracking' });
  c.terminate();
  await waitFor(() => h.budget.unfinished === 0 && h.budget.held === 0, { timeout: 5_000, what: 'the release' });
});

test('over the per-connection bound: 1009 with its error code, memory released', async (t) => {
  const h = await harness(t, { perConnection: 1 });
  const c = await h.connect();
  const closed = closeOf(c);
  c.send('ab', { fin: false });
  const [code] = await closed;
  assert.equal(code, 1009);
  assert.equal(h.errors[0]?.code, UNFINISHED_TOO_BIG);
  assert.equal(h.budget.held, 0);
});

test('over the total: the connection crossing it gets 1013; one under it completes', async (t) => {
  const h = await harness(t, { total: 100 });
  const a = await h.connect();
  a.send('x', { fin: false }); // pins its read chunk: a 7-byte frame on plain loopback
  await waitFor(() => h.budget.unfinished === 1, { timeout: 5_000, what: 'a tracked' });
  assert.ok(h.budget.held > 0 && h.budget.held < 100, `a holds ${h.budget.held} bytes`);
  const b = await h.connect();
  const closed = closeOf(b);
  b.send('y'.repeat(200), { fin: false });
  assert.equal((await closed)[0], 1013);
  assert.equal(h.errors[0]?.code, UNFINISHED_TOTAL);
  a.send('z', { fin: true });
  await waitFor(() => h.received.length === 1, { timeout: 5_000, what: 'a to complete' });
  assert.equal(h.received[0], 'xz');
  assert.equal(h.budget.held, 0);
});

test('a message past its deadline: onTimeout with its WebSocket, tracking dropped', async (t) => {
  const h = await harness(t, { timeoutMs: 200 });
  const c = await h.connect();
  const closed = closeOf(c);
  const t0 = Date.now();
  c.send('ab', { fin: false });
  const [code, reason] = await closed;
  assert.equal(code, 1008);
  assert.equal(reason.toString(), 'message not completed in time');
  assert.ok(Date.now() - t0 >= 150);
  assert.deepEqual(h.timedOut, [h.serverSockets[0]]);
  assert.equal(h.budget.unfinished, 0);
});
