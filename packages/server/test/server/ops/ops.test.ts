// ops: option parsing (typed errors naming the option), the token buckets with an explicit
// clock, the handshake limiter's exemptions, and how log events become counters. The e2e
// twin with real sockets and a real scrape: test/server-ops.e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../../../src/common/errors';
import { resolveAdmin, isLoopbackHost, OPS_DEFAULTS } from '../../../src/server/ops/options';
import { Bucket, HandshakeLimiter, MAX_REFUSALS_AHEAD, RATE_LIMIT_DEFAULTS, RETRY_GRACE_MS, resolveRateLimit } from '../../../src/server/ops/rate-limit';
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

test('bucket: burst, refill by elapsed time, bytes; a rate of 0 is no limit', () => {
  const b = new Bucket(10, 5, 1000, 1000, 0);
  for (let i = 0; i < 5; i++) assert.ok(b.take(10, 0), `message ${i} of the burst`);
  assert.ok(!b.take(10, 0), 'the burst is spent');
  assert.ok(b.take(10, 100), '100 ms refill one message at 10/s');
  assert.ok(!b.take(10, 100));
  assert.ok(!b.take(2000, 10_000), 'bigger than the byte bucket: never passes');
  const free = new Bucket(0, 0, 0, 0, 0);
  for (let i = 0; i < 1000; i++) assert.ok(free.take(1 << 20, 0));
});

/** Sends `n` messages at `now`: the retryAfter of each refused one (0 = passed). */
function burst(b: Bucket, n: number, now: number, size = 1): number[] {
  return Array.from({ length: n }, () => (b.take(size, now) ? 0 : b.refuse(size, now)));
}

test('refusals get slots one token apart, behind each other; resends at their slots all pass', () => {
  const b = new Bucket(50, 100, 0, 0, 1000);
  const waits = burst(b, 300, 1000);
  assert.equal(waits.filter((w) => w === 0).length, 100, 'the burst passes');
  const slots = waits.filter((w) => w > 0);
  assert.equal(slots.length, 200);
  // 50/s: one token every 20 ms; the k-th refusal waits for k tokens (rounded up, + 1 ms).
  assert.deepEqual(slots.slice(0, 3), [21, 41, 61]);
  assert.equal(slots.at(-1), 200 * 20 + 1);
  // Resent each at its time (in order, as a client's timers fire): every one passes.
  for (const w of slots) assert.ok(b.take(1, 1000 + w), `the resend due after ${w} ms`);
  assert.equal(b.dropped, 0, 'nothing held against it');
});

test('bytes: a refusal over the byte rate waits for that many bytes', () => {
  const b = new Bucket(0, 0, 1000, 1000, 0);
  assert.ok(b.take(800, 0));
  assert.ok(!b.fits(500, 0));
  // 300 bytes short at 1000 B/s: 300 ms; the next 500 B one waits for its own 500 B after that.
  assert.equal(b.refuse(500, 0), 301);
  assert.ok(!b.fits(500, 0));
  assert.equal(b.refuse(500, 0), 801);
  assert.ok(b.take(500, 301));
  assert.ok(b.take(500, 801));
});

test('sustained excess: refusals while slots are ahead, after the grace, a burst\'s worth → -1 (close)', () => {
  const c = new Bucket(10, 3, 0, 0, 0);
  // 37 refusals at 10/s: slots up to 3.7 s ahead.
  const first = burst(c, 40, 0);
  assert.ok(first.slice(3).every((w) => w > 0), 'the first run, within the grace: answered, never closed');
  assert.equal(c.dropped, 0);
  // Still sending, not waiting for the slots, after the grace: what refilled passes, and the
  // 3rd refusal after that closes.
  const later = burst(c, 6, RETRY_GRACE_MS + 1);
  assert.deepEqual(later.slice(0, 3), [0, 0, 0]);
  assert.ok(later[3]! > 0 && later[4]! > 0, 'answered');
  assert.equal(later[5], -1);
});

test('a flood: more than MAX_REFUSALS_AHEAD refused and waiting closes at once, inside the grace (no answer per frame for 2 s)', () => {
  const b = new Bucket(50, 100, 0, 0, 1000);
  const waits = burst(b, 100 + MAX_REFUSALS_AHEAD + 1, 1000);
  assert.equal(waits.filter((w) => w > 0).length, MAX_REFUSALS_AHEAD, 'a compliant client\'s worth is answered');
  assert.equal(waits.at(-1), -1, 'the next one closes');
  // A compliant client's worst case (a full request window and every subscription, resent at
  // once on a new connection) stays well under it.
  const c = new Bucket(50, 100, 0, 0, 1000);
  assert.ok(burst(c, 64 + 128, 1000).every((w) => w >= 0));
});

test('a client that waited for its slots starts a fresh run: its next burst is within a new grace', () => {
  const c = new Bucket(10, 3, 0, 0, 0);
  const waits = burst(c, 10, 0).filter((w) => w > 0);
  const end = waits.at(-1)!;
  for (const w of waits) assert.ok(c.take(1, w));
  // Long after the first run's grace, but no slot is ahead: a new run, not a sustained excess.
  const t = Math.max(end, RETRY_GRACE_MS) + 1;
  const again = burst(c, 50, t);
  assert.ok(again.every((w) => w >= 0), 'answered, not closed');
  assert.equal(c.since, t);
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
  // One line a second for many refused sockets: each is counted.
  log.warn('limit', { limit: 'pending-connections', count: 5 });
  log.info('close', { code: 1009 });
  log.info('close', { code: 4321 });
  log.info('close', { code: 1006, by: 'slow consumer: more than 1 bytes unsent' });
  log.error('error', { where: 'broker.history', error: new Error('down') });
  log.error('error', { where: 'onMessage', error: new Error('app bug') });
  const snap = s.snapshot();
  assert.equal(snap.handshakes, 1);
  assert.deepEqual(snap.handshakeFailures, {
    tls_version: 1, tls_other: 1, plain_http: 1, bad_upgrade: 1, origin: 1, auth_refused: 1, auth_error: 0,
    capacity: 6, shutting_down: 1, timeout: 1, rate_limited: 1, flood_penalty: 0,
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
