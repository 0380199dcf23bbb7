// The wss-mp.v1 conformance checks (docs/protocol.md), against any server URL. The server must
// implement the test convention of test/conformance/README.md: the request
// {"publish": {"ch", "data"}} publishes and answers {offset, epoch}; {"limits": true} answers
// {historySize}. Each check opens its own connections and channels (random names).
import assert from 'node:assert/strict';
import { WebSocket, type ClientOptions } from 'ws';
import { ProtoClient, type Frame } from './client';

export interface Target {
  url: string;
  /** TLS trust and headers (e.g. Authorization) for every connection. */
  ws?: ClientOptions;
}

export type Check = [name: string, run: (t: Target) => Promise<void>];

/** Thrown by a check that does not apply to the server under test (the runner skips it, naming why). */
export class NotApplicable extends Error {}

const open = (t: Target) => ProtoClient.open(t.url, t.ws);
const channel = () => `conf-${Math.random().toString(36).slice(2, 10)}`;

async function welcomed(t: Target): Promise<ProtoClient> {
  const c = await open(t);
  const w = await c.next(() => true, 10_000, 'welcome');
  assert.equal(w.t, 'welcome', `the first frame is welcome, got ${JSON.stringify(w)}`);
  return c;
}

async function publish(c: ProtoClient, ch: string, data: unknown): Promise<{ offset: number; epoch: string }> {
  const ack = await c.request({ publish: { ch, data } });
  assert.equal(ack.error, undefined, `publish request failed: ${JSON.stringify(ack.error)}`);
  return ack.data;
}

async function subscribe(c: ProtoClient, ch: string, pos?: { offset: number; epoch: string }): Promise<{ ack: Frame; pubs: Frame[] }> {
  const id = c.id('s');
  c.send(pos ? { t: 'sub', id, ch, pos } : { t: 'sub', id, ch });
  const pubs: Frame[] = [];
  for (;;) {
    const f = await c.next((x) => (x.t === 'pub' && x.ch === ch) || (x.t === 'ack' && x.id === id), 10_000, `sub ack ${id}`);
    if (f.t === 'ack') return { ack: f, pubs };
    pubs.push(f);
  }
}

export const CHECKS: Check[] = [
  ['welcome comes first, with v 1, cid, user and ping', async (t) => {
    const c = await open(t);
    assert.equal(c.ws.protocol, 'wss-mp.v1');
    const w = await c.next();
    assert.equal(w.t, 'welcome');
    assert.equal(w.v, 1);
    assert.equal(typeof w.cid, 'string');
    assert.ok(w.user === null || typeof w.user === 'string');
    assert.equal(typeof w.ping, 'number');
    await c.close();
  }],
  ['every req gets exactly one ack with its id; the default data round-trips', async (t) => {
    const c = await welcomed(t);
    const ids = [c.id(), c.id(), c.id()];
    for (const id of ids) c.send({ t: 'req', id, data: { n: id } });
    for (const id of ids) {
      const ack = await c.next((f) => f.t === 'ack' && f.id === id);
      assert.ok('data' in ack || 'error' in ack);
    }
    const tom = await c.request('tom');
    assert.equal(tom.data, 'tom');
    await c.close();
  }],
  ['a duplicate request id is acknowledged again without being processed again', async (t) => {
    const c = await welcomed(t);
    const ch = channel();
    const id = c.id('dup');
    const first = await c.request({ publish: { ch, data: 'once' } }, id);
    const again = await c.request({ publish: { ch, data: 'once' } }, id);
    assert.deepEqual(again.data, first.data, 'the stored answer');
    // Had it been processed twice, the stream would be at offset 2.
    const { ack } = await subscribe(c, ch);
    assert.equal(ack.data.offset, first.data.offset);
    await c.close();
  }],
  ['sub with a position replays the missed publications in order, then acks recovered: true', async (t) => {
    const pub = await welcomed(t);
    const ch = channel();
    const p1 = await publish(pub, ch, 1);
    for (const n of [2, 3, 4]) await publish(pub, ch, n);
    const c = await welcomed(t);
    const { ack, pubs } = await subscribe(c, ch, p1);
    assert.deepEqual(pubs.map((p) => [p.offset, p.data, p.epoch]), [[p1.offset + 1, 2, p1.epoch], [p1.offset + 2, 3, p1.epoch], [p1.offset + 3, 4, p1.epoch]]);
    assert.deepEqual(ack.data, { ch, offset: p1.offset + 3, epoch: p1.epoch, recovered: true });
    // Live publications follow the ack.
    await publish(pub, ch, 5);
    const live = await c.next((f) => f.t === 'pub' && f.ch === ch);
    assert.equal(live.offset, p1.offset + 4);
    assert.equal(live.data, 5);
    await Promise.all([pub.close(), c.close()]);
  }],
  ['sub without a position starts at the top, recovered: true, no replay', async (t) => {
    const c = await welcomed(t);
    const ch = channel();
    const p = await publish(c, ch, 'before');
    const { ack, pubs } = await subscribe(c, ch);
    assert.deepEqual(pubs, []);
    assert.deepEqual(ack.data, { ch, offset: p.offset, epoch: p.epoch, recovered: true });
    await c.close();
  }],
  ['another epoch: no replay and recovered: false with the current top', async (t) => {
    const c = await welcomed(t);
    const ch = channel();
    const p = await publish(c, ch, 1);
    const { ack, pubs } = await subscribe(c, ch, { offset: 0, epoch: `not-${p.epoch}` });
    assert.deepEqual(pubs, []);
    assert.deepEqual(ack.data, { ch, offset: p.offset, epoch: p.epoch, recovered: false });
    await c.close();
  }],
  ['an offset beyond the top: recovered: false', async (t) => {
    const c = await welcomed(t);
    const ch = channel();
    const p = await publish(c, ch, 1);
    const { ack, pubs } = await subscribe(c, ch, { offset: p.offset + 5, epoch: p.epoch });
    assert.deepEqual(pubs, []);
    assert.equal(ack.data.recovered, false);
    await c.close();
  }],
  ['trimmed history: recovered: false, never a silent gap', async (t) => {
    const c = await welcomed(t);
    const limits = (await c.request({ limits: true })).data as { historySize: number };
    assert.ok(Number.isInteger(limits.historySize), 'the server answers {"limits": true} with its historySize');
    assert.ok(limits.historySize <= 200, `historySize ${limits.historySize}: run the server with a small history for this check`);
    const ch = channel();
    const p = await publish(c, ch, 0);
    for (let i = 1; i <= limits.historySize + 1; i++) await publish(c, ch, i);
    const { ack, pubs } = await subscribe(c, ch, p);
    assert.deepEqual(pubs, [], 'no partial replay');
    assert.equal(ack.data.recovered, false);
    assert.equal(ack.data.offset, p.offset + limits.historySize + 1);
    await c.close();
  }],
  ['unsub is acknowledged and stops delivery', async (t) => {
    const c = await welcomed(t);
    const ch = channel();
    await subscribe(c, ch);
    const id = c.id('u');
    c.send({ t: 'unsub', id, ch });
    await c.next((f) => f.t === 'ack' && f.id === id);
    await publish(c, ch, 'after');
    const marker = await c.request('marker');
    assert.equal(marker.data, 'marker');
    assert.equal(c.frames.filter((f) => f.t === 'pub' && f.ch === ch).length, 0);
    await c.close();
  }],
  ['$ channels: anonymous $user and server-only channels are FORBIDDEN', async (t) => {
    const c = await welcomed(t);
    const w = c.frames[0]!;
    for (const ch of w.user === null ? ['$user', '$admin'] : ['$admin']) {
      const { ack } = await subscribe(c, ch);
      assert.equal(ack.error?.code, 'FORBIDDEN', `${ch}: ${JSON.stringify(ack)}`);
    }
    await c.close();
  }],
  ['junk gets BAD_FRAME and the connection stays open', async (t) => {
    const c = await welcomed(t);
    for (const junk of ['not json', '[1]', '{"t":"nope"}']) {
      c.send(junk);
      const e = await c.next((f) => f.t === 'error');
      assert.equal(e.code, 'BAD_FRAME', junk);
    }
    c.send({ t: 'sub', id: 'bad-sub' });
    const ack = await c.next((f) => f.t === 'ack' && f.id === 'bad-sub');
    assert.equal(ack.error?.code, 'BAD_FRAME');
    assert.equal((await c.request('still open')).data, 'still open');
    await c.close();
  }],
  ['a req over the rate limit is answered: error RATE_LIMITED with its id and retryAfter; not processed; resent, processed once', async (t) => {
    const c = await welcomed(t);
    const limits = (await c.request({ limits: true })).data as { rateLimit?: { messagesPerSecond: number; messagesBurst: number } | null };
    const rl = limits.rateLimit;
    if (!rl) throw new NotApplicable('the server has no message rate limit (the {"limits": true} answer has no rateLimit)');
    const ch = channel();
    // The burst, and more than what refills while the frames arrive: some must be refused.
    const n = rl.messagesBurst + Math.max(50, Math.ceil(rl.messagesPerSecond));
    const ids = Array.from({ length: n }, (_, i) => c.id(`rl${i}`));
    const data = (i: number) => ({ publish: { ch, data: i } });
    ids.forEach((id, i) => c.send({ t: 'req', id, data: data(i) }));
    const acked = new Set<string>();
    const pending = new Map<string, NodeJS.Timeout>();
    let refusals = 0;
    try {
      while (acked.size < n) {
        const f = await c.next((x) => (x.t === 'ack' || x.t === 'error') && ids.includes(x.id), 30_000, `answer to ${n - acked.size} more of ${n} requests`);
        if (f.t === 'ack') {
          assert.equal(f.error, undefined, JSON.stringify(f));
          acked.add(f.id);
          continue;
        }
        refusals++;
        assert.equal(f.code, 'RATE_LIMITED', JSON.stringify(f));
        assert.ok(Number.isFinite(f.retryAfter) && f.retryAfter >= 0, `retryAfter in ms: ${JSON.stringify(f)}`);
        const i = ids.indexOf(f.id);
        // Resent (same id) when the server said so.
        pending.set(f.id, setTimeout(() => c.send({ t: 'req', id: f.id, data: data(i) }), f.retryAfter));
      }
    } finally {
      for (const timer of pending.values()) clearTimeout(timer);
    }
    assert.ok(refusals > 0, `${n} requests at once were all processed: is the limit really ${rl.messagesBurst}?`);
    assert.equal(c.closed, undefined, 'a client that waits for retryAfter is not closed');
    // Each request published once: the channel's top is n (a refused one was not processed, its
    // resend was, and no duplicate was processed twice). The bucket is empty now: this sub may be
    // refused too, and is resent the same way.
    const id = c.id('s');
    for (;;) {
      c.send({ t: 'sub', id, ch });
      const f = await c.next((x) => (x.t === 'ack' || x.t === 'error') && x.id === id, 10_000, `sub ack ${id}`);
      if (f.t === 'ack') {
        assert.equal(f.data.offset, n);
        break;
      }
      assert.equal(f.code, 'RATE_LIMITED');
      // The wait the protocol asks for (not a synchronisation): resend after retryAfter.
      await new Promise((r) => setTimeout(r, f.retryAfter));
    }
    await c.close();
  }],
  ['plain clients (no subprotocol) are unaffected: no welcome, messages echoed', async (t) => {
    const ws = new WebSocket(t.url, t.ws);
    const got: string[] = [];
    ws.on('message', (d) => got.push(d.toString()));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    assert.equal(ws.protocol, '');
    ws.send('{"t":"req","id":"x","data":1}');
    const end = Date.now() + 10_000;
    while (got.length === 0 && Date.now() < end) await new Promise((r) => ws.once('message', r));
    assert.deepEqual(got, ['{"t":"req","id":"x","data":1}']);
    ws.close();
  }],
];
