import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Dedup } from '../../../src/server/messaging/dedup';

test('in progress → waiters collected; done → stored answer until the window ends', () => {
  let t = 0;
  const d = new Dedup<string>(1_000, 100, () => t);
  const e = d.begin('u\nr1');
  assert.equal(d.get('u\nr1'), e);
  (e.waiters ??= []).push('second');
  assert.deepEqual(d.done('u\nr1', e, 'ACK'), ['second']);
  t = 999;
  assert.equal(d.get('u\nr1')?.ack, 'ACK');
  t = 1_000;
  assert.equal(d.get('u\nr1'), undefined, 'expired');
});

test('abandon forgets the id (a timed-out request may run again) and hands back the waiters', () => {
  const d = new Dedup<string>(1_000, 100);
  const e = d.begin('k');
  (e.waiters ??= []).push('w');
  assert.deepEqual(d.abandon('k', e), ['w']);
  assert.equal(d.get('k'), undefined);
});

test('bounded: over maxEntries the oldest done ids go first; in-progress ids are never dropped', () => {
  const d = new Dedup<string>(60_000, 3);
  const pending = d.begin('p');
  for (const k of ['a', 'b', 'c', 'd', 'e']) d.done(k, d.begin(k), k);
  assert.ok(d.size <= 4, `size ${d.size}`);
  assert.equal(d.get('p'), pending);
  assert.equal(d.get('a'), undefined);
  assert.equal(d.get('e')?.ack, 'e');
});

test('window 0: nothing is remembered once done', () => {
  const d = new Dedup<string>(0, 10);
  d.done('k', d.begin('k'), 'x');
  assert.equal(d.get('k'), undefined);
});

test('a long run at the cap stays at the cap, keeps the newest and forgets the oldest', () => {
  const d = new Dedup<string>(60_000, 1_000);
  for (let i = 0; i < 50_000; i++) d.done(`k${i}`, d.begin(`k${i}`), `a${i}`);
  assert.ok(d.size <= 1_000, `size ${d.size}`);
  assert.equal(d.get('k49999')?.ack, 'a49999');
  assert.equal(d.get('k49000')?.ack, 'a49000');
  assert.equal(d.get('k48000'), undefined);
});
