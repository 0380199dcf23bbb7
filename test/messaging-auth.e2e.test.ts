// A bad token meets the real server and the real client: wss-mp-server with `jwt`, the built
// miniprogram_dist messaging client on the wx shim, and a TCP relay in between that keeps every
// byte the server wrote, so "no 101" is proven on the wire, not inferred from a client that may
// have hidden an open. Plain ws (as behind a proxy) so that the relay can read the HTTP answers;
// the same refusal over TLS is in the loss matrix's server and test/server-messaging.e2e.test.ts.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createServer, type LogEntry, type WssMpServer } from 'wss-mp-server';
import { CLIENT_MP } from './comparison/subjects';
import { signHs256, now } from './support/jwt';
import { loadMiniprogramMessaging } from './support/miniprogram-module';
import { waitFor } from './support/wait';
import { createWxShim } from './support/wx-shim';

const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const DEADLINE = 20_000;
const jwt = (claims: Record<string, unknown>) => signHs256(SECRET, claims);

let server: WssMpServer<any>;
let serverPort: number;
const logs: LogEntry[] = [];
const cleanups: (() => unknown)[] = [];

/** A relay that records what the server sent on each connection. */
async function tap() {
  const fromServer: Buffer[][] = [];
  const s = net.createServer((down) => {
    const got: Buffer[] = [];
    fromServer.push(got);
    const up = net.connect(serverPort, '127.0.0.1');
    down.pipe(up);
    up.on('data', (d) => got.push(d));
    up.pipe(down);
    const end = () => (down.destroy(), up.destroy());
    for (const x of [down, up]) x.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanups.push(() => s.close());
  const heads = () => fromServer.map((c) => Buffer.concat(c).toString('latin1').split('\r\n')[0]);
  return { port: (s.address() as net.AddressInfo).port, heads };
}

before(async () => {
  server = createServer({
    port: 0,
    host: '127.0.0.1',
    jwt: { secret: SECRET },
    messaging: { onRequest: (conn, data) => ({ user: conn.user, data }) },
    logger: (e) => logs.push(e),
  });
  const url = await server.listen();
  serverPort = Number(new URL(url).port);
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await server?.close();
});

function app(port: number, token: unknown) {
  const wx = createWxShim();
  const create = loadMiniprogramMessaging(path.dirname(CLIENT_MP)).messaging.exports.createMessagingClient;
  const mc = create({ url: `ws://127.0.0.1:${port}/wss`, platform: wx, token, backoffBase: 50, backoffMax: 300, heartbeatInterval: 0 });
  const errors: { code: string; message: string; cause?: { errMsg?: string } }[] = [];
  mc.on('error', (e: (typeof errors)[number]) => errors.push(e));
  cleanups.push(() => (mc.destroy(), wx.closeAll()));
  return { wx, mc, errors };
}

describe('a bad token against wss-mp-server, with the messaging client', () => {
  test('an expired static token: HTTP 401 before any 101 (on the wire), then ERR_AUTH, one attempt, the client stays closed', async () => {
    const t = await tap();
    const before = logs.length;
    const a = app(t.port, jwt({ sub: 'alice', exp: now() - 60 }));
    await waitFor(() => a.mc.client.state === 'closed', { timeout: DEADLINE, what: 'the client to give up (closed)' });
    assert.deepEqual(t.heads(), ['HTTP/1.1 401 Unauthorized'], 'one handshake, answered 401, no 101');
    assert.equal(a.wx.connectCalls, 1, 'terminal: no retry storm');
    assert.equal(a.wx.tasks[0]!.state, 'closed');
    assert.deepEqual(a.errors.map((e) => e.code), ['ERR_SOCKET', 'ERR_AUTH']);
    assert.match(a.errors[0]!.cause?.errMsg ?? '', /401/);
    const mine = logs.slice(before);
    assert.deepEqual(mine.filter((l) => l.event === 'reject').map((l) => l.status), [401]);
    assert.equal(mine.filter((l) => l.event === 'open' || l.event === 'connection').length, 0, 'the server never admitted it');
  });

  test('a token function: refused (401), asked again with { refused: true }, connects with the fresh token as that user', async () => {
    const t = await tap();
    const asked: boolean[] = [];
    const a = app(t.port, async ({ refused }: { refused: boolean }) => {
      asked.push(refused);
      return refused ? jwt({ sub: 'bob', exp: now() + 300 }) : jwt({ sub: 'bob', exp: now() - 1 });
    });
    const reply = await a.mc.request('tom');
    assert.equal(JSON.stringify(reply), '{"user":"bob","data":"tom"}'); // an object of the bundle's realm
    assert.deepEqual(asked, [false, true]);
    assert.deepEqual(t.heads(), ['HTTP/1.1 401 Unauthorized', 'HTTP/1.1 101 Switching Protocols']);
  });
});
