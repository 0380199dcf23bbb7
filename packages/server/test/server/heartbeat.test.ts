// heartbeat: the sweep, driven by fake timers (what is tested is the schedule and the
// alive flag's state machine; the e2e twin is test/server-limits.e2e.test.ts).
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { startHeartbeat, sweep, type Beating } from '../../src/server/heartbeat';

function fakeConn(name: string, events: string[]): Beating {
  return {
    alive: true,
    terminate: (reason) => events.push(`${name} terminated: ${reason}`),
    ping: () => events.push(`${name} ping`),
  };
}

test('sweep pings live connections and clears their flag; one silent interval later they are terminated', () => {
  const events: string[] = [];
  const a = fakeConn('a', events);
  const b = fakeConn('b', events);
  sweep([a, b]);
  assert.deepEqual(events, ['a ping', 'b ping']);
  assert.equal(a.alive, false);
  b.alive = true; // b answered (any inbound frame sets this)
  events.length = 0;
  sweep([a, b]);
  assert.deepEqual(events, ['a terminated: heartbeat timeout: no pong', 'b ping']);
});

test('sweep survives a ping on a closing socket', () => {
  const events: string[] = [];
  const broken: Beating = { alive: true, terminate: () => {}, ping: () => { throw new Error('closing'); } };
  sweep([broken, fakeConn('ok', events)]);
  assert.deepEqual(events, ['ok ping']);
});

test('startHeartbeat sweeps every interval until stopped; 0 never sweeps', (t) => {
  mock.timers.enable({ apis: ['setInterval'] });
  t.after(() => mock.timers.reset());
  const events: string[] = [];
  const conns = new Set([fakeConn('a', events)]);
  const stop = startHeartbeat(conns, 25_000);
  mock.timers.tick(24_999);
  assert.deepEqual(events, []);
  mock.timers.tick(1);
  assert.deepEqual(events, ['a ping']);
  mock.timers.tick(25_000);
  assert.deepEqual(events, ['a ping', 'a terminated: heartbeat timeout: no pong']);
  stop();
  mock.timers.tick(100_000);
  assert.equal(events.length, 2);

  const off = startHeartbeat(new Set([fakeConn('b', events)]), 0);
  mock.timers.tick(1e9);
  off();
  assert.equal(events.length, 2);
});
