// ops: option parsing (typed errors naming the option), the token buckets with an explicit
// clock, the handshake limiter's exemptions, and how log events become counters. The e2e
// twin with real sockets and a real scrape: test/server-ops.e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../../../src/common/errors';
import { resolveAdmin, isLoopbackHost, OPS_DEFAULTS } from '../../../src/server/ops/options';
import { Bucket, HandshakeLimiter, RATE_LIMIT_DEFAULTS, resolveRateLimit } from '../../../src/server/ops/rate-limit';
import { Stats } from '../../../src/server/ops/stats';
import { runChecks } from '../../../src/server/ops/health';
import { Logger } from '../../../src/common/log';

const KEY = 'k'.repeat(OPS_DEFAULTS.adminKeyMinLength);

test('admin: a port, HOST:PORT, [v6]:PORT or { host, port }; loopback by default', () => {
  assert.deepEqual(resolveAdmin(9464, undefined), { host: '127.0.0.1', port: 9464, key: undefined, maxBody: OPS_DEFAULTS.adminMaxBody });
  assert.equal(resolveAdmin('9464', undefined)!.host, '127.0.0.1');
  assert.deepEqual([resolveAdmin('0.0.0.0:9000', KEY)!.host, resolveAdmin('0.0.0.0:9000', KEY)!.port], ['0.0.0.0', 9000]);
  assert.equal(resolveAdmin('[::1]:9000', undefined)!.host, '::1');
  assert.equal(resolveAdmin({ host: '10.0.0.1', port: 1 }, KEY)!.host, '10.0.0.1');
  assert.equal(resolveAdmin(undefined, undefined), undefined);
  assert.deepEqual(resolveAdmin(1, KEY)!.key, Buffer.from(KEY));
});

test('admin and adminKey: invalid values throw OptionError naming the option and what it accepts', () => {
  const cases: [unknown, unknown, string, RegExp][] = [
    ['nope', undefined, 'admin', /HOST:PORT/],
    [70000, undefined, 'admin', /port/],
    ['host:99999', undefined, 'admin', /port/],
    [{ host: '', port: 1 }, undefined, 'admin.host', /host/],
    [1, 'short', 'adminKey', /16 characters/],
    [undefined, KEY, 'adminKey', /admin as well/],
  ];
  for (const [admin, key, option, accepted] of cases) {
    assert.throws(() => resolveAdmin(admin, key), (e: unknown) => e instanceof OptionError && e.option === option && accepted.test(e.accepted),
      `${JSON.stringify(admin)} / ${JSON.stringify(key)}`);
  }
  // The message never repeats a rejected key.
  assert.throws(() => resolveAdmin(1, 'secret-short'), (e: Error) => !e.message.includes('secret'));
});

test('loopback hosts', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1']) assert.ok(!isLoopbackHost(h), h);
});

test('rateLimit: defaults, overrides, false, and typed errors', () => {
  assert.deepEqual(resolveRateLimit(undefined), { ...RATE_LIMIT_DEFAULTS });
  assert.equal(resolveRateLimit(false), undefined);
  assert.equal(resolveRateLimit({ messagesPerSecond: 5 })!.messagesPerSecond, 5);
  assert.throws(() => resolveRateLimit({ messagesPerSecnd: 5 }), (e: unknown) => e instanceof OptionError && e.option === 'rateLimit.messagesPerSecnd' && /messagesPerSecond/.test(e.accepted));
  assert.throws(() => resolveRateLimit({ bytesBurst: -1 }), (e: unknown) => e instanceof OptionError && e.option === 'rateLimit.bytesBurst');
  assert.throws(() => resolveRateLimit('fast'), (e: unknown) => e instanceof OptionError && e.option === 'rateLimit');
});

test('bucket: burst, refill by elapsed time, bytes, warn → drop → close, forgiven when full again', () => {
  const b = new Bucket(10, 5, 1000, 1000, 0);
  for (let i = 0; i < 5; i++) assert.ok(b.take(10, 0), `message ${i} of the burst`);
  assert.ok(!b.take(10, 0), 'the burst is spent');
  assert.ok(b.take(10, 100), '100 ms refill one message at 10/s');
  assert.ok(!b.take(10, 100));
  assert.ok(!b.take(2000, 10_000), 'bigger than the byte bucket: never passes');
  // Escalation: the first excess warns, then a whole burst of drops closes.
  const c = new Bucket(10, 3, 0, 0, 0);
  for (let i = 0; i < 3; i++) c.take(1, 0);
  assert.equal(c.excess(), 'warn');
  assert.equal(c.excess(), 'drop');
  assert.equal(c.excess(), 'drop');
  assert.equal(c.excess(), 'close');
  // A client that slowed down: full again, the warning is forgotten.
  const d = new Bucket(10, 3, 0, 0, 0);
  for (let i = 0; i < 3; i++) d.take(1, 0);
  assert.equal(d.excess(), 'warn');
  assert.ok(d.take(1, 10_000));
  assert.equal(d.excess(), 'warn', 'warned afresh, not closed');
  // A rate of 0 is no limit.
  const free = new Bucket(0, 0, 0, 0, 0);
  for (let i = 0; i < 1000; i++) assert.ok(free.take(1 << 20, 0));
});

test('handshake limiter: per IP, loopback exempt, 0 = off', () => {
  const h = new HandshakeLimiter(1, 2);
  assert.ok(h.allow('203.0.113.1') && h.allow('203.0.113.1'));
  assert.ok(!h.allow('203.0.113.1'), 'third within the burst window');
  assert.ok(h.allow('203.0.113.2'), 'another IP has its own bucket');
  for (let i = 0; i < 100; i++) assert.ok(h.allow('127.0.0.1') && h.allow('::1'));
  const off = new HandshakeLimiter(0, 0);
  for (let i = 0; i < 100; i++) assert.ok(off.allow('203.0.113.1'));
});

test('stats from log events: handshakes, failures by reason, closes by code (bounded), slow consumers', () => {
  const log = new Logger(false, true); // no sink, quiet: counted all the same
  const s = Stats.observing(log);
  log.info('connection', { id: 1 });
  log.info('tls-error', { ip: 'x', error: 'ERR_SSL_UNSUPPORTED_PROTOCOL' });
  log.info('tls-error', { ip: 'x', error: 'ECONNRESET' });
  log.info('plain-http', { status: 400 });
  log.info('reject', { status: 401 });
  log.info('reject', { status: 403, origin: 'https://evil.example' });
  log.info('reject', { status: 404 });
  log.info('reject', { status: 429 });
  log.info('reject', { status: 503, reason: 'server shutting down' });
  log.warn('reject', { code: 1013 });
  log.warn('limit', { limit: 'handshake-deadline' });
  log.info('close', { code: 1009 });
  log.info('close', { code: 4321 });
  log.info('close', { code: 1006, by: 'slow consumer: more than 1 bytes unsent' });
  log.error('error', { where: 'broker.history', error: new Error('down') });
  log.error('error', { where: 'onMessage', error: new Error('app bug') });
  const snap = s.snapshot();
  assert.equal(snap.handshakes, 1);
  assert.deepEqual(snap.handshakeFailures, {
    tls_version: 1, tls_other: 1, plain_http: 1, bad_upgrade: 1, origin: 1, auth_refused: 1, auth_error: 0,
    capacity: 1, shutting_down: 1, timeout: 1, rate_limited: 1,
  });
  assert.equal(snap.disconnects['1009'], 1);
  assert.equal(snap.disconnects.other, 1);
  assert.equal(snap.disconnects['1006'], 1);
  assert.equal(snap.slowConsumerCuts, 1);
  assert.equal(snap.rateLimitHits.handshake, 1);
  assert.equal(snap.brokerErrors, 1, 'only the broker\'s error');
});

test('readiness checks: a throw, a rejection or a hang is not ready', async () => {
  const r = await runChecks([
    { name: 'ok', check: () => true },
    { name: 'async', check: async () => true },
    { name: 'throws', check: () => { throw new Error('x'); } },
    { name: 'rejects', check: () => Promise.reject(new Error('x')) },
  ]);
  assert.deepEqual(r, { ready: false, checks: { ok: true, async: true, throws: false, rejects: false } });
  assert.deepEqual(await runChecks([{ name: 'ok', check: () => true }]), { ready: true, checks: { ok: true } });
});
