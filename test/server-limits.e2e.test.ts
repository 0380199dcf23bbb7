// Limits, heartbeat and drain against the built CLI (plain ws behind-proxy mode for speed;
// the code paths are the same with TLS). Short intervals come from flags; every wait is on
// an event with a deadline.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from './support/server';
import { echoes, openWs, rawExchange, rawWs } from './support/net-tools';
import { onceWithin, within } from './support/wait';

describe('heartbeat', () => {
  test('a peer that stops answering pings is terminated within the window; a live one is kept', async () => {
    const interval = 300;
    const server = await startServer(['--behind-proxy', '--heartbeat-interval', `${interval}ms`]);
    try {
      const live = await openWs(server.url);
      const dead = await openWs(server.url, { autoPong: false });
      const opened = Date.now();
      let pings = 0;
      live.ws.on('ping', () => pings++);
      const [code] = await within(dead.closed, 5_000, 'the silent peer to be terminated');
      const elapsed = Date.now() - opened;
      assert.equal(code, 1006, 'terminated, no close frame');
      // Terminated at the second sweep after its last sign of life: between 1 and 2 intervals.
      assert.ok(elapsed >= interval * 0.9, `not before one interval (${elapsed} ms)`);
      assert.ok(elapsed <= interval * 2 + 700, `within two intervals plus slack (${elapsed} ms)`);
      const line = await server.waitForLog((l) => l.event === 'close' && /heartbeat/.test(String(l.by)));
      assert.equal(line.ip, '127.0.0.1');
      // The live client answered every ping and is still served.
      await within((async () => { while (pings < 3) await onceWithin(live.ws, 'ping', 2_000); })(), 5_000, '3 pings');
      await echoes(live);
      live.ws.close();
    } finally {
      await server.stop();
    }
  });
});

describe('drain', () => {
  test('SIGTERM: every client gets 1001, stragglers are terminated after --drain-timeout, exit 0', async () => {
    const server = await startServer(['--behind-proxy', '--drain-timeout', '500ms', '--heartbeat-interval', '0']);
    const a = await openWs(server.url);
    const b = await openWs(server.url);
    // A raw client that never answers the close frame: it must not hold the shutdown.
    const straggler = await rawWs(server.port);
    await server.waitForLog((l) => l.event === 'connection' && l.id === 3);
    const t0 = Date.now();
    const exit = server.stop('SIGTERM');
    const [[ca, ra], [cb]] = await Promise.all([a.closed, b.closed]);
    assert.equal(ca, 1001);
    assert.equal(ra, 'server shutting down');
    assert.equal(cb, 1001);
    await within(straggler.closed, 5_000, 'the straggler to be cut');
    // The straggler saw the close frame (0x88, code 1001) before being cut.
    const got = straggler.received();
    assert.equal(got[0], 0x88);
    assert.equal(got.readUInt16BE(2), 1001);
    assert.equal(await exit, 0);
    assert.ok(Date.now() - t0 < 4_000, 'drain bounded by the timeout');
    const stopped = await server.waitForLog((l) => l.event === 'stopped');
    assert.equal(stopped.terminated, 1);
    const drain = await server.waitForLog((l) => l.event === 'drain');
    assert.equal(drain.clients, 3);
  });

  test('SIGINT with no clients exits 0 at once', async () => {
    const server = await startServer(['--behind-proxy', '--quiet']);
    assert.equal(await server.stop('SIGINT'), 0);
  });
});

describe('limits', { concurrency: true }, () => {
  test('max payload: a bigger message closes that client with 1009; others unaffected', async () => {
    const server = await startServer(['--behind-proxy', '--max-payload', '1KiB']);
    try {
      const other = await openWs(server.url);
      const big = await openWs(server.url);
      big.ws.send(Buffer.alloc(1024, 1));
      assert.equal((await big.next())[0].length, 1024, 'exactly maxPayload is fine');
      big.ws.send('x'.repeat(1025));
      const [code] = await big.closed;
      assert.equal(code, 1009);
      const line = await server.waitForLog((l) => l.event === 'close' && l.code === 1009);
      assert.equal(line.error, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
      await echoes(other);
      other.ws.close();
    } finally {
      await server.stop();
    }
  });

  test('max connections per IP: over the cap gets 1013; other IPs (via a trusted proxy) and freed slots work', async () => {
    const server = await startServer(['--behind-proxy', '--max-connections-per-ip', '2']);
    try {
      const h = { 'X-Real-IP': '198.51.100.1' };
      const one = await openWs(server.url, { headers: h });
      const two = await openWs(server.url, { headers: h });
      const three = await openWs(server.url, { headers: h });
      const [code, reason] = await three.closed;
      assert.equal(code, 1013);
      assert.match(reason, /too many connections/);
      const rej = await server.waitForLog((l) => l.event === 'reject' && l.code === 1013);
      assert.equal(rej.ip, '198.51.100.1');
      const elsewhere = await openWs(server.url, { headers: { 'X-Real-IP': '198.51.100.2' } });
      await echoes(elsewhere);
      one.ws.close();
      await one.closed;
      await server.waitForLog((l) => l.event === 'close' && l.ip === '198.51.100.1');
      const again = await openWs(server.url, { headers: h });
      await echoes(again, 'back');
      for (const c of [two, elsewhere, again]) c.ws.close();
    } finally {
      await server.stop();
    }
  });

  test('max connections: the one over the cap gets 1013 "server full"', async () => {
    const server = await startServer(['--behind-proxy', '--max-connections', '2', '--quiet']);
    try {
      const open = [await openWs(server.url), await openWs(server.url)];
      const over = await openWs(server.url);
      const [code, reason] = await over.closed;
      assert.equal(code, 1013);
      assert.equal(reason, 'server full');
      for (const c of open) {
        await echoes(c, 'ok');
        c.ws.close();
      }
    } finally {
      await server.stop();
    }
  });

  test('a slow consumer (not reading) is terminated once its buffer exceeds --max-buffered; others unaffected', async () => {
    const server = await startServer(['--behind-proxy', '--max-buffered', '256KiB', '--heartbeat-interval', '0']);
    try {
      const other = await openWs(server.url);
      const slow = await rawWs(server.port, { read: false });
      const chunk = Buffer.alloc(60 * 1024, 7);
      // Echoes pile up: first in the kernel's socket buffers, then in the server's.
      let sent = 0;
      const pump = async () => {
        while (!slow.socket.destroyed && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!slow.sendFrame(2, chunk)) await Promise.race([onceWithin(slow.socket, 'drain', 5_000), slow.closed]);
        }
      };
      const pumping = pump().catch(() => {});
      const line = await server.waitForLog((l) => l.event === 'close' && /slow consumer/.test(String(l.by)), 20_000);
      assert.equal(line.code, 1006);
      await within(slow.closed, 5_000, 'the slow consumer socket to close');
      await pumping;
      await echoes(other);
      other.ws.close();
    } finally {
      await server.stop();
    }
  });

  test('origin allow-list: other browser origins get 403; allowed, absent and non-http origins pass', async () => {
    const server = await startServer(['--behind-proxy', '--allow-origin', 'https://app.example.com']);
    try {
      await assert.rejects(openWs(server.url, { origin: 'https://evil.example.com' }), (err: { status?: number }) => err.status === 403);
      for (const origin of ['https://app.example.com', 'weapp://wechat-game-runtime', undefined]) {
        const c = await openWs(server.url, origin ? { origin } : {});
        await echoes(c, 'tom', String(origin));
        c.ws.close();
      }
      const rej = await server.waitForLog((l) => l.event === 'reject' && l.status === 403);
      assert.equal(rej.origin, 'https://evil.example.com');
    } finally {
      await server.stop();
    }
  });
});

describe('timeouts', { concurrency: true }, () => {
  test('slowloris: an upgrade request whose headers never finish gets 408 within --handshake-timeout', async () => {
    const server = await startServer(['--behind-proxy', '--handshake-timeout', '500ms', '--quiet']);
    try {
      const t0 = Date.now();
      const r = await rawExchange(server.port, 'GET /wss HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n', 5_000);
      const elapsed = Date.now() - t0;
      assert.match(r.data.toString(), /^HTTP\/1\.1 408/);
      assert.ok(elapsed >= 400 && elapsed < 2_500, `closed after ${elapsed} ms`);
    } finally {
      await server.stop();
    }
  });

  test('a TLS connection that never says hello is dropped within --handshake-timeout', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-hs-'));
    const server = await startServer(['--dev-cert', '--handshake-timeout', '500ms', '--quiet'], { env: { WSS_MP_DEV_CERT_DIR: dir } });
    try {
      const t0 = Date.now();
      const r = await rawExchange(server.port, Buffer.alloc(0), 5_000);
      const elapsed = Date.now() - t0;
      assert.equal(r.data.length, 0);
      assert.ok(elapsed >= 400 && elapsed < 2_500, `closed after ${elapsed} ms`);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
