// Presence arithmetic: connections of this process (presenceOf), and the --workers primary
// (IpcRelay) summing its workers overall and per channel, forgetting a worker the moment it exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpcRelay, type RelayWorker } from '../../../src/server/messaging/ipc-relay';
import type { IpcMessage } from '../../../src/server/messaging/ipc-broker';
import { presenceOf } from '../../../src/server/messaging/presence';

test('presenceOf: users once each with their connection counts; anonymous connections counted', () => {
  const p = presenceOf([{ user: 'a' }, { user: 'b' }, { user: 'a' }, { user: null }, { user: '__proto__' }]);
  assert.deepEqual(p.users, ['a', 'b', '__proto__']);
  assert.equal(p.connections, 5);
  assert.deepEqual(Object.entries(p.userConnections), [['a', 2], ['b', 1], ['__proto__', 1]], 'a user named __proto__ is a plain key');
  assert.match(JSON.stringify(p.userConnections), /"__proto__":1/, 'and survives JSON');
});

/** A worker as the relay sees it: what the relay sends it lands in `got`. */
function worker(): RelayWorker & { got: IpcMessage[] } {
  const got: IpcMessage[] = [];
  return { got, send: (m: IpcMessage) => got.push(m) };
}

function ask(relay: IpcRelay, w: ReturnType<typeof worker>, channel?: string) {
  const id = w.got.length + 1000;
  assert.equal(relay.handle(w, { wssmp: 'pres', id, channel }), true);
  const r = w.got.find((m) => m.wssmp === 'reply' && m.id === id);
  assert.ok(r && r.wssmp === 'reply' && r.ok);
  return r.value as { users: string[]; connections: number; userConnections: Record<string, number> };
}

test('IpcRelay: presence summed over workers, overall and per channel; a worker that exits is dropped at once', () => {
  const relay = new IpcRelay({ historySize: 10, historyTtl: 60_000 });
  const w1 = worker();
  const w2 = worker();
  relay.add(w1);
  relay.add(w2);
  const send = (w: RelayWorker, m: IpcMessage) => assert.equal(relay.handle(w, m), true);
  // alice on both workers, bob on w2, one anonymous connection on w1.
  for (const [w, user] of [[w1, 'alice'], [w1, null], [w2, 'alice'], [w2, 'bob']] as const) {
    send(w, { wssmp: 'conn', user, delta: 1 });
    send(w, { wssmp: 'member', stream: 'room', user, delta: 1 });
  }
  send(w2, { wssmp: 'member', stream: 'other', user: 'bob', delta: 1 });

  for (const w of [w1, w2]) {
    const all = ask(relay, w);
    assert.deepEqual(all.users.sort(), ['alice', 'bob']);
    assert.equal(all.connections, 4);
    assert.deepEqual(all.userConnections, { alice: 2, bob: 1 });
    assert.deepEqual(ask(relay, w, 'room'), { users: ['alice', 'bob'], connections: 4, userConnections: { alice: 2, bob: 1 } });
    assert.deepEqual(ask(relay, w, 'other'), { users: ['bob'], connections: 1, userConnections: { bob: 1 } });
    assert.deepEqual(ask(relay, w, 'nobody'), { users: [], connections: 0, userConnections: {} });
  }

  // bob leaves room (still connected): the channel updates, overall does not.
  send(w2, { wssmp: 'member', stream: 'room', user: 'bob', delta: -1 });
  assert.deepEqual(ask(relay, w1, 'room').userConnections, { alice: 2 });
  assert.equal(ask(relay, w1).connections, 4);

  // w2 dies: its alice, bob and their memberships go with it.
  relay.remove(w2);
  assert.deepEqual(ask(relay, w1), { users: ['alice'], connections: 2, userConnections: { alice: 1 } });
  assert.deepEqual(ask(relay, w1, 'room'), { users: ['alice'], connections: 2, userConnections: { alice: 1 } });
  assert.deepEqual(ask(relay, w1, 'other'), { users: [], connections: 0, userConnections: {} });
});
