import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, createBackoff } from '../src/backoff';
import { CLIENT_DEFAULTS } from '../src/options';
import { opened } from './helpers';

// The formula is tested with a 1 s base for readable numbers; the default (2 s) is in the README test.
const o = { backoffBase: 1000, backoffMax: CLIENT_DEFAULTS.backoffMax, minUptime: 5000 };

test('full jitter: delay n is uniform in [0, min(max, base·2^n)), drawn afresh every attempt', () => {
  assert.equal(backoffDelay(0, o, () => 0), 0);
  assert.equal(backoffDelay(0, o, () => 0.999999), 999);
  assert.equal(backoffDelay(3, o, () => 0.5), 4000);
  assert.equal(backoffDelay(5, o, () => 0.999999), 29999); // 32 s window capped at 30 s
  assert.equal(backoffDelay(1000, o, () => 0.5), 15000); // no overflow
  // Distribution with Math.random: mean ≈ half the window, spread over the whole window.
  for (const n of [0, 2, 6]) {
    const cap = Math.min(o.backoffMax, o.backoffBase * 2 ** n);
    const xs = Array.from({ length: 4000 }, () => backoffDelay(n, o, Math.random));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(Math.abs(mean - cap / 2) < cap * 0.05, `n=${n} mean ${mean} vs ${cap / 2}`);
    assert.ok(Math.min(...xs) < cap * 0.05 && Math.max(...xs) > cap * 0.95);
    const buckets = [0, 0, 0, 0];
    for (const x of xs) buckets[Math.floor((x / cap) * 4)]!++;
    for (const b of buckets) assert.ok(b > 800 && b < 1200, `buckets ${buckets}`);
  }
});

test('the failure count resets only after minUptime of a connection', () => {
  const b = createBackoff(o, () => 0.5);
  assert.deepEqual([b.next(), b.next(), b.next()], [500, 1000, 2000]);
  b.opened(0);
  b.closed(4999); // flapping: not long enough
  assert.equal(b.retries, 3);
  b.opened(10_000);
  b.closed(15_000);
  assert.equal(b.retries, 0);
  b.closed(20_000); // no open since: nothing to reset
  b.next();
  b.closed(30_000);
  assert.equal(b.retries, 1);
});

test('a server that accepts and drops at once cannot make the client loop fast', async () => {
  const { clock, wx, client, ev } = await opened({ random: () => 0.999, backoffBase: 1000 });
  for (let i = 0; i < 6; i++) {
    await clock.until(() => client.state === 'open');
    await clock.advance(100);
    wx.current!.drop();
  }
  const delays = ev.reconnecting.map((r) => r.delay);
  assert.deepEqual(delays, [999, 1998, 3996, 7992, 15984, 29970]);
  // One stable connection (≥ minUptime) resets it.
  await clock.until(() => client.state === 'open');
  await clock.advance(5000);
  wx.current!.drop();
  assert.equal(ev.reconnecting.at(-1)!.delay, 999);
});
