import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dedup } from '../../../src/server/messaging/dedup';

test('in progress → waiters collected; done → stored answer for at least the window, gone within two', () => {
  let t = 0;
  const d = new Dedup<string>(1_000, 100, () => t);
  const p = d.begin('u\nr1');
  assert.equal(d.get('u\nr1'), p);
  (p.waiters ??= []).push('second');
  assert.deepEqual(d.done('u\nr1', 'ACK', p), ['second']);
  t = 900;
  d.done('u\nr2', 'ACK2');
  t = 999;
  assert.equal(d.get('u\nr1'), 'ACK');
  t = 1_899;
  assert.equal(d.get('u\nr1'), 'ACK', 'past its window: a generation goes whole, a window after its newest answer');
  assert.equal(d.get('u\nr2'), 'ACK2');
  t = 1_900;
  assert.equal(d.get('u\nr1'), undefined);
  assert.equal(d.get('u\nr2'), undefined);
});

test('every answer is remembered for at least the window, whenever in its generation it was stored', () => {
  let t = 0;
  const d = new Dedup<string>(1_000, 1_000_000, () => t);
  // One answer every 10 ms for 5 windows; each is looked up just before and just after its own window ends.
  const storedAt = new Map<string, number>();
  for (let k = 0; k < 500; k++) {
    t = k * 10;
    d.done(`k${k}`, `a${k}`, undefined);
    storedAt.set(`k${k}`, t);
    for (const [key, at] of storedAt) {
      if (t - at < 1_000) assert.equal(d.get(key), `a${key.slice(1)}`, `${key} at ${t}`);
      else if (t - at >= 2_000) assert.equal(d.get(key), undefined, `${key} at ${t}`);
    }
  }
});

test('a server idle for longer than two windows remembers nothing', () => {
  let t = 0;
  const d = new Dedup<string>(1_000, 100, () => t);
  d.done('a', 'A');
  t = 500;
  d.done('b', 'B');
  t = 2_600;
  assert.equal(d.get('a'), undefined);
  assert.equal(d.get('b'), undefined);
  assert.equal(d.size, 0);
});

test('abandon forgets the id (a timed-out request may run again) and hands back the waiters', () => {
  const d = new Dedup<string>(1_000, 100);
  const p = d.begin('k');
  (p.waiters ??= []).push('w');
  assert.deepEqual(d.abandon('k', p), ['w']);
  assert.equal(d.get('k'), undefined);
});

test('bounded: the newest maxEntries are always remembered, at most twice that are held; in-progress ids are never dropped', () => {
  const d = new Dedup<string>(60_000, 3);
  const pending = d.begin('p');
  const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  for (const k of keys) d.done(k, k);
  assert.ok(d.size <= 2 * 3 + 1, `size ${d.size}`);
  assert.equal(d.get('p'), pending);
  for (const k of keys.slice(-3)) assert.equal(d.get(k), k, k);
  assert.equal(d.get('a'), undefined, 'the oldest went with its generation');
});

test('window 0: nothing is remembered once done', () => {
  const d = new Dedup<string>(0, 10);
  const p = d.begin('k');
  d.done('k', 'x', p);
  d.done('j', 'y');
  assert.equal(d.get('k'), undefined);
  assert.equal(d.get('j'), undefined);
  assert.equal(d.size, 0);
});

test('a long run at the cap stays within twice the cap, keeps the newest cap and forgets the oldest', () => {
  const d = new Dedup<string>(60_000, 1_000);
  for (let i = 0; i < 50_000; i++) {
    assert.equal(d.get(`k${i}`), undefined);
    d.done(`k${i}`, `a${i}`);
  }
  assert.ok(d.size <= 2_000, `size ${d.size}`);
  for (let i = 49_000; i < 50_000; i++) assert.equal(d.get(`k${i}`), `a${i}`);
  assert.equal(d.get('k47000'), undefined);
});
