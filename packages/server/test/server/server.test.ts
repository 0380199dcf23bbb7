// createServer in-process: hooks, the connection object, broadcast, heartbeat frames,
// errors in hooks, listen/close lifecycle. Plain ws on loopback, random ports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import WebSocket from 'ws';
import { createServer, type Connection, type LogEntry, type ServerOptions, type WssMpServer } from '../../src/index';

async function start(opts: ServerOptions = {}) {
  const logs: LogEntry[] = [];
  const server = createServer({ port: 0, heartbeatInterval: 0, logger: (e) => logs.push(e), ...opts });
  const url = await server.listen();
  return { server, url, logs };
}

function connect(url: string, opts?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, opts);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const nextMessage = (ws: WebSocket) =>
  once(ws, 'message') as Promise<[Buffer, boolean]>;

test('hooks see the connection (ip, path, url with query, headers); text is a string, binary a Buffer', async (t) => {
  const seen: string[] = [];
  let connected: Connection | undefined;
  let onClosed!: () => void;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  const { server, url } = await start({
    onConnect(conn, req) {
      connected = conn;
      seen.push(`connect ${conn.ip} ${conn.path} ${conn.query.get('token')} ${req.headers['x-app']} ${conn.headers['x-app']}`);
      conn.data.user = 'u1';
    },
    onMessage(conn, data) {
      seen.push(`message ${typeof data === 'string' ? `text:${data}` : `binary:${data.toString('hex')}`} ${conn.data.user}`);
      conn.send(typeof data === 'string' ? data.toUpperCase() : data);
    },
    onClose(conn, code, reason) {
      seen.push(`close ${conn.id} ${code} ${reason}`);
      onClosed();
    },
  });
  t.after(() => server.close());
  const ws = await connect(`${url}?token=abc`, { headers: { 'X-App': 'demo' } });
  ws.send('tom');
  const [reply, isBinary] = await nextMessage(ws);
  assert.equal(reply.toString(), 'TOM');
  assert.equal(isBinary, false);
  ws.send(Buffer.from([1, 2]));
  const [bin, isBin] = await nextMessage(ws);
  assert.deepEqual([...bin], [1, 2]);
  assert.equal(isBin, true);
  ws.send('{"type":"ping"}');
  assert.equal((await nextMessage(ws))[0].toString(), '{"type":"pong"}');
  assert.equal(server.connections.size, 1);
  assert.equal(connected!.isOpen, true);
  assert.equal(connected!.url, '/wss?token=abc');
  ws.close(4321, 'bye');
  await closed;
  assert.deepEqual(seen, [
    'connect 127.0.0.1 /wss abc demo demo',
    'message text:tom u1',
    'message binary:0102 u1',
    `close ${connected!.id} 4321 bye`,
  ], 'the heartbeat frame never reaches onMessage');
  assert.equal(server.connections.size, 0);
});

test('without hooks, connections share their listeners and keep no request headers (memory per idle connection)', async (t) => {
  const { server, url } = await start();
  t.after(() => server.close());
  const clients = await Promise.all([connect(`${url}?token=abc`, { headers: { 'X-App': 'demo' } }), connect(url)]);
  const a = [...server.connections].find((c) => c.url.includes('token'));
  const b = [...server.connections].find((c) => c !== a);
  assert.ok(a && b);
  for (const event of ['message', 'pong', 'ping', 'error', 'close']) {
    assert.equal(a.socket.listenerCount(event), 1, event);
    assert.equal(a.socket.listeners(event)[0], b.socket.listeners(event)[0], `one shared ${event} listener, not a closure per connection`);
  }
  assert.deepEqual(a.headers, {});
  assert.ok(Object.isFrozen(a.headers));
  assert.equal(a.url, '/wss?token=abc');
  assert.equal(a.query.get('token'), 'abc');
  assert.equal(b.url, '/wss');
  assert.equal(a.remoteAddress, a.ip);
  clients[0]!.send('{"type":"ping"}');
  assert.equal((await nextMessage(clients[0]!))[0].toString(), '{"type":"pong"}');
  clients[1]!.send(Buffer.from([7]));
  assert.deepEqual([...(await nextMessage(clients[1]!))[0]], [7]);
  for (const ws of clients) ws.close();
});

test('conn.close(4001) from onConnect refuses a client with a terminal code', async (t) => {
  const { server, url } = await start({ onConnect: (conn) => conn.close(4001, 'unauthorized') });
  t.after(() => server.close());
  const ws = await connect(url);
  const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
  assert.equal(code, 4001);
  assert.equal(reason.toString(), 'unauthorized');
});

test('a throwing or rejecting hook closes that connection with 1011 and is logged; the server keeps serving', async (t) => {
  const errors: string[] = [];
  const { server, url, logs } = await start({
    onMessage(conn, data) {
      if (data === 'throw') throw new Error('boom');
      if (data === 'reject') return Promise.reject(new Error('async boom'));
      conn.send(data);
    },
    onError: (err) => errors.push(err.message),
  });
  t.after(() => server.close());
  for (const trigger of ['throw', 'reject']) {
    const ws = await connect(url);
    ws.send(trigger);
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 1011, trigger);
  }
  assert.deepEqual(errors, ['boom', 'async boom']);
  assert.equal(logs.filter((l) => l.event === 'error' && l.where === 'onMessage').length, 2);
  const ok = await connect(url);
  ok.send('fine');
  assert.equal((await nextMessage(ok))[0].toString(), 'fine');
  ok.close();
});

test('broadcast reaches every open connection except the one named; strings stay text', async (t) => {
  let srv: WssMpServer | undefined;
  const { server, url } = await start({
    onMessage(conn, data) {
      srv!.broadcast(data, { except: conn });
    },
  });
  srv = server;
  t.after(() => server.close());
  const [a, b, c] = await Promise.all([connect(url), connect(url), connect(url)]);
  const gotB = nextMessage(b);
  const gotC = nextMessage(c);
  let aGot = false;
  a.on('message', () => (aGot = true));
  a.send('hello all');
  for (const [data, isBinary] of await Promise.all([gotB, gotC])) {
    assert.equal(data.toString(), 'hello all');
    assert.equal(isBinary, false);
  }
  assert.equal(server.broadcast(Buffer.from([9])), 3);
  const [[d]] = await Promise.all([nextMessage(a)]);
  assert.deepEqual([...d], [9]);
  assert.equal(aGot, true);
  for (const ws of [a, b, c]) ws.close();
});

test('listen: URL per mode; a busy port is ERR_LISTEN; listen after close is ERR_SERVER_STATE; close is idempotent', async () => {
  const { server, url } = await start();
  assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/wss$/);
  assert.equal(server.url, url);
  const port = server.address()!.port;
  const clash = createServer({ port, logger: false });
  await assert.rejects(clash.listen(), (err: { code: string; message: string }) => {
    assert.equal(err.code, 'ERR_LISTEN');
    assert.match(err.message, /already in use/);
    return true;
  });
  await Promise.all([server.close(), server.close()]);
  await assert.rejects(server.listen(), { code: 'ERR_SERVER_STATE' });
  await clash.close();
});

test('plain requests: 426 on the WebSocket path, 404 elsewhere; upgrades elsewhere are 404 and logged', async (t) => {
  const { server, url, logs } = await start({ path: '/ws' });
  t.after(() => server.close());
  const base = url.replace(/^ws/, 'http').replace(/\/ws$/, '');
  const get = (p: string) => new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(base + p, (res) => {
      res.resume();
      resolve(res);
    }).on('error', reject);
  });
  assert.equal((await get('/ws')).statusCode, 426);
  assert.equal((await get('/other')).statusCode, 404);
  const ws = new WebSocket(base.replace(/^http/, 'ws') + '/');
  ws.on('error', () => {});
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
  assert.equal(res.statusCode, 404);
  ws.terminate();
  assert.ok(logs.some((l) => l.event === 'reject' && l.status === 404 && l.path === '/'));
});

test('the close log line has code, duration and who ended it; connection lines carry ip and path', async (t) => {
  const { server, url, logs } = await start({ onConnect: (conn) => conn.close(1000, 'done') });
  t.after(() => server.close());
  const ws = await connect(url + '?secret=1');
  await once(ws, 'close');
  await new Promise<void>((r) => setImmediate(r));
  const conn = logs.find((l) => l.event === 'connection')!;
  const close = logs.find((l) => l.event === 'close')!;
  assert.equal(conn.ip, '127.0.0.1');
  assert.equal(conn.path, '/wss');
  assert.equal(close.id, conn.id);
  assert.equal(close.code, 1000);
  assert.equal(close.by, 'closed by server');
  assert.equal(typeof close.durationMs, 'number');
  for (const l of logs) {
    assert.equal(typeof l.time, 'string');
    assert.ok(['debug', 'info', 'warn', 'error'].includes(l.level));
    assert.doesNotMatch(JSON.stringify(l), /secret/);
  }
});

test('TLS on all interfaces prints the certificate\'s first DNS name; default ports are omitted', async (t) => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { buildCertificate } = await import('../../src/server/dev-cert/x509');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const name = { commonName: 'test' };
  const cert = buildCertificate({
    subject: name, issuer: name, publicKey, signingKey: privateKey, issuerPublicKey: publicKey,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    serverNames: ['*.example.com', '203.0.113.1', 'wss.example.com'],
  });
  const key = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const server = createServer({ tls: { cert, key }, port: 0, logger: false, heartbeatInterval: 0 });
  t.after(() => server.close());
  assert.match(await server.listen(), /^wss:\/\/wss\.example\.com:\d+\/wss$/);
  assert.deepEqual(server.certificate!.names, ['*.example.com', '203.0.113.1', 'wss.example.com']);
});
