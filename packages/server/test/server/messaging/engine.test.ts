// The engine with a scriptable broker: the timing edge cases an in-memory broker never shows
// (a history that resolves after live publications arrived, a history that fails). The e2e
// twins are the conformance suite (replay order) and test/server-messaging.e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Messaging } from '../../../src/server/messaging/engine';
import { resolveMessaging } from '../../../src/server/messaging/options';
import { textBuffer, type Broker, type HistoryResult, type Publication } from '../../../src/server/messaging/broker';
import type { Connection } from '../../../src/server/connection';

function fakeConn(id: number, user: string | null = null) {
  const sent: any[] = [];
  const c = {
    id, user, session: undefined as unknown, isOpen: true, endReason: undefined as string | undefined, closedWith: undefined as number | undefined,
    send: (s: string) => (sent.push(JSON.parse(s)), true),
    sendFrame: (b: Buffer) => (sent.push(JSON.parse(b.toString())), true),
    close(code: number) { this.closedWith = code; },
  };
  return { conn: c as unknown as Connection<any> & typeof c, sent };
}

class ScriptedBroker implements Broker {
  listener: (s: string, p: Publication) => void = () => {};
  pendingHistory: ((r: HistoryResult) => void)[] = [];
  failNext = false;
  onPublication(l: (s: string, p: Publication) => void) { this.listener = l; }
  subscribe() {}
  unsubscribe() {}
  publish(): Publication { throw new Error('not used'); }
  emit(stream: string, offset: number, epoch = 'E') {
    const frame = textBuffer(JSON.stringify({ t: 'pub', ch: stream, offset, epoch, data: offset }));
    this.listener(stream, { offset, epoch, frame });
  }
  history(): Promise<HistoryResult> {
    if (this.failNext) return Promise.reject(new Error('broker down'));
    return new Promise((resolve) => this.pendingHistory.push(resolve));
  }
}

function engine(broker: Broker, extra: object = {}) {
  const errors: string[] = [];
  const m = new Messaging({ messaging: resolveMessaging({ broker, ...extra }), singleSession: false, heartbeatInterval: 25_000,
    report: (e, _c, where) => errors.push(`${where}: ${(e as Error).message}`) });
  return { m, errors };
}

const frame = (o: object) => Buffer.from(JSON.stringify(o));

test('async history: live publications that arrive during recovery follow the ack, without duplicates or holes', async () => {
  const b = new ScriptedBroker();
  const { m } = engine(b);
  const { conn, sent } = fakeConn(1);
  m.opened(conn, true);
  assert.equal(sent[0].t, 'welcome');
  m.message(conn, frame({ t: 'sub', id: 's', ch: 'news', pos: { offset: 2, epoch: 'E' } }), false);
  // While the broker reads the history (top 4), 4 (already in it), 5 and 6 arrive live.
  b.emit('news', 4);
  b.emit('news', 5);
  b.emit('news', 6);
  assert.equal(sent.length, 1, 'nothing sent before the history is known');
  const pub = (offset: number) => ({ offset, epoch: 'E', frame: frame({ t: 'pub', ch: 'news', offset, epoch: 'E', data: offset }) });
  b.pendingHistory[0]!({ top: { offset: 4, epoch: 'E' }, recovered: true, publications: [pub(3), pub(4)] });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent.slice(1).map((f) => (f.t === 'ack' ? `ack:${f.data.offset}:${f.data.recovered}` : f.offset)), [3, 4, 'ack:4:true', 5, 6]);
  b.emit('news', 7);
  assert.equal(sent.at(-1).offset, 7, 'live after that');
});

test('a failing history answers UNAVAILABLE and leaves no subscription behind', async () => {
  const b = new ScriptedBroker();
  b.failNext = true;
  const { m, errors } = engine(b);
  const { conn, sent } = fakeConn(2);
  m.opened(conn, true);
  m.message(conn, frame({ t: 'sub', id: 's', ch: 'news' }), false);
  await new Promise((r) => setImmediate(r));
  assert.equal(sent.at(-1).error.code, 'UNAVAILABLE');
  assert.match(errors[0]!, /broker down/);
  b.emit('news', 1);
  assert.equal(sent.at(-1).t, 'ack', 'no delivery to a failed subscription');
  assert.equal(m.localPresence([], 'news').connections, 0);
});

test('closing mid-recovery drops the subscription; binary frames get BAD_FRAME; subscription limit holds', async () => {
  const b = new ScriptedBroker();
  const { m } = engine(b, { maxSubscriptions: 1 });
  const { conn, sent } = fakeConn(3);
  m.opened(conn, true);
  m.message(conn, Buffer.from([1, 2]), true);
  assert.equal(sent.at(-1).code, 'BAD_FRAME');
  m.message(conn, frame({ t: 'sub', id: 'a', ch: 'one' }), false);
  m.message(conn, frame({ t: 'sub', id: 'b', ch: 'two' }), false);
  assert.equal(sent.at(-1).error.code, 'TOO_MANY_SUBSCRIPTIONS');
  m.closed(conn);
  b.pendingHistory[0]!({ top: { offset: 0, epoch: 'E' }, recovered: true, publications: [] });
  await new Promise((r) => setImmediate(r));
  assert.equal(sent.at(-1).error.code, 'TOO_MANY_SUBSCRIPTIONS', 'no ack to a closed connection');
  assert.equal(m.localPresence([], 'one').connections, 0);
});

test('singleSession closes every older connection of the user with 4009, not other users', () => {
  const m = new Messaging({ messaging: undefined, singleSession: true, heartbeatInterval: 0, report: () => {} });
  const a = fakeConn(1, 'alice').conn;
  const b = fakeConn(2, 'bob').conn;
  const a2 = fakeConn(3, 'alice').conn;
  m.opened(a, false);
  m.opened(b, false);
  m.opened(a2, false);
  assert.equal(a.closedWith, 4009);
  assert.equal(b.closedWith, undefined);
  assert.equal(a2.closedWith, undefined);
});

test('a request read after our close frame went out (a drain) is not run: its ack could not arrive, and the resend would run it twice', () => {
  let runs = 0;
  const { m } = engine(new ScriptedBroker(), { onRequest: (_c: unknown, d: unknown) => (runs++, d) });
  const { conn, sent } = fakeConn(4);
  m.opened(conn, true);
  m.message(conn, frame({ t: 'req', id: 'r1', data: 'tom' }), false);
  assert.deepEqual([runs, sent.at(-1)], [1, { t: 'ack', id: 'r1', data: 'tom' }]);
  conn.isOpen = false; // close(1001) sent: the socket is CLOSING
  m.message(conn, frame({ t: 'req', id: 'r2', data: 'late' }), false);
  assert.equal(runs, 1, 'the handler did not run');
  assert.equal(sent.at(-1).id, 'r1', 'nothing was answered');
});

test('onRequest gets the request id: the idempotency key an app stores its effect under', () => {
  const ids: string[] = [];
  const { m } = engine(new ScriptedBroker(), { onRequest: (_c: unknown, d: unknown, r: { id: string }) => (ids.push(r.id), d) });
  const { conn } = fakeConn(5);
  m.opened(conn, true);
  m.message(conn, frame({ t: 'req', id: 'k2f9-7', data: 1 }), false);
  assert.deepEqual(ids, ['k2f9-7']);
});

test('drain: requests in flight hold their connections (the duplicate\'s too); new ones are UNAVAILABLE, stored answers still served', async () => {
  const gates: ((v: unknown) => void)[] = [];
  const { m } = engine(new ScriptedBroker(), { onRequest: (_c: unknown, d: unknown) => (d === 'slow' ? new Promise((r) => gates.push(r)) : d) });
  const a = fakeConn(10, 'u');
  const b = fakeConn(11, 'u');
  const c = fakeConn(12, 'u');
  for (const x of [a, b, c]) m.opened(x.conn, true);
  m.message(a.conn, frame({ t: 'req', id: 'done', data: 'fast' }), false);
  m.message(a.conn, frame({ t: 'req', id: 'r1', data: 'slow' }), false);
  m.message(b.conn, frame({ t: 'req', id: 'r1', data: 'slow' }), false); // waits for a's run
  m.startDrain();
  const idle: string[] = [];
  assert.equal(m.whenIdle(c.conn, () => idle.push('c')), false, 'nothing in flight: close now');
  assert.equal(m.whenIdle(a.conn, () => idle.push('a')), true);
  assert.equal(m.whenIdle(b.conn, () => idle.push('b')), true);
  m.message(a.conn, frame({ t: 'req', id: 'r2', data: 'x' }), false);
  assert.deepEqual(a.sent.at(-1), { t: 'ack', id: 'r2', error: { code: 'UNAVAILABLE', message: 'server shutting down; resend after reconnecting' } });
  m.message(c.conn, frame({ t: 'req', id: 'done', data: 'fast' }), false);
  assert.deepEqual(c.sent.at(-1), { t: 'ack', id: 'done', data: 'fast' }, 'a stored answer is not a new run');
  assert.equal(gates.length, 1, 'ran once');
  gates[0]!('ok');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(idle, ['a', 'b'], 'each told once its ack went out');
  assert.deepEqual(a.sent.at(-1), { t: 'ack', id: 'r1', data: 'ok' });
  assert.deepEqual(b.sent.at(-1), { t: 'ack', id: 'r1', data: 'ok' });
});

test('replyAck is byte for byte JSON.stringify({ t: "ack", id, data }), throws included', async () => {
  const { replyAck } = await import('../../../src/server/messaging/requests');
  const values: unknown[] = ['tom', '', 'q"uo\\te\n\u2028\ud800', 0, -1.5, null, true, [1, { a: undefined }], { nested: { x: [null] } },
    undefined, () => 1, Symbol('s'), new Date(0), { toJSON: () => 'via toJSON' }];
  for (const id of ['r1', 'quote"and\\slash', '\u0000ctl']) {
    for (const v of values) assert.equal(replyAck(id, v), JSON.stringify({ t: 'ack', id, data: v }), `${id} ${String(v)}`);
  }
  // An id the frame scanner read (plain ASCII, no quote or backslash) skips its JSON encoding: same text.
  for (const id of ['r1', '12.0000000001', ' !#$%&\'()*+,-./:;<=>?@[]^_`{|}~']) {
    for (const v of values) assert.equal(replyAck(id, v, true), JSON.stringify({ t: 'ack', id, data: v }), `${id} ${String(v)}`);
  }
  assert.throws(() => replyAck('x', 1n), TypeError);
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.throws(() => replyAck('x', cycle), TypeError);
});

test('one id, two spellings: the canonical frame and any other form of it are the same idempotency key', () => {
  let runs = 0;
  const { m } = engine(new ScriptedBroker(), { onRequest: (_c: unknown, d: unknown) => (runs++, { echo: d }) });
  const { conn, sent } = fakeConn(20);
  m.opened(conn, true);
  m.message(conn, Buffer.from('{"t":"req","id":"k-1","data":"tom"}'), false); // the scanner's path
  m.message(conn, Buffer.from('{"data":"tom","id":"k-1","t":"req"}'), false); // the general parser's
  m.message(conn, Buffer.from('{"t":"req","id":"k-\\u0032","data":"x"}'), false); // k-2, escaped: general parser
  m.message(conn, Buffer.from('{"t":"req","id":"k-2","data":"x"}'), false); // k-2 canonical: a duplicate
  assert.equal(runs, 2);
  assert.deepEqual(sent.slice(1), [
    { t: 'ack', id: 'k-1', data: { echo: 'tom' } },
    { t: 'ack', id: 'k-1', data: { echo: 'tom' } },
    { t: 'ack', id: 'k-2', data: { echo: 'x' } },
    { t: 'ack', id: 'k-2', data: { echo: 'x' } },
  ]);
});

test('idempotency scopes: an anonymous id that spells a user key is not that user\'s, and users do not share ids', () => {
  const seen: string[] = [];
  const { m } = engine(new ScriptedBroker(), { onRequest: (c: Connection<any>, d: unknown) => (seen.push(`${c.user}:${d}`), d) });
  const anon = fakeConn(21);
  const alice = fakeConn(22, 'alice');
  const bob = fakeConn(23, 'bob');
  for (const x of [anon, alice, bob]) m.opened(x.conn, true);
  const req = (c: typeof anon, id: string, data: string) => m.message(c.conn, frame({ t: 'req', id, data }), false);
  req(alice, 'r', 'alice-r'); // key "alice\nr"
  req(anon, 'alice\nr', 'anon-1'); // an anonymous id with a line feed
  req(anon, '\nalice\nr', 'anon-2');
  req(bob, 'r', 'bob-r');
  req(anon, 'r', 'anon-r');
  req(alice, 'r', 'alice-again'); // a duplicate: answered from memory
  assert.deepEqual(seen, ['alice:alice-r', 'null:anon-1', 'null:anon-2', 'bob:bob-r', 'null:anon-r']);
  assert.deepEqual(alice.sent.at(-1), { t: 'ack', id: 'r', data: 'alice-r' });
});

test('a synchronous handler that starts the drain: its own ack goes out before the connection counts as idle', () => {
  const order: string[] = [];
  let idle = true;
  const { m } = engine(new ScriptedBroker(), {
    onRequest: (c: Connection<any>, d: unknown) => {
      m.startDrain();
      idle = !m.whenIdle(c, () => order.push('idle'));
      return d;
    },
  });
  const { conn, sent } = fakeConn(24);
  m.opened(conn, true);
  const send = conn.send;
  conn.send = (s: string) => (order.push('ack'), send(s));
  m.message(conn, frame({ t: 'req', id: 'last', data: 1 }), false);
  assert.equal(idle, false, 'the request in progress held the connection');
  assert.deepEqual(order, ['ack', 'idle']);
  assert.deepEqual(sent.at(-1), { t: 'ack', id: 'last', data: 1 });
});
