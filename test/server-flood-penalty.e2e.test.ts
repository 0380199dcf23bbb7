// The flood penalty (packages/server/src/server/ops/flood-penalty.ts) with real TLS and real
// sockets from two loopback source addresses, loopback not exempt and trusted as no proxy, so
// each 127.x address is a client of its own: a flooder is cut with 4029; during the cool-down
// its address's next connection is held and closed without a single byte back (no ServerHello)
// while another address connects and is answered; the cool-down ends and the flooder's address
// connects again; the metrics and the log count it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { createServer, type LogEntry, type WssMpServer } from 'wss-mp-server';
import { createPki, issueLeaf, type Pki } from './support/certs';
import { within } from './support/wait';

const FLOODER = '127.0.0.21';
const OTHER = '127.0.0.22';
const PENALTY_MS = 1500;

/** A wss-mp.v1 connection from `localAddress`; resolves after the welcome. */
function open(port: number, localAddress: string): Promise<WebSocket> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/wss`, ['wss-mp.v1'], { localAddress, rejectUnauthorized: false });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('message', (d) => (String(d).startsWith('{"t":"welcome"') ? resolve(ws) : reject(new Error(`no welcome: ${d}`))));
  });
}

/** Floods `ws` with requests until the server closes it; resolves with the close code. */
function floodUntilClosed(ws: WebSocket): Promise<number> {
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  let open = true;
  ws.once('close', () => (open = false));
  let i = 0;
  const pump = () => {
    for (let k = 0; k < 64 && open && ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 64 * 1024; k++) {
      ws.send(`{"t":"req","id":"f${i++}","data":0}`);
    }
    if (open) setImmediate(pump);
  };
  pump();
  return within(closed, 30_000, 'the flooder cut');
}

/** An upgrade's outcome: the HTTP status and headers of a refusal, or 101 and the socket. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; retryAfter?: string; ws?: WebSocket }> {
  const ws = new WebSocket(url, ['wss-mp.v1'], { headers });
  return within(new Promise((resolve, reject) => {
    ws.once('unexpected-response', (req, res) => {
      resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] });
      req.destroy();
    });
    ws.once('error', reject);
    ws.once('open', () => resolve({ status: 101, ws }));
  }), 10_000, 'the upgrade');
}

/** A real ClientHello, as Node's TLS client writes it (captured by a plain TCP listener). */
async function clientHello(): Promise<Buffer> {
  const sink = net.createServer();
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  try {
    const got = new Promise<Buffer>((resolve) => sink.once('connection', (s) => s.once('data', (d: Buffer) => (resolve(d), s.destroy()))));
    const c = tls.connect({ port: (sink.address() as net.AddressInfo).port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false });
    c.on('error', () => {});
    return await within(got, 10_000, 'a ClientHello');
  } finally {
    sink.close();
  }
}

/** Sends `hello` over raw TCP from `localAddress`; resolves with every byte the server sent before the connection ended. */
function rawHandshake(port: number, localAddress: string, hello: Buffer, stopAfterFirstByte = false): Promise<{ bytes: Buffer; ms: number; how: string }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => s.write(hello));
    const done = (how: string) => resolve({ bytes: Buffer.concat(chunks), ms: Date.now() - t0, how });
    s.on('data', (d) => {
      chunks.push(d);
      if (stopAfterFirstByte) (s.destroy(), done('answered'));
    });
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    s.once('close', () => done('closed'));
  });
}

describe('flood penalty', () => {
  let pki: Pki;
  let server: WssMpServer;
  let port: number;
  const logs: LogEntry[] = [];
  before(async () => {
    pki = createPki('wss-mp-flood');
    const leaf = issueLeaf(pki, {});
    server = createServer({
      port: 0, host: '127.0.0.1', tls: { certFile: leaf.fullchain, keyFile: leaf.key }, messaging: true, heartbeatInterval: 0,
      admin: 0, drainTimeout: 200, trustProxy: 'none', logger: (e) => logs.push(e),
      rateLimit: { exemptLoopback: false, floodPenaltyMs: PENALTY_MS, floodPenaltyMaxMs: 4 * PENALTY_MS },
    });
    await server.listen();
    port = server.address()!.port;
  });
  after(async () => {
    await server.close();
    pki.cleanup();
  });

  test('cut with 4029, the address is refused before TLS during the cool-down, another is not; then it connects again', async () => {
    const hello = await clientHello();
    // The flooder: requests as fast as its socket takes them, until the server closes it.
    assert.equal(await floodUntilClosed(await open(port, FLOODER)), 4029);

    // Its address, at once: TCP accepted, the ClientHello never answered; closed when the
    // cool-down ends. Not a byte back: no ServerHello, no alert, no HTTP.
    const refused = rawHandshake(port, FLOODER, hello);
    // Meanwhile another address connects, and is answered.
    const other = await open(port, OTHER);
    const ack = new Promise<string>((r) => other.once('message', (d) => r(String(d))));
    other.send('{"t":"req","id":"o1","data":"hi"}');
    assert.match(await within(ack, 10_000, 'the other client\'s ack'), /^\{"t":"ack","id":"o1"/);
    // The same ClientHello from the other address is answered with a TLS handshake record (0x16).
    const control = await within(rawHandshake(port, OTHER, hello, true), 10_000, 'a ServerHello');
    assert.equal(control.bytes[0], 0x16, 'the captured ClientHello is answered from another address');

    const r = await within(refused, 10 * PENALTY_MS, 'the held connection closed');
    assert.equal(r.bytes.length, 0, `nothing sent back to the penalised address (${r.how})`);
    // Held until the cool-down ended: measured from the server's log line of the cut (the
    // flooder, busy sending, reads its close later).
    const began = logs.find((e) => e.event === 'limit' && e.limit === 'flood-penalty');
    assert.ok(began, 'the penalty is logged');
    const heldFor = Date.now() - Date.parse(began.time);
    assert.ok(heldFor >= PENALTY_MS - 20, `closed ${heldFor} ms after the penalty began (${r.how})`);

    // The cool-down is over: the flooder's address connects and is served again.
    const back = await within(open(port, FLOODER), 10_000, 'the flooder\'s address back');
    back.close();
    other.close();

    // Counted per refused connection, logged once per cool-down.
    const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
    assert.match(text, /^wss_mp_handshake_failures_total\{reason="flood_penalty"\} 1$/m);
    assert.match(text, /^wss_mp_rate_limit_closes_total 1$/m);
    const lines = logs.filter((e) => e.event === 'limit' && e.limit === 'flood-penalty');
    assert.deepEqual(lines.map((e) => [e.ip, e.ms]), [[FLOODER, PENALTY_MS]]);
  });
});

describe('behind a proxy', () => {
  test('a penalised client is refused at its upgrade by its forwarded address: 429 with Retry-After; another is not', async () => {
    const logs: LogEntry[] = [];
    // Plain ws behind a (loopback, trusted) proxy: the TCP peer is the proxy, never refused at accept.
    const server = createServer({ port: 0, messaging: true, heartbeatInterval: 0, admin: 0, drainTimeout: 200, logger: (e) => logs.push(e),
      rateLimit: { floodPenaltyMs: 5_000 } });
    try {
      const url = await server.listen();
      const flooder = { 'x-forwarded-for': '203.0.113.9' };
      const first = await upgrade(url, flooder);
      assert.equal(first.status, 101);
      assert.equal(await floodUntilClosed(first.ws!), 4029);
      const again = await upgrade(url, flooder);
      assert.equal(again.status, 429, 'the same client, through the same proxy');
      assert.ok(Number(again.retryAfter) >= 1 && Number(again.retryAfter) <= 5, `Retry-After: ${again.retryAfter}`);
      const other = await upgrade(url, { 'x-forwarded-for': '203.0.113.10' });
      assert.equal(other.status, 101, 'another client through the same proxy');
      other.ws!.close();
      const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
      assert.match(text, /^wss_mp_handshake_failures_total\{reason="flood_penalty"\} 1$/m);
      assert.deepEqual(logs.filter((e) => e.event === 'limit' && e.limit === 'flood-penalty').map((e) => e.ip), ['203.0.113.9']);
    } finally {
      await server.close();
    }
  });
});

describe('handshake flood', () => {
  test('429s while mildly over the per-IP limit; far over it, closed at accept without a byte back', async () => {
    const pki = createPki('wss-mp-hsflood');
    const leaf = issueLeaf(pki, {});
    const server = createServer({ port: 0, host: '127.0.0.1', tls: { certFile: leaf.fullchain, keyFile: leaf.key }, heartbeatInterval: 0,
      admin: 0, drainTimeout: 200, trustProxy: 'none', logger: () => {},
      // Two at once, then one each 20 s (nothing refills while the test runs, however loaded the
      // machine): the third and fourth get 429, and then the address has spent its 429s too.
      rateLimit: { exemptLoopback: false, handshakesPerSecondPerIp: 0.05, handshakeBurstPerIp: 2 } });
    try {
      await server.listen();
      const port = server.address()!.port;
      const url = `wss://127.0.0.1:${port}/wss`;
      const from = (localAddress: string) => new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(url, { localAddress, rejectUnauthorized: false });
        ws.once('unexpected-response', (req, res) => (resolve(res.statusCode!), req.destroy()));
        ws.once('open', () => (resolve(101), ws.close()));
        ws.once('error', reject);
      });
      const hello = await clientHello();
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await within(from('127.0.0.31'), 10_000, `handshake ${i}`));
      assert.deepEqual(statuses, [101, 101, 429, 429]);
      // The next one: refused at accept, before TLS (nothing back, not even a ServerHello).
      const r = await within(rawHandshake(port, '127.0.0.31', hello), 10_000, 'the refused connection');
      assert.equal(r.bytes.length, 0, `nothing sent back (${r.how})`);
      assert.equal(await within(from('127.0.0.32'), 10_000, 'another address'), 101);
      const text = await (await fetch(`${server.adminUrl}/metrics`)).text();
      assert.match(text, /^wss_mp_handshake_failures_total\{reason="rate_limited"\} 3$/m);
    } finally {
      await server.close();
      pki.cleanup();
    }
  });
});
