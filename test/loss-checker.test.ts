// The loss matrix's checker must catch every way delivery can go wrong, or a green matrix means
// nothing: fed journals and app traces with one defect each, it must fail them, and only them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check, parseJournal, type AppEvent, type Journal } from './loss/checker';

const pubs = (epoch: string, from: number, to: number, seq0 = from) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ epoch, offset: from + i, seq: seq0 + i }));
const seen = (p: { epoch: string; offset: number; seq: number }[]): AppEvent[] => p.map((x) => ({ t: 'pub', ...x }));
const start: AppEvent = { t: 'start', position: { offset: 0, epoch: 'a' } };
const ok = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

function journal(p: Journal['pubs'], n = 3): Journal {
  return { pubs: p, calls: ok(n), effects: ok(n) };
}

test('a clean run passes', () => {
  const v = check(journal(pubs('a', 1, 5)), { events: [start, ...seen(pubs('a', 1, 5))], answers: ok(3), requests: 3, restarts: false });
  assert.equal(v.pass, true, v.problems.join('\n'));
  assert.equal(v.published, 5);
  assert.equal(v.delivered, 5);
});

test('a silent gap, a duplicate, a reordering, wrong data: each fails', () => {
  const base = { answers: ok(3), requests: 3, restarts: false };
  const j = journal(pubs('a', 1, 5));
  const gap = check(j, { ...base, events: [start, ...seen([...pubs('a', 1, 2), ...pubs('a', 4, 5)])] });
  assert.equal(gap.pass, false);
  assert.equal(gap.silentLoss, 1);
  const dup = check(j, { ...base, events: [start, ...seen([...pubs('a', 1, 3), ...pubs('a', 3, 5)])] });
  assert.deepEqual([dup.pass, dup.duplicates], [false, 1]);
  const order = check(j, { ...base, events: [start, ...seen([...pubs('a', 1, 1), ...pubs('a', 3, 3), ...pubs('a', 2, 2), ...pubs('a', 4, 5)])] });
  assert.deepEqual([order.pass, order.outOfOrder > 0], [false, true]);
  const wrong = check(j, { ...base, events: [start, ...seen([...pubs('a', 1, 4), { epoch: 'a', offset: 5, seq: 99 }])] });
  assert.deepEqual([wrong.pass, wrong.wrongData], [false, 1]);
  // Lost at the tail: published (journaled) but never delivered.
  const tail = check(j, { ...base, events: [start, ...seen(pubs('a', 1, 4))] });
  assert.deepEqual([tail.pass, tail.silentLoss], [false, 1]);
});

test('a crash: the gap a resync announces is allowed, only across a restart, only between the right positions', () => {
  const j = journal([...pubs('a', 1, 6), ...pubs('b', 1, 4, 7)]);
  const resync: AppEvent = { t: 'resync', previous: { offset: 3, epoch: 'a' }, position: { offset: 2, epoch: 'b' } };
  const events = [start, ...seen(pubs('a', 1, 3)), resync, ...seen(pubs('b', 3, 4, 9))];
  const v = check(j, { events, answers: ok(3), requests: 3, restarts: true });
  assert.equal(v.pass, true, v.problems.join('\n'));
  assert.equal(v.announced, 5, 'a:4-6 and b:1-2');
  // The same trace on a server that never restarted: a resync there is a failure.
  assert.equal(check(j, { events, answers: ok(3), requests: 3, restarts: false }).pass, false);
  // A resync that does not start where the app was hides what lies between.
  const skewed: AppEvent = { ...resync, previous: { offset: 1, epoch: 'a' } };
  assert.equal(check(j, { events: [start, ...seen(pubs('a', 1, 3)), skewed, ...seen(pubs('b', 3, 4, 9))], answers: ok(3), requests: 3, restarts: true }).pass, false);
  // A resync inside one epoch (the server still had the history) is not an excuse.
  const same = journal(pubs('a', 1, 6));
  const inEpoch: AppEvent = { t: 'resync', previous: { offset: 3, epoch: 'a' }, position: { offset: 5, epoch: 'a' } };
  assert.equal(check(same, { events: [start, ...seen(pubs('a', 1, 3)), inEpoch, ...seen(pubs('a', 6, 6))], answers: ok(3), requests: 3, restarts: true }).pass, false);
  // After the resync, a gap in the new epoch is silent loss again.
  const v2 = check(j, { events: [start, ...seen(pubs('a', 1, 3)), resync, ...seen(pubs('b', 4, 4, 10))], answers: ok(3), requests: 3, restarts: true });
  assert.deepEqual([v2.pass, v2.silentLoss], [false, 1]);
});

test('two nodes + Redis (historyKept): a resync fails even across a node restart, and the same trace passes without it', () => {
  const j = journal([...pubs('a', 1, 6), ...pubs('b', 1, 4, 7)]);
  const resync: AppEvent = { t: 'resync', previous: { offset: 3, epoch: 'a' }, position: { offset: 2, epoch: 'b' } };
  const events = [start, ...seen(pubs('a', 1, 3)), resync, ...seen(pubs('b', 3, 4, 9))];
  const kept = check(j, { events, answers: ok(3), requests: 3, restarts: true, historyKept: true });
  assert.deepEqual([kept.pass, kept.resyncs], [false, 1]);
  assert.ok(kept.problems.some((p) => /resyncs on a server that kept its history/.test(p)), kept.problems.join('\n'));
  const clean = journal(pubs('a', 1, 6));
  assert.equal(check(clean, { events: [start, ...seen(pubs('a', 1, 6))], answers: ok(3), requests: 3, restarts: true, historyKept: true }).pass, true);
});

test('requests: processed twice, never, answered twice or not at all, re-run on a live server: each fails', () => {
  const p = pubs('a', 1, 2);
  const events = [start, ...seen(p)];
  const run = (j: Partial<Journal>, answers: number[], crash = false) =>
    check({ ...journal(p), ...j }, { events, answers, requests: 3, restarts: crash, crash });
  assert.deepEqual([run({ effects: [1, 2, 3, 2] }, ok(3)).pass, run({ effects: [1, 2, 3, 2] }, ok(3)).processedTwice], [false, 1]);
  assert.deepEqual([run({ effects: [1, 3] }, ok(3)).pass, run({ effects: [1, 3] }, ok(3)).neverProcessed], [false, 1]);
  assert.equal(run({}, [1, 2, 3, 3]).pass, false);
  assert.equal(run({}, [1, 2]).pass, false);
  // A handler re-run with a single effect: fine across a crash (reported), a failure otherwise,
  // a drain included (a restart that is not a crash).
  assert.equal(run({ calls: [1, 2, 2, 3] }, ok(3), true).pass, true);
  assert.equal(run({ calls: [1, 2, 2, 3] }, ok(3), true).reruns, 1);
  assert.equal(run({ calls: [1, 2, 2, 3] }, ok(3), false).pass, false);
  assert.equal(check({ ...journal(p), calls: [1, 2, 2, 3] }, { events, answers: ok(3), requests: 3, restarts: true }).pass, false);
});

test('journals parse from the fixture\'s files', () => {
  assert.deepEqual(parseJournal('q1 1 7\nq1 2 8\n', '1\n1\n', '1\n'), {
    pubs: [{ epoch: 'q1', offset: 1, seq: 7 }, { epoch: 'q1', offset: 2, seq: 8 }],
    calls: [1, 1],
    effects: [1],
  });
});
