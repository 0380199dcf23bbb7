// Guards the private Node field the plain-HTTP answer relies on (tlsSocket._parent). If a
// Node upgrade breaks it, this fails first; the server then falls back to a plain close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureDevCert } from '../../src/server/dev-cert/index';
import { createServer, type LogEntry } from '../../src/index';
import { PLAIN_HTTP_BODY, underlyingSocket } from '../../src/server/plain-http';
import { rawExchange } from '../../../../test/support/net-tools';

/** What the server answers to `payload` on a plain TCP connection, read until it closes. */
const raw = async (port: number, payload: string | Buffer): Promise<string> => (await rawExchange(port, payload)).data.toString('latin1');

test(`Node ${process.version}: a TLS server socket exposes its TCP socket (_parent) and plain HTTP gets a 400`, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-plain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dev = await ensureDevCert(dir);
  const logs: LogEntry[] = [];
  const server = createServer({ tls: { certFile: dev.certFile, keyFile: dev.keyFile }, port: 0, host: '127.0.0.1', logger: (e) => logs.push(e), heartbeatInterval: 0 });
  let sawParent: boolean | undefined;
  server.httpServer.prependListener('tlsClientError', (_err: Error, sock: import('node:tls').TLSSocket) => {
    sawParent = underlyingSocket(sock) instanceof net.Socket;
  });
  await server.listen();
  t.after(() => server.close());
  const port = server.address()!.port;
  const res = await raw(port, 'GET /wss HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n');
  assert.equal(sawParent, true, 'tlsSocket._parent is a net.Socket at tlsClientError time');
  assert.match(res, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.ok(res.endsWith(PLAIN_HTTP_BODY));
  assert.match(PLAIN_HTTP_BODY, /wss:\/\//);
  assert.ok(logs.some((l) => l.event === 'plain-http' && l.ip === '127.0.0.1'));
  // Junk is just closed.
  assert.equal(await raw(port, Buffer.from('\x00\x01garbage\r\n\r\n')), '');
  assert.ok(logs.some((l) => l.event === 'tls-error'));
});

test('plainHttpAnswer: false closes plain HTTP without a response, as Node does', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-plain-off-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dev = await ensureDevCert(dir);
  const logs: LogEntry[] = [];
  const server = createServer({
    tls: { certFile: dev.certFile, keyFile: dev.keyFile }, port: 0, host: '127.0.0.1', logger: (e) => logs.push(e),
    heartbeatInterval: 0, plainHttpAnswer: false,
  });
  await server.listen();
  t.after(() => server.close());
  const res = await raw(server.address()!.port, 'GET /wss HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n');
  assert.equal(res, '', 'no 400: closed without a response');
  assert.ok(!logs.some((l) => l.event === 'plain-http'));
  assert.ok(logs.some((l) => l.event === 'tls-error' && l.error === 'ERR_SSL_HTTP_REQUEST' && l.ip === '127.0.0.1'));
});
