import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { bearerToken, runAuthenticate, toDecision } from '../../../src/server/auth/authenticate';
import { resolveJwt } from '../../../src/server/auth/jwt';
import { resolveOptions } from '../../../src/server/options';
import { OptionError } from '../../../src/common/errors';

const req = (url: string, authorization?: string) => ({ url, headers: authorization ? { authorization } : {} }) as IncomingMessage;

test('the token comes from Authorization: Bearer first, then ?token=', () => {
  assert.equal(bearerToken(req('/wss?token=q', 'Bearer h')), 'h');
  assert.equal(bearerToken(req('/wss?token=q', 'bearer   h2 ')), 'h2');
  assert.equal(bearerToken(req('/wss?a=1&token=q')), 'q');
  assert.equal(bearerToken(req('/wss', 'Basic abc')), undefined);
  assert.equal(bearerToken(req('/wss')), undefined);
});

test('what authenticate returns: a user, a 401/403 refusal, or (anything else) a 500', () => {
  assert.deepEqual(toDecision({ id: 'u', data: 1 }), { id: 'u', data: 1 });
  const r401 = toDecision({ status: 401, reason: 'expired' });
  assert.ok('status' in r401 && r401.status === 401 && r401.body === 'expired\n' && /WWW-Authenticate: Bearer/.test(r401.headers!));
  const r403 = toDecision({ status: 403, reason: '' });
  assert.ok('status' in r403 && r403.status === 403 && r403.reason === 'forbidden');
  for (const junk of [null, undefined, 'u', { id: '' }, { status: 404, reason: 'x' }, { id: 'u', status: 401 }]) {
    const d = toDecision(junk);
    assert.ok('status' in d && d.status === 500, JSON.stringify(junk));
  }
});

test('runAuthenticate contains throws and rejections (500, reported) and bounds a promise that never settles (503)', async () => {
  const reported: unknown[] = [];
  const report = (e: unknown) => reported.push(e);
  const d1 = await runAuthenticate(() => { throw new Error('sync'); }, req('/'), 1_000, report);
  const d2 = await runAuthenticate(() => Promise.reject(new Error('async')), req('/'), 1_000, report);
  assert.ok('status' in d1 && d1.status === 500 && 'status' in d2 && d2.status === 500);
  assert.deepEqual(reported.map((e) => (e as Error).message), ['sync', 'async']);
  const t0 = Date.now();
  const d3 = await runAuthenticate(() => new Promise(() => {}), req('/'), 50, report);
  assert.ok('status' in d3 && d3.status === 503 && Date.now() - t0 >= 45);
  assert.deepEqual(await runAuthenticate(async () => ({ id: 'late' }), req('/'), 1_000, report), { id: 'late', data: undefined });
});

test('jwt options: one key, a long enough secret, algorithms that fit the key; singleSession needs users', () => {
  const bad: [unknown, string][] = [
    [{}, 'jwt'],
    [{ secret: 'x'.repeat(32), publicKey: 'k' }, 'jwt'],
    [{ secret: 'short' }, 'jwt.secret'],
    [{ secret: 'x'.repeat(32), algorithms: ['RS256'] }, 'jwt.algorithms'],
    [{ secret: 'x'.repeat(32), algorithms: ['none'] }, 'jwt.algorithms'],
    [{ publicKey: 'not a key' }, 'jwt.publicKey'],
  ];
  for (const [o, name] of bad) assert.throws(() => resolveJwt(o as never), (e: unknown) => e instanceof OptionError && e.option === name, JSON.stringify(o));
  assert.deepEqual(resolveJwt({ secret: 'x'.repeat(32) })!.algorithms, ['HS256']);
  assert.throws(() => resolveOptions({ singleSession: true }), (e: unknown) => e instanceof OptionError && e.option === 'singleSession');
  assert.throws(() => resolveOptions({ wechatLogin: { appId: 'a', appSecret: 'b' } }), (e: unknown) => e instanceof OptionError && e.option === 'wechatLogin');
  assert.throws(() => resolveOptions({ jwt: { secret: 'x'.repeat(32) }, authenticate: () => ({ id: 'u' }) }), (e: unknown) => e instanceof OptionError && e.option === 'jwt');
});
