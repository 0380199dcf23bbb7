import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDEMPOTENCY_WINDOW_MS, MemoryBroker, frameChannel, type Publication } from '../../../src/server/messaging/broker';

function broker(historySize = 3, historyTtl = 60_000) {
  let t = 1_000;
  const b = new MemoryBroker({ historySize, historyTtl, now: () => t });
  const seen: [string, Publication][] = [];
  b.onPublication((s, p) => seen.push([s, p]));
  return { b, seen, advance: (ms: number) => (t += ms) };
}

const offsets = (ps: readonly Publication[]) => ps.map((p) => p.offset);

test('offsets are 1, 2, 3… per stream, in one epoch; local listeners hear each publication with its encoded frame', () => {
  const { b, seen } = broker();
  const a1 = b.publish('a', { n: 1 });
  const a2 = b.publish('a', { n: 2 });
  const x1 = b.publish('x', 'hi');
  assert.deepEqual([a1.offset, a2.offset, x1.offset], [1, 2, 1]);
  assert.equal(a1.epoch, a2.epoch);
  assert.notEqual(a1.epoch, x1.epoch, 'each stream draws its own epoch');
  assert.deepEqual(JSON.parse(a2.frame.toString()), { t: 'pub', ch: 'a', offset: 2, epoch: a1.epoch, data: { n: 2 } });
  assert.deepEqual(seen.map(([s, p]) => [s, p.offset]), [['a', 1], ['a', 2], ['x', 1]]);
  // Its own buffer: not a slice of Buffer's shared pool (Connection counts what a view holds).
  assert.equal(a1.frame.buffer.byteLength, a1.frame.byteLength);
});

test('history: what a position missed, the trivial cases, and recovered: false whenever it cannot prove nothing was lost', () => {
  const { b } = broker(3);
  const e = b.publish('c', 1).epoch;
  for (const n of [2, 3, 4, 5]) b.publish('c', n); // keeps 3, 4, 5
  assert.deepEqual(b.history('c', undefined), { top: { offset: 5, epoch: e }, recovered: true, publications: [] });
  const r3 = b.history('c', { offset: 3, epoch: e });
  assert.equal(r3.recovered, true);
  assert.deepEqual(offsets(r3.publications), [4, 5]);
  assert.deepEqual(offsets(b.history('c', { offset: 2, epoch: e }).publications), [3, 4, 5], 'exactly the oldest retained');
  assert.deepEqual(b.history('c', { offset: 5, epoch: e }), { top: { offset: 5, epoch: e }, recovered: true, publications: [] });
  for (const since of [{ offset: 1, epoch: e }, { offset: 0, epoch: e }, { offset: 3, epoch: 'other' }, { offset: 6, epoch: e }]) {
    const r = b.history('c', since);
    assert.equal(r.recovered, false, JSON.stringify(since));
    assert.deepEqual(r.publications, []);
    assert.deepEqual(r.top, { offset: 5, epoch: e });
  }
});

test('history by age: expired publications are gone, and a position before them is recovered: false', () => {
  const { b, advance } = broker(100, 1_000);
  const e = b.publish('d', 1).epoch;
  advance(600);
  b.publish('d', 2);
  advance(600); // 1 is now 1200 ms old, 2 is 600 ms old
  assert.equal(b.history('d', { offset: 0, epoch: e }).recovered, false);
  assert.deepEqual(offsets(b.history('d', { offset: 1, epoch: e }).publications), [2]);
  advance(600);
  // Nothing retained, but a client at the top missed nothing.
  assert.equal(b.history('d', { offset: 2, epoch: e }).recovered, true);
  assert.equal(b.history('d', { offset: 1, epoch: e }).recovered, false);
});

test('historySize 0 keeps nothing but still numbers publications; a long stream stays bounded', () => {
  const none = broker(0).b;
  const e = none.publish('z', 1).epoch;
  none.publish('z', 2);
  assert.equal(none.history('z', { offset: 1, epoch: e }).recovered, false);
  assert.equal(none.history('z', { offset: 2, epoch: e }).recovered, true);
  const { b } = broker(10);
  let last;
  for (let i = 0; i < 5_000; i++) last = b.publish('long', i);
  const r = b.history('long', { offset: 4_990, epoch: last!.epoch });
  assert.deepEqual(offsets(r.publications), [4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999, 5000]);
  assert.ok((b as unknown as { streams: Map<string, { pubs: unknown[] }> }).streams.get('long')!.pubs.length <= 10 + 1024);
});

test('an idempotency key: a retry within the window settles with the first position and publishes nothing; after it, a new publication', () => {
  const { b, seen, advance } = broker(10);
  const first = b.publish('a', { n: 1 }, { idempotencyKey: 'k1' });
  const again = b.publish('a', { n: 1 }, { idempotencyKey: 'k1' });
  assert.deepEqual([again.offset, again.epoch, again.repeated], [first.offset, first.epoch, true]);
  assert.equal(first.repeated, undefined);
  // Other keys, other streams and no key at all are publications of their own.
  assert.equal(b.publish('a', { n: 2 }, { idempotencyKey: 'k2' }).offset, 2);
  assert.equal(b.publish('b', { n: 1 }, { idempotencyKey: 'k1' }).offset, 1);
  assert.equal(b.publish('a', { n: 3 }).offset, 3);
  assert.deepEqual(seen.map(([s, p]) => `${s}:${p.offset}`), ['a:1', 'a:2', 'b:1', 'a:3'], 'the retry reached no listener');
  assert.deepEqual(offsets(b.history('a', { offset: 0, epoch: first.epoch }).publications), [1, 2, 3]);
  advance(IDEMPOTENCY_WINDOW_MS + 1);
  const late = b.publish('a', { n: 1 }, { idempotencyKey: 'k1' });
  assert.deepEqual([late.offset, late.repeated], [4, undefined], 'past the window the key is forgotten');
});

test('personal streams carry $user as their channel name', () => {
  assert.equal(frameChannel('$user:alice'), '$user');
  assert.equal(frameChannel('news'), 'news');
  const { b } = broker();
  assert.equal(JSON.parse(b.publish('$user:alice', 1).frame.toString()).ch, '$user');
});
