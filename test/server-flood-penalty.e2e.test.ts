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
    const flood = await open(port, FLOODER);
    const closed = new Promise<number>((r) => flood.once('close', (code) => r(code)));
    let open_ = true;
    flood.once('close', () => (open_ = false));
    let i = 0;
    const pump = () => {
      for (let k = 0; k < 64 && open_ && flood.readyState === WebSocket.OPEN && flood.bufferedAmount < 64 * 1024; k++) {
        flood.send(`{"t":"req","id":"f${i++}","data":0}`);
      }
      if (open_) setImmediate(pump);
    };
    pump();
    assert.equal(await within(closed, 30_000, 'the flooder cut'), 4029);

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
