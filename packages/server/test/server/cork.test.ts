// The per-turn flush list (src/cork.ts) with scriptable sockets: the edge cases a real socket
// cannot be made to produce on demand. Real sockets: coalesce.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corkForTurn, corkedCount, type TurnCorked } from '../../src/server/cork';

/** A socket that records cork/uncork/destroy calls in one shared log; uncork may throw. */
function fake(name: string, log: string[], opts: { throwOnUncork?: boolean; onUncork?: () => void } = {}): TurnCorked {
  return {
    inTurn: false,
    raw: {
      cork: () => log.push(`cork ${name}`),
      uncork: () => {
        log.push(`uncork ${name}`);
        if (opts.throwOnUncork) throw new Error(`${name} broke`);
        opts.onUncork?.();
      },
      destroy: (err) => log.push(`destroy ${name}: ${err?.message}`),
    },
    endTurn: () => {},
  };
}

const endOfTurn = () => new Promise((r) => setImmediate(r));

test('each socket is corked once per turn and uncorked at its end, in the order corked', async () => {
  const log: string[] = [];
  const a = fake('a', log);
  const b = fake('b', log);
  corkForTurn(b);
  corkForTurn(a);
  corkForTurn(b);
  corkForTurn(a);
  assert.deepEqual(log, ['cork b', 'cork a']);
  assert.equal(corkedCount(), 2);
  assert.equal(a.inTurn && b.inTurn, true);
  await endOfTurn();
  assert.deepEqual(log, ['cork b', 'cork a', 'uncork b', 'uncork a']);
  assert.equal(corkedCount(), 0);
  assert.equal(a.inTurn || b.inTurn, false);
  // The next turn corks again.
  corkForTurn(a);
  await endOfTurn();
  assert.deepEqual(log.slice(4), ['cork a', 'uncork a']);
});

test('a socket whose uncork throws is destroyed; the others are still flushed; nothing is thrown', async () => {
  const log: string[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  try {
    corkForTurn(fake('a', log));
    corkForTurn(fake('bad', log, { throwOnUncork: true }));
    corkForTurn(fake('c', log));
    await endOfTurn();
    await endOfTurn();
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  assert.deepEqual(log, ['cork a', 'cork bad', 'cork c', 'uncork a', 'uncork bad', 'destroy bad: bad broke', 'uncork c']);
  assert.deepEqual(uncaught, []);
  assert.equal(corkedCount(), 0);
});

test('a send caused by an uncork (re-cork during the flush) is flushed in the same pass', async () => {
  const log: string[] = [];
  const b = fake('b', log);
  const a = fake('a', log, { onUncork: () => corkForTurn(b) });
  corkForTurn(a);
  await endOfTurn();
  assert.deepEqual(log, ['cork a', 'uncork a', 'cork b', 'uncork b']);
  assert.equal(b.inTurn, false);
  assert.equal(corkedCount(), 0);
});
