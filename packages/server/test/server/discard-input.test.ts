// discardInput against a real ws server and client on loopback: after it, nothing the client
// sends is parsed (no message event, not even for the rest of a chunk already being parsed),
// and the connection still closes and reports its close. Also checks that the ws internals it
// relies on are there, so a ws upgrade that changes them fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { discardInput } from '../../src/server/discard-input';
import { waitFor } from '../../../../test/support/wait';

async function pair(t: { after(fn: () => unknown): void }) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const server = new Promise<WebSocket>((r) => wss.once('connection', r));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  client.on('error', () => {});
  await once(client, 'open');
  t.after(() => {
    client.terminate();
    return new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { server: await server, client };
}

test('ws internals discardInput relies on are present', async (t) => {
  const { server } = await pair(t);
  const r = (server as unknown as { _receiver: Record<string, unknown> })._receiver;
  assert.equal(typeof r._loop, 'boolean', 'Receiver#_loop');
  assert.equal(typeof r._write, 'function', 'Receiver#_write');
});

test('after discardInput, the rest of the chunk and every later frame go unparsed; the close is still reported', async (t) => {
  const { server, client } = await pair(t);
  const seen: string[] = [];
  server.on('message', (d) => {
    seen.push(String(d));
    // Cut at the third message of a batch that arrives in one chunk.
    if (seen.length === 3) {
      server.close(4029, 'rate limited');
      discardInput(server);
    }
  });
  // Corked into one write, so the server reads the five frames in one chunk.
  const raw = (client as unknown as { _socket: import('node:net').Socket })._socket;
  raw.cork();
  for (const m of ['m1', 'm2', 'm3', 'm4', 'm5']) client.send(m);
  raw.uncork();
  const closed = once(server, 'close');
  const clientClosed = once(client, 'close') as Promise<[number, Buffer]>;
  await waitFor(() => seen.length >= 3, { timeout: 5_000, what: 'the first three messages' });
  for (let i = 0; i < 100 && client.readyState === WebSocket.OPEN; i++) client.send(`late ${i}`);
  const [code] = await clientClosed;
  assert.equal(code, 4029, 'the client gets the close frame');
  await closed;
  assert.deepEqual(seen, ['m1', 'm2', 'm3'], 'nothing after the cut was parsed');
});
