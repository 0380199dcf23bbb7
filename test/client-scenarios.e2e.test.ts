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
import { SERVER_CLI } from './support/server';
import { ERR_LIMIT, createWxShim } from './support/wx-shim';
import { createEnv, SCENARIOS, startEcho, until, type Outcome } from './comparison/scenarios';
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
