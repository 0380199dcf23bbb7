// http-front: what the http server answers outside upgrades, over real loopback sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { PassThrough } from 'node:stream';
import { createHttpFront, httpReject, normalizePath } from '../../src/server/http-front';
import { Logger } from '../../src/common/log';
import { rawExchange } from '../../../../test/support/net-tools';

/** What the server answers to `payload` on a plain TCP connection, read until it closes. */
const raw = async (port: number, payload: string): Promise<string> => (await rawExchange(port, payload)).data.toString('latin1');

async function front(t: { after(fn: () => void): void }) {
  const server = createHttpFront({ paths: ['/wss', '/'], handshakeTimeout: 10_000, staticDir: undefined, plainHttpAnswer: true }, undefined, new Logger(false, false));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

test('a plain GET on a socket path is 426 naming websocket; elsewhere 404', async (t) => {
  const port = await front(t);
  const a = await raw(port, 'GET /wss/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(a, /^HTTP\/1\.1 426 /);
  assert.match(a, /\r\nupgrade: websocket\r\n/i);
  assert.match(a, /connect with ws:\/\//);
  const b = await raw(port, 'GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(b, /^HTTP\/1\.1 404 /);
});

test('malformed HTTP gets 400 and oversized headers 431, then the socket closes', async (t) => {
  const port = await front(t);
  assert.match(await raw(port, 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400 Bad Request\r\n/);
  const big = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`;
  assert.match(await raw(port, big), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
});

test('httpReject writes one complete response with Content-Length and extra headers', async () => {
  const socket = new PassThrough();
  let out = '';
  socket.on('data', (d: Buffer) => (out += d.toString()));
  httpReject(socket, 503, 'Service Unavailable', 'bye\n', 'Retry-After: 5\r\n');
  await new Promise((r) => socket.once('end', r));
  assert.equal(out, 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
    'Content-Length: 4\r\nRetry-After: 5\r\n\r\nbye\n');
});

test('normalizePath drops one trailing slash, but / stays /', () => {
  assert.deepEqual(['/wss/', '/wss', '/', '/a/b/'].map(normalizePath), ['/wss', '/wss', '/', '/a/b']);
});
