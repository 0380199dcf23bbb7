// The wechatLogin route against a local stand-in for WeChat's code2Session (loopback, its
// documented request and answers; never the real API), through the built CLI, whose issued
// token then opens a messaging connection as that openid.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from './support/server';
import { ProtoClient } from './conformance/client';

const APPID = 'wx0123456789abcdef';
const APP_SECRET = 'app-secret-never-logged';
const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const SESSION_KEY = 'tiihtNczf5v6AKRyjwEUhQ==';

/** code → what WeChat answers; 'hang' never answers. */
const ANSWERS: Record<string, unknown> = {
  good: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', session_key: SESSION_KEY, unionid: 'o6_bmasdasdsad6_2sgVt7hMZOPfL' },
  used: { errcode: 40163, errmsg: 'code been used' },
  bad: { errcode: 40029, errmsg: 'invalid code' },
  busy: { errcode: -1, errmsg: 'system error' },
  limited: { errcode: 45011, errmsg: 'api minute-quota reach limit' },
};

describe('wechatLogin with a code2Session stand-in', () => {
  let wechat: http.Server;
  const seen: URL[] = [];
  let server: RunningServer;
  let dir: string;
  let base: string;

  before(async () => {
    wechat = http.createServer((req, res) => {
      const u = new URL(req.url!, 'http://stand-in');
      seen.push(u);
      const code = u.searchParams.get('js_code')!;
      if (code === 'hang') return; // never answers: the server's timeout must cut it
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(ANSWERS[code] ?? { errcode: 40029, errmsg: 'invalid code' }));
    });
    await new Promise<void>((r) => wechat.listen(0, '127.0.0.1', r));
    const port = (wechat.address() as import('node:net').AddressInfo).port;
    dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-login-'));
    writeFileSync(path.join(dir, 'jwt'), `${SECRET}\n`);
    writeFileSync(path.join(dir, 'wx'), `${APP_SECRET}\n`);
    server = await startServer(['--behind-proxy', '--messaging', '--jwt-secret-file', path.join(dir, 'jwt'), '--wechat-appid', APPID,
      '--wechat-secret-file', path.join(dir, 'wx'), '--wechat-api-base', `http://127.0.0.1:${port}`]);
    base = server.url.replace(/^ws/, 'http').replace(/\/wss$/, '');
  });
  after(async () => {
    await server?.stop();
    wechat?.closeAllConnections();
    await new Promise((r) => wechat?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const login = async (body: unknown) => {
    const res = await fetch(`${base}/login`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
    return { status: res.status, body: (await res.json()) as Record<string, any>, headers: res.headers };
  };

  test('success: code2Session is called as documented; the answer is a JWT for the openid, without the session_key', async () => {
    const r = await login({ code: 'good' });
    assert.equal(r.status, 200);
    assert.equal(r.body.expiresIn, 7200);
    assert.deepEqual(Object.keys(r.body).sort(), ['expiresIn', 'token']);
    const call = seen.at(-1)!;
    assert.equal(call.pathname, '/sns/jscode2session');
    assert.deepEqual(Object.fromEntries(call.searchParams), { appid: APPID, secret: APP_SECRET, js_code: 'good', grant_type: 'authorization_code' });
    const claims = JSON.parse(Buffer.from(r.body.token.split('.')[1], 'base64url').toString());
    assert.equal(claims.sub, 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
    assert.equal(claims.unionid, 'o6_bmasdasdsad6_2sgVt7hMZOPfL');
    assert.equal(claims.exp - claims.iat, 7200);
    assert.ok(!JSON.stringify(claims).includes(SESSION_KEY));
    // The token opens a messaging connection as that user.
    const c = await ProtoClient.open(server.url, { headers: { authorization: `Bearer ${r.body.token}` } });
    assert.equal((await c.next()).user, 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
    await c.close();
  });

  test('invalid or used code → 401; WeChat busy (-1) or rate limited (45011) → 503 with Retry-After; no body → 400', async () => {
    for (const code of ['bad', 'used']) {
      const r = await login({ code });
      assert.equal(r.status, 401, code);
      assert.equal(r.body.error, 'invalid code');
    }
    for (const code of ['busy', 'limited']) {
      const r = await login({ code });
      assert.equal(r.status, 503, code);
      assert.equal(r.headers.get('retry-after'), '5');
    }
    assert.equal((await login('not json')).status, 400);
    assert.equal((await login({})).status, 400);
    assert.equal((await fetch(`${base}/login`)).status, 405);
  });

  test('WeChat does not answer → 504 after the timeout; nothing secret is ever logged', async () => {
    const r = await login({ code: 'hang' });
    assert.equal(r.status, 504);
    const all = JSON.stringify(server.logs) + server.text.join('\n');
    for (const s of [APP_SECRET, SESSION_KEY, SECRET]) assert.ok(!all.includes(s), 'no secret in the logs');
    assert.ok(server.logs.some((l) => l.event === 'login' && l.status === 504));
  });
});
