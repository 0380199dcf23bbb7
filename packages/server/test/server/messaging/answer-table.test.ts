import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnswerTable, hashKey } from '../../../src/server/messaging/answer-table';

test('stores and finds answers across growth; a miss is undefined; clear forgets all and the table is reused', () => {
  const t = new AnswerTable();
  for (let i = 0; i < 20_000; i++) t.set(`id-${i}`, hashKey(`id-${i}`), `ack-${i}`);
  assert.equal(t.size, 20_000);
  for (let i = 0; i < 20_000; i++) assert.equal(t.get(`id-${i}`, hashKey(`id-${i}`)), `ack-${i}`);
  assert.equal(t.get('id-20000', hashKey('id-20000')), undefined);
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.get('id-1', hashKey('id-1')), undefined);
  t.set('again', hashKey('again'), 'A');
  assert.equal(t.get('again', hashKey('again')), 'A');
  assert.equal(t.get('id-1', hashKey('id-1')), undefined, 'nothing of the last generation is left');
});

test('keys of one hash (a client choosing colliding ids) overflow after a bounded probe, and every answer stays right', () => {
  const t = new AnswerTable();
  const h = 12345;
  // Same hash for all: the first keys fill one probe run, the rest go to the overflow Map.
  for (let i = 0; i < 5_000; i++) t.set(`c${i}`, h, `a${i}`);
  // Others with their own hashes still land in the table, through growth too.
  for (let i = 0; i < 5_000; i++) t.set(`n${i}`, hashKey(`n${i}`), `b${i}`);
  assert.equal(t.size, 10_000);
  for (let i = 0; i < 5_000; i++) {
    assert.equal(t.get(`c${i}`, h), `a${i}`);
    assert.equal(t.get(`n${i}`, hashKey(`n${i}`)), `b${i}`);
  }
  assert.equal(t.get('c5000', h), undefined);
  t.clear();
  assert.equal(t.get('c1', h), undefined, 'the overflow is cleared with the table');
  assert.equal(t.size, 0);
});

test('hashKey: 32-bit, spread over the low bits (which pick the slot) for ids that differ in one digit', () => {
  const slots = new Set<number>();
  for (let i = 0; i < 1_000; i++) {
    const h = hashKey(`12.${String(i).padStart(10, '0')}`);
    assert.equal(h, h | 0);
    slots.add(h & 1023);
  }
  // 1,000 keys into 1,024 slots at random fill about 632 distinct ones.
  assert.ok(slots.size > 550, `${slots.size} distinct slots`);
});
