// The server under attack (issue 11), against the built CLI on loopback: each finding of an
// attacker's pass has its case here, with the exact outcome (close code, HTTP status, log
// line), the server still alive and a bystander client still echoing. Every wait is on an
// event with a deadline; ports are random.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startServer, type RunningServer } from './support/server';
import { createPki, issueLeaf, type Leaf, type Pki } from './support/certs';
import { echoes as echoesWithin, handshakeSerial, openWs, tlsExchange, type OpenedSocket } from './support/net-tools';
import { OP, encodeFrame, rawConnect, rawHttp, type RawClient } from './support/raw-frames';
import { waitFor, within } from './support/wait';

const ANSWER_MS = 5_000;

let pki: Pki;
let leaf: Leaf;
before(() => {
  pki = createPki('wss-mp-attack');
  leaf = issueLeaf(pki, { name: 'attack' });
});
after(() => pki?.cleanup());

const tlsArgs = () => ['--cert', leaf.fullchain, '--key', leaf.key, '--heartbeat-interval', '0'];

const echoes = (c: OpenedSocket, text = 'tom') => echoesWithin(c, text, undefined, ANSWER_MS);

function assertAlive(server: RunningServer): void {
  assert.equal(server.proc.exitCode, null, 'the server process is still running');
  assert.equal(server.proc.signalCode, null);
}

/** `count` TCP connections that send nothing; resolves once all are connected. */
async function idleSockets(port: number, count: number, localAddress?: string): Promise<net.Socket[]> {
  return Promise.all(Array.from({ length: count }, () => new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    s.resume(); // read, so that the server's FIN is seen and `destroyed` follows it
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  })));
}

/** openWs, retried while the server has not yet seen freed slots go (refused at accept). */
async function openEventually(url: string, opts: Parameters<typeof openWs>[1] = {}): Promise<OpenedSocket> {
  let last: unknown;
  const c = await waitFor(async () => {
    try {
      return await openWs(url, opts, 2_000);
    } catch (err) {
      last = err;
      return undefined;
    }
  }, { timeout: 5_000, what: `a connection to ${url} (last error: ${String(last)})` });
  return c;
}

describe('1. the log reader goes away (EPIPE)', () => {
  test('stdout closed under the server: clients connect and echo, the process stays up', async () => {
    const server = await startServer(['--behind-proxy', '--heartbeat-interval', '0']);
    try {
      // The reader exits: the server's next log write fails with EPIPE.
      server.proc.stdout!.destroy();
      const first = await openWs(server.url); // logs `connection`: the write that fails
      await echoes(first);
      first.ws.close();
      await within(first.closed, ANSWER_MS, 'the first client to close'); // logs `close`
      const bystander = await openWs(server.url);
      await echoes(bystander, 'still here');
      assertAlive(server);
      bystander.ws.close();
    } finally {
      await server.stop();
    }
  });
});

describe('2. --static releases file descriptors', () => {
  let dir: string;
  before(() => {
    dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'wss-mp-static-')));
    writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(20 * 1024 * 1024, 1));
    writeFileSync(path.join(dir, 'mid.bin'), Buffer.alloc(2 * 1024 * 1024, 2));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Descriptors the server process holds on `file`. */
  const fdsOn = (pid: number, file: string) =>
    readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
      } catch {
        return false; // closed while we looked
      }
    }).length;

  test('aborted downloads: every descriptor is released', async () => {
    const server = await startServer(['--behind-proxy', '--static', dir, '--quiet']);
    const file = path.join(dir, 'big.bin');
    try {
      const pid = server.proc.pid!;
      await Promise.all(Array.from({ length: 30 }, () => new Promise<void>((resolve, reject) => {
        const s = net.connect(server.port, '127.0.0.1', () => s.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'));
        s.once('data', () => {
          s.destroy(); // abort after the first bytes
          resolve();
        });
        s.once('error', reject);
      })));
      await waitFor(() => fdsOn(pid, file) === 0, { timeout: 5_000, what: `descriptors on big.bin to be released (${fdsOn(pid, file)} open)` });
      const bystander = await openWs(server.url);
      await echoes(bystander);
      bystander.ws.close();
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });

  test('pipelined GETs: a file is opened only when its response is written', async () => {
    const server = await startServer(['--behind-proxy', '--static', dir, '--quiet']);
    const file = path.join(dir, 'mid.bin');
    try {
      const pid = server.proc.pid!;
      const s = net.connect(server.port, '127.0.0.1');
      await new Promise<void>((resolve) => s.once('connect', resolve));
      s.write('GET /mid.bin HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(40));
      // Read the first whole response; the server parsed all 40 requests before writing it.
      let got = 0;
      let most = 0;
      const wanted = 2 * 1024 * 1024 + 100;
      await within(new Promise<void>((resolve) => {
        s.on('data', (d: Buffer) => {
          got += d.length;
          most = Math.max(most, fdsOn(pid, file));
          if (got >= wanted) resolve();
        });
      }), 10_000, 'the first response');
      assert.ok(most <= 2, `at most 2 descriptors on mid.bin while 40 requests were queued (saw ${most})`);
      s.destroy();
      await waitFor(() => fdsOn(pid, file) === 0, { timeout: 5_000, what: 'descriptors on mid.bin to be released' });
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });
});

describe('3. IPv6: canonical addresses, per-IP caps by /64', () => {
  test('40 addresses of one /64 share one allowance; other /64s and IPv4 are unaffected', async () => {
    const server = await startServer(['--behind-proxy', '--max-connections-per-ip', '3', '--heartbeat-interval', '0']);
    try {
      const open: OpenedSocket[] = [];
      for (let i = 1; i <= 3; i++) open.push(await openWs(server.url, { headers: { 'X-Real-IP': `2001:db8:1:2::${i.toString(16)}` } }));
      const over = await openWs(server.url, { headers: { 'X-Real-IP': '2001:db8:1:2:ffff:ffff:ffff:ffff' } });
      const [code, reason] = await within(over.closed, ANSWER_MS, 'the 4th of the /64 to be refused');
      assert.equal(code, 1013);
      assert.match(reason, /too many connections/);
      const rej = await server.waitForLog((l) => l.event === 'reject' && l.code === 1013);
      assert.equal(rej.ip, '2001:db8:1:2:ffff:ffff:ffff:ffff');
      const neighbour = await openWs(server.url, { headers: { 'X-Real-IP': '2001:db8:1:3::1' } });
      await echoes(neighbour);
      const v4 = await openWs(server.url, { headers: { 'X-Real-IP': '198.51.100.9' } });
      await echoes(v4);
      for (const c of [...open, neighbour, v4]) c.ws.close();
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });

  test('three spellings of one address are one client, logged in RFC 5952 form', async () => {
    const server = await startServer(['--behind-proxy', '--max-connections-per-ip', '2', '--heartbeat-interval', '0']);
    try {
      const a = await openWs(server.url, { headers: { 'X-Real-IP': '2001:db8::1' } });
      const b = await openWs(server.url, { headers: { 'X-Real-IP': '2001:DB8:0:0::1' } });
      const c = await openWs(server.url, { headers: { 'X-Real-IP': '2001:0db8::0001' } });
      assert.equal((await within(c.closed, ANSWER_MS, 'the third spelling to be refused'))[0], 1013);
      const lines = server.logs.filter((l) => l.event === 'connection' || l.event === 'reject');
      assert.deepEqual(lines.map((l) => l.ip), ['2001:db8::1', '2001:db8::1', '2001:db8::1']);
      // Another /64 is another client.
      const d = await openWs(server.url, { headers: { 'X-Real-IP': '2001:db8:0:1::2' } });
      await echoes(d);
      for (const x of [a, b, d]) x.ws.close();
    } finally {
      await server.stop();
    }
  });
});

describe('4. connections that never finish the handshake are capped', () => {
  test('TLS: idle sockets over --max-pending-per-ip are closed at accept and logged; another address still gets in', async () => {
    const server = await startServer([...tlsArgs(), '--trust-proxy', 'none', '--max-pending-per-ip', '5']);
    try {
      const idle = await idleSockets(server.port, 12);
      const closed = idle.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
      for (const s of idle) s.on('error', () => {});
      // 7 over the cap are closed at once (the handshake timeout is 10 s: nothing else would).
      await waitFor(() => idle.filter((s) => s.destroyed).length >= 7, { timeout: 3_000, what: '7 sockets over the cap to be closed' });
      assert.equal(idle.filter((s) => s.destroyed).length, 7);
      const line = await server.waitForLog((l) => l.event === 'limit' && l.limit === 'pending-connections');
      assert.equal(line.ip, '127.0.0.1');
      assert.equal(line.level, 'warn');
      // A client from another address is not held back by them.
      const bystander = await openWs(server.url, { caFile: pki.caCert, localAddress: '127.0.0.2' });
      await echoes(bystander);
      // The 5 held slots are released when their sockets go (once the server has seen them go).
      for (const s of idle) s.destroy();
      await Promise.all(closed);
      const again = await openEventually(server.url, { caFile: pki.caCert });
      await echoes(again);
      for (const c of [bystander, again]) c.ws.close();
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });

  test('defaults: one address holding 40 idle TLS sockets gets 32; the rest are closed at accept', async () => {
    const server = await startServer([...tlsArgs(), '--trust-proxy', 'none']);
    try {
      const idle = await idleSockets(server.port, 40);
      for (const s of idle) s.on('error', () => {});
      await waitFor(() => idle.filter((s) => s.destroyed).length >= 8, { timeout: 3_000, what: '8 sockets over the default cap to be closed' });
      assert.equal(idle.filter((s) => s.destroyed).length, 8);
      const bystander = await openWs(server.url, { caFile: pki.caCert, localAddress: '127.0.0.2' });
      await echoes(bystander);
      bystander.ws.close();
      for (const s of idle) s.destroy();
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });

  test('plain: the total cap (--max-pending) holds whatever the addresses', async () => {
    const server = await startServer(['--behind-proxy', '--max-pending', '4', '--heartbeat-interval', '0']);
    try {
      const idle = [...await idleSockets(server.port, 2, '127.0.0.3'), ...await idleSockets(server.port, 4, '127.0.0.4')];
      for (const s of idle) s.on('error', () => {});
      await waitFor(() => idle.filter((s) => s.destroyed).length >= 2, { timeout: 3_000, what: '2 sockets over the total cap to be closed' });
      assert.equal(idle.filter((s) => s.destroyed).length, 2);
      await server.waitForLog((l) => l.event === 'limit' && /server/.test(String(l.reason)));
      for (const s of idle) s.destroy();
      const c = await openEventually(server.url);
      await echoes(c);
      c.ws.close();
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });
});

describe('4b. the pre-upgrade deadline stops at the upgrade', () => {
  for (const mode of ['TLS', 'plain'] as const) {
    test(`${mode}: a WebSocket lives on past 2 × --handshake-timeout; a socket that never sends a request does not`, async () => {
      const args = mode === 'TLS' ? ['--cert', leaf.fullchain, '--key', leaf.key] : ['--behind-proxy'];
      const server = await startServer([...args, '--handshake-timeout', '200ms', '--heartbeat-interval', '250ms']);
      try {
        const c = await openWs(server.url, mode === 'TLS' ? { caFile: pki.caCert } : {});
        const [idle] = await idleSockets(server.port, 1);
        idle!.on('error', () => {});
        // The server's own pings are the clock: 4 of them span well over 2 × 200 ms.
        let pings = 0;
        await within(new Promise<void>((resolve) => c.ws.on('ping', () => ++pings === 4 && resolve())), 10_000, '4 pings');
        assert.equal(idle!.destroyed, true, 'the idle socket was cut');
        await echoes(c, 'still open');
        c.ws.close();
        assertAlive(server);
      } finally {
        await server.stop();
      }
    });
  }
});

describe('4c. the handshake deadline is absolute', () => {
  // A guard rather than a regression test: Node's own TLS and header timeouts also end this
  // one near 2 × --handshake-timeout; the server's deadline must not let it live longer.
  test('TLS: a client that completes the handshake and then sends nothing is cut by 2 × --handshake-timeout', async () => {
    const server = await startServer([...tlsArgs(), '--handshake-timeout', '300ms']);
    try {
      const s = tls.connect({ port: server.port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(pki.caCert) });
      s.on('error', () => {});
      await within(new Promise<void>((resolve) => s.once('secureConnect', () => resolve())), ANSWER_MS, 'the TLS handshake');
      const t0 = Date.now();
      s.resume();
      await within(new Promise<void>((resolve) => s.once('close', () => resolve())), 8_000, 'the silent socket to be cut');
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 2_500, `cut after ${elapsed} ms`);
      const bystander = await openWs(server.url, { caFile: pki.caCert });
      await echoes(bystander);
      bystander.ws.close();
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });
});

describe('5. --allow-origin parses the Origin header strictly', () => {
  test('null, a path, two origins and a repeated header get 403; allowed, absent and app origins pass', async () => {
    const server = await startServer(['--behind-proxy', '--allow-origin', 'https://app.example.com', '--heartbeat-interval', '0']);
    try {
      const upgrade = (originLines: string) =>
        rawHttp({ port: server.port },
          `GET /wss HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
          `Sec-WebSocket-Version: 13\r\n${originLines}\r\n`, ANSWER_MS);
      for (const [what, lines] of [
        ['null', 'Origin: null\r\n'],
        ['a path', 'Origin: https://app.example.com/page\r\n'],
        ['two origins', 'Origin: https://app.example.com, https://evil.example\r\n'],
        ['a repeated header', 'Origin: https://app.example.com\r\nOrigin: https://evil.example\r\n'],
        ['userinfo', 'Origin: https://app.example.com@evil.example\r\n'],
      ] as const) {
        const r = await upgrade(lines);
        assert.equal(r.status, 403, what);
        r.socket.destroy();
      }
      const nullLine = await server.waitForLog((l) => l.event === 'reject' && l.origin === 'null');
      assert.equal(nullLine.status, 403);
      assert.match(String(nullLine.reason), /opaque origin/);
      for (const lines of ['Origin: https://app.example.com\r\n', 'Origin: https://APP.example.com:443\r\n', 'Origin: weapp://wechat-game-runtime\r\n', '']) {
        const r = await upgrade(lines);
        assert.equal(r.status, 101, JSON.stringify(lines));
        r.socket.destroy();
      }
      const bystander = await openWs(server.url, { origin: 'https://app.example.com' });
      await echoes(bystander);
      bystander.ws.close();
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });
});

describe('8. memory held by unfinished messages is bounded', () => {
  const pong = encodeFrame({ opcode: OP.PONG, payload: Buffer.alloc(125), mask: Buffer.alloc(4) });
  /** One fragment padded with pongs to a 64 KiB read chunk, which the fragment then pins. */
  const unit = (first: boolean) => {
    const frag = encodeFrame({ opcode: first ? OP.TEXT : OP.CONTINUATION, fin: false, payload: 'a' });
    return Buffer.concat([frag, ...Array.from({ length: Math.floor((64 * 1024 - frag.length) / pong.length) }, () => pong)]);
  };
  async function push(c: RawClient, b: Buffer): Promise<void> {
    if (!c.send(b)) await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.ended]);
  }

  test('one connection over the default --max-unfinished (1 MiB): close 1009, logged; the bystander echoes', async () => {
    const server = await startServer(['--behind-proxy', '--heartbeat-interval', '0']);
    try {
      const bystander = await openWs(server.url);
      const c = await rawConnect({ port: server.port }, { headers: { Origin: 'raw://pinner' } });
      let gone = false;
      void c.ended.then(() => (gone = true));
      // 40 fragments: under the 64-fragment cap, about 2.5 MiB of pinned chunks.
      for (let i = 0; i < 40 && !gone; i++) await push(c, unit(i === 0));
      const close = await c.closeFrame(ANSWER_MS);
      assert.equal(close.code, 1009);
      const line = await server.waitForLog((l) => l.event === 'close' && l.code === 1009);
      assert.equal(line.error, 'WSS_MP_ERR_UNFINISHED_MESSAGE_TOO_BIG');
      await echoes(bystander);
      bystander.ws.close();
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });

  test('all connections over --max-unfinished-total: the one crossing it gets 1013; the others finish their messages', async () => {
    const server = await startServer(['--behind-proxy', '--max-unfinished', '512KiB', '--max-unfinished-total', '1MiB', '--heartbeat-interval', '0']);
    try {
      const bystander = await openWs(server.url);
      const clients: RawClient[] = [];
      for (let i = 0; i < 6; i++) clients.push(await rawConnect({ port: server.port }));
      const codes = new Map<RawClient, number | undefined>();
      for (const c of clients) void c.closeFrame(20_000).then((f) => codes.set(c, f.code), () => {});
      // 6 × ~384 KiB (each under its own 512 KiB): the 1 MiB total is crossed by the 3rd.
      const UNITS = 6;
      for (const c of clients) for (let i = 0; i < UNITS && !codes.has(c); i++) await push(c, unit(i === 0));
      await waitFor(() => codes.size >= 1, { timeout: ANSWER_MS, what: 'a connection to be refused' });
      assert.deepEqual([...new Set(codes.values())], [1013]);
      const line = await server.waitForLog((l) => l.event === 'close' && l.code === 1013);
      assert.equal(line.error, 'WSS_MP_ERR_UNFINISHED_MESSAGES_TOTAL');
      // A connection that was not refused completes its message and gets the echo.
      const ok = clients.find((c) => !codes.has(c))!;
      ok.send({ opcode: OP.CONTINUATION, fin: true, payload: 'z' });
      const echo = await ok.nextFrame(ANSWER_MS);
      assert.equal(echo.opcode, OP.TEXT);
      assert.equal(echo.payload.toString(), 'a'.repeat(UNITS) + 'z');
      await echoes(bystander);
      bystander.ws.close();
      assertAlive(server);
      for (const c of clients) c.socket.destroy();
    } finally {
      await server.stop();
    }
  });

  test('a message that never completes: close 1008 after --message-timeout', async () => {
    const server = await startServer(['--behind-proxy', '--message-timeout', '500ms', '--heartbeat-interval', '0']);
    try {
      const bystander = await openWs(server.url);
      const c = await rawConnect({ port: server.port });
      const t0 = Date.now();
      c.send({ opcode: OP.TEXT, fin: false, payload: 'never ends' });
      const close = await c.closeFrame(ANSWER_MS);
      const elapsed = Date.now() - t0;
      assert.equal(close.code, 1008);
      assert.ok(elapsed >= 400, `not before the timeout (${elapsed} ms)`);
      const line = await server.waitForLog((l) => l.event === 'close' && /message not completed/.test(String(l.by)));
      assert.equal(line.code, 1008);
      await within(c.ended, ANSWER_MS, 'the connection to be gone');
      await echoes(bystander);
      bystander.ws.close();
      assertAlive(server);
    } finally {
      await server.stop();
    }
  });
});

describe('9. drain is bounded by --drain-timeout with TLS', () => {
  test('an idle TCP socket (no ClientHello) does not hold SIGTERM up to the handshake timeout', async () => {
    const server = await startServer([...tlsArgs(), '--handshake-timeout', '60s', '--drain-timeout', '500ms']);
    const idle = await idleSockets(server.port, 1);
    idle[0]!.on('error', () => {});
    // A completed handshake after it: the server has accepted the idle one too.
    const client = await openWs(server.url, { caFile: pki.caCert });
    await echoes(client);
    const t0 = Date.now();
    const code = await server.stop('SIGTERM', 20_000);
    const elapsed = Date.now() - t0;
    assert.equal(code, 0);
    assert.ok(elapsed < 3_000, `exited ${elapsed} ms after SIGTERM`);
    assert.equal((await within(client.closed, ANSWER_MS, 'the client to be closed'))[0], 1001);
  });
});

describe('12. safe defaults', () => {
  test('subprotocols: an offered one is accepted only when the server speaks it', async () => {
    const request = (offer: string) =>
      `GET /wss HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${offer}\r\n\r\n`;
    const plain = await startServer(['--behind-proxy', '--heartbeat-interval', '0']);
    try {
      const r = await rawHttp({ port: plain.port }, request('mqtt, chat'), ANSWER_MS);
      assert.equal(r.status, 101);
      assert.equal(r.headers['sec-websocket-protocol'], undefined, 'mqtt is not echoed back');
      r.socket.destroy();
    } finally {
      await plain.stop();
    }
    const chat = await startServer(['--behind-proxy', '--subprotocol', 'chat,v2.chat', '--heartbeat-interval', '0']);
    try {
      const r = await rawHttp({ port: chat.port }, request('mqtt, v2.chat, chat'), ANSWER_MS);
      assert.equal(r.headers['sec-websocket-protocol'], 'v2.chat', 'the client\'s first known choice');
      r.socket.destroy();
      const c = await openWs(chat.url);
      await echoes(c);
      c.ws.close();
    } finally {
      await chat.stop();
    }
  });

  test('HSTS only for domain names: not for localhost or IP hosts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-hsts-'));
    writeFileSync(path.join(dir, 'index.html'), '<p>hi</p>');
    const server = await startServer([...tlsArgs(), '--static', dir]);
    try {
      const head = async (host: string) => {
        const text = await tlsExchange(server.port, pki.caCert, `HEAD / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        assert.match(text, /^HTTP\/1\.1 200/, host);
        return /strict-transport-security/i.test(text);
      };
      for (const host of [`localhost:${server.port}`, 'LOCALHOST', 'app.localhost', `127.0.0.1:${server.port}`, '[::1]:443']) {
        assert.equal(await head(host), false, `no HSTS for ${host}`);
      }
      assert.equal(await head('app.example.com'), true, 'HSTS for a real domain');
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the development certificate binds loopback unless --host is given', async () => {
    const certDir = mkdtempSync(path.join(tmpdir(), 'wss-mp-devcert-'));
    try {
      const env = { WSS_MP_DEV_CERT_DIR: certDir };
      const dev = await startServer(['--heartbeat-interval', '0'], { env });
      try {
        const line = await dev.waitForLog((l) => l.event === 'listening');
        assert.equal(line.address, '127.0.0.1');
        assert.equal(new URL(dev.url).hostname, 'localhost', 'the URL names the certificate\'s host');
        const c = await openWs(dev.url, { caFile: path.join(certDir, 'ca.pem') });
        await echoes(c);
        c.ws.close();
      } finally {
        await dev.stop();
      }
      const lan = await startServer(['--dev-cert', '--host', '0.0.0.0', '--heartbeat-interval', '0'], { env });
      try {
        assert.equal((await lan.waitForLog((l) => l.event === 'listening')).address, '0.0.0.0');
      } finally {
        await lan.stop();
      }
    } finally {
      rmSync(certDir, { recursive: true, force: true });
    }
  });
});

describe('10–11. certificate reload', () => {
  test('expired, not yet valid and other-name pairs are refused (old one kept); SIGUSR2 forces one, logged', async () => {
    const dir = path.join(pki.dir, 'reload-checks');
    mkdirSync(dir);
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    const DAY = 86_400_000;
    const expired = issueLeaf(pki, { name: 'expired', notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
    const early = issueLeaf(pki, { name: 'early', notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 30 * DAY) });
    const evil = issueLeaf(pki, { name: 'evil', hosts: ['evil.example'] });
    const good = issueLeaf(pki, { name: 'good2' });
    const install = (l: Leaf) => {
      writeFileSync(certFile, readFileSync(l.fullchain));
      writeFileSync(keyFile, readFileSync(l.key));
    };
    install(leaf);
    const server = await startServer(['--cert', certFile, '--key', keyFile, '--heartbeat-interval', '0']);
    try {
      const from = () => server.logs.length;
      for (const [bad, why] of [[expired, /expired/], [early, /not valid before/], [evil, /does not cover localhost, 127\.0\.0\.1/]] as const) {
        const start = from();
        install(bad);
        const line = await server.waitForLog((l) => server.logs.indexOf(l) >= start && l.event === 'reload' && l.ok === false && why.test(String(l.error)));
        assert.equal(line.kept, leaf.serial);
        assert.equal(await servedSerial(server.port), leaf.serial, 'the old certificate still serves');
      }
      // Forced: served, with a warning naming the problems.
      const start = from();
      process.kill(server.proc.pid!, 'SIGUSR2');
      const forced = await server.waitForLog((l) => server.logs.indexOf(l) >= start && l.event === 'reload' && l.forced === true);
      assert.equal(forced.level, 'warn');
      assert.match(JSON.stringify(forced.problems), /does not cover localhost/);
      await server.waitForLog((l) => server.logs.indexOf(l) >= start && l.event === 'reload' && l.ok === true && l.serial === evil.serial);
      assert.equal(await servedSerial(server.port), evil.serial);
      // A good pair for the (new) names goes through as before.
      const s2 = from();
      install(good);
      // good covers localhost, not evil.example: refused unless forced.
      await server.waitForLog((l) => server.logs.indexOf(l) >= s2 && l.event === 'reload' && l.ok === false && /evil\.example/.test(String(l.error)));
      assertAlive(server);
    } catch (err) {
      // Say what the server did: the reload lines, in order.
      const lines = server.logs.filter((l) => l.event === 'reload').map((l) => JSON.stringify(l));
      throw new Error(`${(err as Error).message}\nreload log:\n${lines.join('\n')}`, { cause: err });
    } finally {
      await server.stop();
    }
  });

  test('the watch survives the certificate directory being removed and created again', async () => {
    const dir = path.join(pki.dir, 'swap');
    mkdirSync(dir);
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    const next = issueLeaf(pki, { name: 'next' });
    writeFileSync(certFile, readFileSync(leaf.fullchain));
    writeFileSync(keyFile, readFileSync(leaf.key));
    const server = await startServer(['--cert', certFile, '--key', keyFile, '--heartbeat-interval', '0']);
    try {
      const open = await openWs(server.url, { caFile: pki.caCert });
      const start = server.logs.length;
      rmSync(dir, { recursive: true });
      mkdirSync(dir);
      writeFileSync(keyFile, readFileSync(next.key));
      writeFileSync(certFile, readFileSync(next.fullchain));
      await server.waitForLog((l) => server.logs.indexOf(l) >= start && l.event === 'reload' && l.ok === true && l.serial === next.serial, 10_000);
      assert.equal(await servedSerial(server.port), next.serial);
      // And it keeps watching the new directory.
      const again = server.logs.length;
      writeFileSync(certFile, readFileSync(leaf.fullchain));
      writeFileSync(keyFile, readFileSync(leaf.key));
      await server.waitForLog((l) => server.logs.indexOf(l) >= again && l.event === 'reload' && l.ok === true && l.serial === leaf.serial, 10_000);
      await echoes(open);
      open.ws.close();
    } catch (err) {
      const lines = server.logs.filter((l) => l.event === 'reload').map((l) => JSON.stringify(l));
      throw new Error(`${(err as Error).message}\nreload log:\n${lines.join('\n')}`, { cause: err });
    } finally {
      await server.stop();
    }
  });
});

/** Serial of the certificate a fresh handshake gets, whatever its names. */
const servedSerial = (port: number) => handshakeSerial(port, null, ANSWER_MS);
