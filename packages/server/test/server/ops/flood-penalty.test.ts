// The flood penalty and the handshake limiter's refusal at accept, with an explicit clock. The
// e2e twin with real TLS and real sockets from two loopback addresses:
// test/server-flood-penalty.e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../../../src/common/errors';
import { FloodPenalty } from '../../../src/server/ops/flood-penalty';
import { HandshakeLimiter, resolveRateLimit } from '../../../src/server/ops/rate-limit';

function penalty(o: { baseMs?: number; maxMs?: number; exemptLoopback?: boolean } = {}) {
  const started: { ip: string; ms: number }[] = [];
  const p = new FloodPenalty({ baseMs: o.baseMs ?? 2000, maxMs: o.maxMs ?? 30_000, ipv6Prefix: 64, exemptLoopback: o.exemptLoopback ?? true,
    started: (d) => started.push(d) });
  return { p, started };
}

test('flood penalty: a cool-down after a cut, doubled on repeat up to the maximum, forgotten after a quiet maximum', () => {
  const { p, started } = penalty();
  assert.ok(p.idle);
  p.strike('203.0.113.7', 0);
  assert.equal(p.remaining('203.0.113.7', 0), 2000);
  assert.equal(p.remaining('203.0.113.7', 1999), 1);
  assert.equal(p.remaining('203.0.113.7', 2000), 0);
  assert.equal(p.remaining('203.0.113.8', 0), 0, 'another address is not touched');
  // Cuts of connections opened before the cool-down neither lengthen it nor log again.
  p.strike('203.0.113.7', 500);
  assert.equal(p.remaining('203.0.113.7', 500), 1500);
  // Cut again after it: 4 s, 8 s, 16 s, then 30 s (the maximum), and 30 s again.
  const lengths = [];
  let t = 2000;
  for (let i = 0; i < 5; i++) {
    t += 100;
    p.strike('203.0.113.7', t);
    lengths.push(p.remaining('203.0.113.7', t));
    t += lengths.at(-1)!;
  }
  assert.deepEqual(lengths, [4000, 8000, 16_000, 30_000, 30_000]);
  assert.deepEqual(started.map((s) => s.ms), [2000, 4000, 8000, 16_000, 30_000, 30_000], 'logged once per cool-down');
  // 30 s without a cut after the last cool-down: forgotten, the next one starts over at 2 s.
  t += 30_000;
  assert.equal(p.remaining('203.0.113.7', t), 0);
  assert.ok(p.idle, 'the forgotten entry is dropped');
  p.strike('203.0.113.7', t);
  assert.equal(p.remaining('203.0.113.7', t), 2000);
});

test('flood penalty: IPv6 by /64, loopback exempt unless asked, 0 = off', () => {
  const { p } = penalty();
  p.strike('2001:db8:1:2::99', 0);
  assert.equal(p.remaining('2001:db8:1:2:ffff::1', 0), 2000, 'the same /64');
  assert.equal(p.remaining('2001:db8:1:3::99', 0), 0, 'another /64');
  p.strike('127.0.0.5', 0);
  p.strike('::1', 0);
  assert.equal(p.remaining('127.0.0.5', 0) + p.remaining('::1', 0), 0);
  const strict = penalty({ exemptLoopback: false }).p;
  strict.strike('127.0.0.5', 0);
  assert.equal(strict.remaining('127.0.0.5', 0), 2000);
  const off = penalty({ baseMs: 0 }).p;
  off.strike('203.0.113.7', 0);
  assert.ok(off.idle);
});

test('handshake limiter: 429s up to a burst beyond the rate, then refused at accept; back to 429s as it refills', () => {
  const h = new HandshakeLimiter(20, 60, false);
  const ip = '198.51.100.4';
  let allowed = 0;
  for (let i = 0; i < 60; i++) if (h.allow(ip, 0)) allowed++;
  assert.equal(allowed, 60, 'the burst');
  assert.ok(!h.refusesAtAccept(ip, 0), 'over the limit, not grossly: the 429 tells it why');
  for (let i = 0; i < 59; i++) assert.ok(!h.allow(ip, 0));
  assert.ok(!h.refusesAtAccept(ip, 0), 'one 429 left');
  assert.ok(!h.allow(ip, 0));
  assert.ok(h.refusesAtAccept(ip, 0), 'a whole burst of 429s: refused before TLS');
  assert.ok(!h.refusesAtAccept('198.51.100.5', 0), 'another address');
  // One token's worth of time later (50 ms at 20/s) one handshake is allowed again.
  assert.ok(!h.refusesAtAccept(ip, 50));
  assert.ok(h.allow(ip, 50));
  // Loopback: exempt by default, limited with exemptLoopback false.
  const lax = new HandshakeLimiter(1, 1);
  for (let i = 0; i < 10; i++) assert.ok(lax.allow('127.0.0.9', 0));
  assert.ok(!lax.refusesAtAccept('127.0.0.9', 0));
  const strict = new HandshakeLimiter(1, 1, false);
  assert.ok(strict.allow('127.0.0.9', 0));
  assert.ok(!strict.allow('127.0.0.9', 0));
});

test('rateLimit: the penalty options and exemptLoopback are validated with typed errors', () => {
  assert.equal(resolveRateLimit({ floodPenaltyMs: 0 })!.floodPenaltyMs, 0);
  assert.equal(resolveRateLimit({ exemptLoopback: false })!.exemptLoopback, false);
  const bad: [Record<string, unknown>, string, RegExp][] = [
    [{ exemptLoopback: 'no' }, 'rateLimit.exemptLoopback', /true or false/],
    [{ floodPenaltyMs: -1 }, 'rateLimit.floodPenaltyMs', /number/],
    [{ floodPenaltyMs: true }, 'rateLimit.floodPenaltyMs', /number/],
    [{ floodPenaltyMs: 60_000 }, 'rateLimit.floodPenaltyMaxMs', /at least floodPenaltyMs \(60000\)/],
  ];
  for (const [v, option, accepted] of bad) {
    assert.throws(() => resolveRateLimit(v), (e: unknown) => e instanceof OptionError && e.option === option && accepted.test(e.accepted), JSON.stringify(v));
  }
});
