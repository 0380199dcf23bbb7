// wss-mp-client end to end: the real miniprogram_dist/index.js, loaded the way WeChat loads a
// module, on the wx shim over real sockets (wss-mp-server over TLS with its dev CA, in-process
// `ws` servers). Every checklist scenario of docs/client-scenarios.md (the unit twins run on the
// fake wx in packages/client/test), plus the platform rules the fake models.
//
// The same scenarios run for reconnecting-websocket 4.4.0 in a child process (it leaves
// unhandled rejections behind); the table of both is compared with packages/client/README.md.
// UPDATE_COMPARISON=1 rewrites the README table from this run instead.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { loadMiniprogramModule } from './support/miniprogram-module';
import { SERVER_CLI } from './support/server';
import { ERR_LIMIT, createWxShim, type WxShim } from './support/wx-shim';
import { createEnv, SCENARIOS, shimFor, startCli, startEcho, until, type Outcome } from './comparison/scenarios';
import { holdsFor } from './support/wait';
import { CLIENT_MP, FAST, wssMpClient } from './comparison/subjects';
import { outcomesOf, readTable, renderTable, writeTable } from './comparison/table';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = createEnv();
const ours: Record<string, Outcome> = {};
let rws: Promise<Record<string, Outcome>>;

before(() => {
  assert.ok(existsSync(CLIENT_MP), 'build the client first: pnpm --filter wss-mp-client build');
  assert.ok(existsSync(SERVER_CLI), 'build the server first: pnpm --filter wss-mp-server build');
  // reconnecting-websocket runs alongside, in its own process.
  rws = new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'comparison/run.ts'), 'rws'], {
      cwd: path.resolve(here, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!));
      } catch {
        reject(new Error(`comparison run failed (exit ${code}): ${out}`));
      }
    });
  });
});
after(() => env.cleanup());

describe('wss-mp-client end to end', () => {
  for (const sc of SCENARIOS) {
    test(`${sc.id} ${sc.title}`, async () => {
      const o = await sc.run(wssMpClient, env);
      ours[sc.id] = o;
      assert.ok(o.ok, o.note);
    });
  }

  test('5-socket limit: a full app fails connectSocket ("exceed max cocurrent count"); we retry until a slot frees', async () => {
    const echo = await startEcho();
    const wx = createWxShim();
    const others = Array.from({ length: 5 }, () => wx.connectSocket({ url: echo.url }));
    const h = wssMpClient.create(wx, echo.url, FAST);
    try {
      await until(() => wx.failed.length >= 2, 3000);
      assert.equal(wx.failed[0], ERR_LIMIT);
      const e = h.errors[0] as { code: string; cause: { errMsg: string } };
      assert.equal(e.code, 'ERR_SOCKET');
      assert.match(e.cause.errMsg, /exceed max cocurrent count/);
      others[0]!.close();
      assert.ok(await until(() => h.isOpen(), 3000), 'opens once a slot is free');
      assert.ok(wx.maxLive <= 5);
    } finally {
      h.destroy();
      wx.closeAll();
      await echo.close();
    }
  });

  test('late open: a close before open is ignored by the platform; the task opening late is closed at once', async () => {
    // The first handshake is answered only after 1.2 s; the client gives up at 300 ms.
    const server = http.createServer();
    const wss = new WebSocketServer({ noServer: true });
    let upgrades = 0;
    const opened: { closedAfter?: number; at: number }[] = [];
    server.on('upgrade', (req, sock: net.Socket, head) => {
      const delay = upgrades++ === 0 ? 1200 : 0;
      setTimeout(() => {
        if (sock.destroyed) return;
        wss.handleUpgrade(req, sock, head, (ws) => {
          const rec: { closedAfter?: number; at: number } = { at: Date.now() };
          opened.push(rec);
          ws.on('close', () => (rec.closedAfter = Date.now() - rec.at));
          ws.on('message', (d, b) => ws.send(d, { binary: b }));
        });
      }, delay);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    const wx = createWxShim({ closeWhileConnecting: 'ignore' });
    const h = wssMpClient.create(wx, url, { ...FAST, connectTimeout: 300 });
    try {
      assert.ok(await until(() => opened.length === 2 && opened[0]!.closedAfter !== undefined, 5000), 'late task opened and was closed');
      assert.ok(opened[0]!.closedAfter! < 500, `late task closed after ${opened[0]!.closedAfter} ms`);
      assert.ok(await until(() => h.isOpen(), 3000));
      assert.equal(h.opens, 1, 'the late task never surfaced as an open');
      h.send('x');
      assert.ok(await until(() => h.messages.includes('x'), 2000));
    } finally {
      h.destroy();
      wx.closeAll();
      wss.close();
      server.close();
    }
  });

  test('network back during a pending backoff wait: the wait is cut, connect starts at once', async () => {
    const echo = await startEcho(undefined, { down: true });
    const wx = createWxShim();
    const h = wssMpClient.create(wx, echo.url, { ...FAST, delay: 4000, maxDelay: 4000, random: () => 0.99 });
    try {
      assert.ok(await until(() => h.errors.length > 0, 3000), 'first attempt refused');
      echo.up();
      const t0 = Date.now();
      wx.network(true);
      assert.ok(await until(() => h.isOpen(), 2000, 5), 'opens');
      assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms (the wait had ~3.9 s left)`);
    } finally {
      h.destroy();
      wx.closeAll();
      await echo.close();
    }
  });

  test('wss-mp-client/web (dist) on a W3C WebSocket: the ws package in Node, binary and text echo', async () => {
    const echo = await startEcho();
    const { createClient, webPlatform } = await import('wss-mp-client/web');
    const c = createClient({ url: echo.url, platform: webPlatform(WebSocket as never), heartbeatInterval: 200, heartbeatTimeout: 200 });
    const got: unknown[] = [];
    c.on('message', (e) => got.push(e.data));
    try {
      c.send('tom');
      c.send(new Uint8Array([1, 2, 3, 4]).subarray(1, 3));
      assert.ok(await until(() => got.length === 2, 3000));
      assert.equal(got[0], 'tom');
      assert.deepEqual([...new Uint8Array(got[1] as ArrayBuffer)], [2, 3]);
      assert.ok(await until(() => c.stats.rtt !== null, 2000), 'heartbeat answered by the echo');
    } finally {
      c.destroy();
      await echo.close();
    }
  });

  test('comparison table: same scenarios on reconnecting-websocket 4.4.0 (README is current)', async () => {
    const other = await rws;
    const table = renderTable(ours, other);
    console.log(`\n${table}\n`);
    if (process.env.UPDATE_COMPARISON === '1') writeTable(table);
    const documented = readTable();
    assert.ok(documented, 'packages/client/README.md has no comparison markers');
    // Outcomes only: the notes quote what the other library did (its error texts vary per run).
    assert.deepEqual(outcomesOf(table), outcomesOf(documented), 'pass/fail in the packages/client/README.md comparison table is stale: rerun with UPDATE_COMPARISON=1');
  });
});

/** The shipped miniprogram_dist/index.js in a WeChat-style module on `wx`, every event recorded. */
function mpClient(wx: WxShim, opts: Record<string, unknown>) {
  const m = loadMiniprogramModule(CLIENT_MP, { wx });
  const c = m.exports.createClient({ backoffBase: 100, backoffMax: 400, connectTimeout: 800, minUptime: 1000, heartbeatInterval: 0, ...opts });
  const r = {
    c,
    messages: [] as unknown[],
    errors: [] as { code: string; cause: unknown }[],
    closes: [] as { code: number; reason: string; willReconnect: boolean }[],
    reconnecting: [] as { attempt: number }[],
    opens: 0,
  };
  c.on('open', () => r.opens++);
  c.on('message', (e: { data: unknown }) => r.messages.push(e.data));
  c.on('error', (e: { code: string; cause: unknown }) => r.errors.push(e));
  c.on('close', (e: (typeof r.closes)[0]) => r.closes.push(e));
  c.on('reconnecting', (e: { attempt: number }) => r.reconnecting.push(e));
  return r;
}

// Twins of packages/client/test/hardening.test.ts on real sockets.
describe('wss-mp-client end to end: no stuck states, servers that ping first, limits', () => {
  test('hostile callbacks: shouldReconnect (JSON.parse of a non-JSON reason) and isPong throwing, a close listener throwing', async () => {
    let n = 0;
    const echo = await startEcho((ws) => n++ === 0 && setTimeout(() => ws.close(4100, 'not json'), 50));
    const wx = createWxShim();
    const h = mpClient(wx, {
      url: echo.url,
      shouldReconnect: (_code: number, reason: string) => (JSON.parse(reason) as { retry: boolean }).retry,
      isPong: () => {
        throw new Error('isPong bug');
      },
    });
    h.c.on('close', () => {
      throw new Error('listener bug');
    });
    try {
      assert.ok(await until(() => echo.connections === 2 && h.c.state === 'open', 5000), `reopened (state ${h.c.state})`);
      assert.deepEqual({ ...h.closes[0] }, { code: 4100, reason: 'not json', willReconnect: true });
      const causes = h.errors.filter((e) => e.code === 'ERR_CALLBACK').map((e) => String((e.cause as Error).name));
      assert.ok(causes.includes('SyntaxError') && causes.includes('Error'), causes.join());
      assert.equal(h.c.send('x'), 'sent');
      assert.ok(await until(() => h.messages.includes('x'), 3000), 'a frame is delivered although isPong throws');
    } finally {
      h.c.destroy();
      wx.closeAll();
      await echo.close();
    }
  });

  test('close() inside a close listener: closed, no "reconnecting", no new socket', async () => {
    const echo = await startEcho();
    const wx = createWxShim();
    const h = mpClient(wx, { url: echo.url });
    h.c.on('close', () => h.c.close());
    try {
      assert.ok(await until(() => h.c.state === 'open', 3000));
      for (const ws of echo.sockets) ws.terminate();
      assert.ok(await until(() => h.c.state === 'closed', 3000));
      // Longer than any backoff wait (≤ 400 ms): no second connection may come.
      assert.ok(await holdsFor(() => echo.connections === 1, 600), 'a socket was opened after close()');
      assert.deepEqual(h.reconnecting, []);
    } finally {
      h.c.destroy();
      wx.closeAll();
      await echo.close();
    }
  });

  test('a server that pings first ({"type":"ping"}, closes 4000 after 3 missed pongs): answered; without answers, 4000 is retried', async () => {
    const pongs: number[] = [];
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => server.once('listening', r));
    let connections = 0;
    server.on('connection', (ws) => {
      connections++;
      const id = connections;
      // Like GatewayWorker with pingData and a limit: ping every 100 ms, give up after 3
      // unanswered pings in a row (tolerant of a loaded machine; the answer takes ~1 ms).
      let missed = 0;
      const t = setInterval(() => {
        if (missed >= 3) return ws.close(4000, 'no pong');
        missed++;
        ws.send('{"type":"ping"}');
      }, 100);
      ws.on('message', (d) => {
        if (String(d) === '{"type":"pong"}') {
          missed = 0;
          pongs.push(id);
        }
      });
      ws.on('close', () => clearInterval(t));
    });
    const url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    const wx = createWxShim();
    const a = mpClient(wx, { url, heartbeatInterval: 1000, heartbeatTimeout: 500 });
    let b: ReturnType<typeof mpClient> | undefined;
    try {
      assert.ok(await until(() => pongs.length >= 10, 5000), `pongs: ${pongs.length}`);
      assert.equal(connections, 1, 'never closed for a missing pong');
      assert.deepEqual(a.messages, [], 'server pings are not messages');
      assert.deepEqual(a.closes, []);
      a.c.destroy();
      // The same server against a client that does not answer: 4000 "no pong" is not terminal.
      b = mpClient(wx, { url, pongMessage: '' });
      assert.ok(await until(() => b!.closes.length >= 1 && b!.opens >= 2, 5000), 'reconnected after 4000');
      assert.deepEqual({ ...b.closes[0] }, { code: 4000, reason: 'no pong', willReconnect: true });
    } finally {
      a.c.destroy();
      b?.c.destroy();
      wx.closeAll();
      for (const ws of server.clients) ws.terminate();
      await new Promise((r) => server.close(r));
    }
  });

  test('network lost while open: sends queue; network back: the link is replaced at once (4504) and the queue delivered', async () => {
    const serverCloses: number[] = [];
    const echo = await startEcho((ws) => ws.on('close', (code) => serverCloses.push(code)));
    const wx = createWxShim();
    const h = mpClient(wx, { url: echo.url, heartbeatInterval: 5000, heartbeatTimeout: 5000 });
    try {
      assert.ok(await until(() => h.c.state === 'open', 3000));
      wx.network(false);
      assert.equal(h.c.send('while offline'), 'queued');
      const t0 = Date.now();
      wx.network(true);
      assert.ok(await until(() => h.messages.includes('while offline'), 3000), 'delivered on the new socket');
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
      assert.equal(echo.connections, 2);
      assert.ok(await until(() => serverCloses.length === 1, 2000));
      assert.equal(serverCloses[0], 4504);
    } finally {
      h.c.destroy();
      wx.closeAll();
      await echo.close();
    }
  });

  test('maxMessageSize default = the real wss-mp-server limit: 64 KiB echoes, one byte more is "dropped" and costs nothing after it', async () => {
    const server = await startCli(env);
    const wx = shimFor(env);
    const h = mpClient(wx, { url: server.url });
    let u: ReturnType<typeof mpClient> | undefined;
    try {
      const max = 'x'.repeat(65536);
      assert.equal(h.c.send(max), 'queued');
      assert.equal(h.c.send(max + 'x'), 'dropped');
      assert.equal(h.c.send('after'), 'queued');
      assert.ok(await until(() => h.messages.length === 2, 5000), `got ${h.messages.length}`);
      assert.deepEqual(h.messages.map((m) => (m as string).length), [65536, 5]);
      assert.deepEqual(h.errors.map((e) => e.code), ['ERR_MESSAGE_TOO_BIG']);
      assert.deepEqual(h.closes, []);
      h.c.destroy();
      // What the limit saves us from: the server closes with 1009 when the client does not check.
      u = mpClient(wx, { url: server.url, maxMessageSize: Infinity });
      u.c.send(max + 'x');
      assert.ok(await until(() => u!.closes.length === 1, 5000));
      assert.equal(u.closes[0]!.code, 1009);
    } finally {
      h.c.destroy();
      u?.c.destroy();
      wx.closeAll();
      await server.stop();
    }
  });

  test("WeChat's connect options reach connectSocket; send(42) is ERR_ARGUMENT; maxRetries: 2 = 2 attempts, stats.attempts exact", async () => {
    const echo = await startEcho();
    const wx = createWxShim();
    const extra = { tcpNoDelay: true, perMessageDeflate: false, timeout: 3000, forceCellularNetwork: false };
    const h = mpClient(wx, { url: { url: echo.url, ...extra } });
    const down = await startEcho(undefined, { down: true });
    const wx2 = createWxShim();
    const dead = mpClient(wx2, { url: down.url, maxRetries: 2 });
    try {
      assert.ok(await until(() => h.c.state === 'open', 3000));
      for (const [k, v] of Object.entries(extra)) assert.equal(wx.options[0][k], v, k);
      assert.equal(typeof wx.options[0].complete, 'function');
      assert.throws(() => h.c.send(42), (e: { code?: string }) => e.code === 'ERR_ARGUMENT');
      assert.equal(h.c.send(new Uint8Array([1, 2]).buffer), 'sent'); // an ArrayBuffer of this realm is fine
      assert.ok(await until(() => dead.c.state === 'closed', 5000));
      assert.ok(await holdsFor(() => wx2.connectCalls === 2, 600), `${wx2.connectCalls} attempts, expected 2`);
      assert.equal(dead.c.stats.attempts, 2);
    } finally {
      h.c.destroy();
      dead.c.destroy();
      wx.closeAll();
      wx2.closeAll();
      await echo.close();
      await down.close();
    }
  });
});
