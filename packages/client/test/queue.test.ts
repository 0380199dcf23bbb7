import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createQueue } from '../src/queue';

test('bounded FIFO, drop-oldest', () => {
  let drops = 0;
  const q = createQueue(3, 'drop-oldest', () => drops++);
  for (const m of ['a', 'b', 'c', 'd', 'e']) assert.equal(q.push(m), 'queued');
  assert.deepEqual(q.items, ['c', 'd', 'e']);
  assert.equal(drops, 2);
});

test('bounded FIFO, reject', () => {
  let drops = 0;
  const q = createQueue(2, 'reject', () => drops++);
  assert.deepEqual(['a', 'b', 'c'].map((m) => q.push(m)), ['queued', 'queued', 'dropped']);
  assert.deepEqual(q.items, ['a', 'b']);
  assert.equal(drops, 1);
});

test('size 0 queues nothing under either policy', () => {
  for (const policy of ['drop-oldest', 'reject'] as const) {
    let drops = 0;
    const q = createQueue(0, policy, () => drops++);
    assert.equal(q.push('a'), 'dropped');
    assert.deepEqual(q.items, []);
    assert.equal(drops, 1);
  }
});
