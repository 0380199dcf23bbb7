// The scenario checklist of docs/client-scenarios.md#checklist, one test each (S0…S12, S10b, S10c), on the
// scriptable fake wx with an injected clock and randomness. Every one has an end-to-end twin in
// test/client-scenarios.e2e.test.ts (real miniprogram_dist, real sockets).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createClient, SocketError } from '../src/index';
import { FakeClock, fixedRandom } from './fake-clock';
import { ERR_LIMIT, ERR_SUSPEND, FakeWx } from './fake-wx';
import { errorCodes, opened, record, setup, URL } from './helpers';
import { loadInWechatSandbox } from './sandbox';

describe('checklist', () => {
  test('S0 loads in a WeChat module: no DOM/Node globals, no global writes, no timers or randomness at import', async () => {
    const box = await loadInWechatSandbox();
    const intrinsics = ['Object', 'Math', 'Date', 'Error', 'undefined', 'Infinity'];
    assert.deepEqual(box.importReads.filter((n) => !intrinsics.includes(n)), [], 'globals read at import');
    assert.deepEqual(box.globalWrites(), [], 'global object written');
    assert.equal(box.timersAtImport, 0, 'timers at import');
    assert.equal(box.randomAtImport, 0, 'Math.random at import');
    // It works in there too, and still reads nothing it must not.
    const clock = new FakeClock();
    const wx = new FakeWx(clock);
    const client = box.exports.createClient({ url: URL, platform: wx, clock });
    const got: unknown[] = [];
    client.on('message', (e: { data: unknown }) => got.push(e.data));
    client.send('tom');
    client.send(new Uint8Array([1, 2, 3]));
    await clock.until(() => got.length === 2);
    assert.equal(got[0], 'tom');
    assert.deepEqual([...new Uint8Array(got[1] as ArrayBuffer)], [1, 2, 3]);
    const forbidden = ['Event', 'EventTarget', 'Blob', 'process', 'URL', 'TextEncoder', 'window', 'self', 'document', 'WebSocket', 'Buffer', 'global'];
    assert.deepEqual(box.allReads().filter((n) => forbidden.includes(n)), []);
    assert.deepEqual(box.globalWrites(), []);
  });

  test('S1 no WebSocket constructor needed; a missing host API is one typed error at construction', async () => {
    assert.equal(typeof (globalThis as { wx?: unknown }).wx, 'undefined');
    assert.throws(() => createClient({ url: URL }), (e: SocketError) => e instanceof SocketError && e.code === 'ERR_PLATFORM');
    assert.throws(() => createClient({ url: URL, platform: {} as never }), (e: SocketError) => e.code === 'ERR_PLATFORM');
    const { clock, wx, client } = setup();
    await clock.until(() => client.state === 'open');
    assert.equal(wx.connectCalls, 1);
  });

  test('S2 connect, send before open, receive: queued sends flushed in order, open and message fire', async () => {
    const { clock, wx, client, ev } = setup();
    assert.equal(client.send('a'), 'queued');
    assert.equal(client.send('b'), 'queued');
    assert.equal(client.stats.queued, 2);
    await clock.until(() => ev.message.length === 2);
    assert.deepEqual(wx.current!.received, ['a', 'b']);
    assert.deepEqual(ev.message.map((m) => m.data), ['a', 'b']);
    assert.equal(ev.open.length, 1);
    assert.deepEqual(ev.open[0], { header: { 'x-task': String(wx.current!.id) }, reconnected: false });
    assert.equal(client.send('c'), 'sent');
    assert.deepEqual(ev.all.slice(0, 3), ['state:connecting', 'state:open', 'open']);
  });

  test('S3 server drops (1006), sends while down go out in order on the next socket', async () => {
    const { clock, wx, client, ev } = await opened();
    const first = wx.current!;
    first.drop();
    assert.deepEqual(ev.close, [{ code: 1006, reason: 'abnormal closure', willReconnect: true }]);
    assert.equal(client.state, 'waiting');
    assert.deepEqual(errorCodes(ev), ['ERR_SOCKET']);
    assert.equal(client.send('x'), 'queued');
    assert.equal(client.send('y'), 'queued');
    await clock.until(() => client.state === 'open');
    assert.notEqual(wx.current, first);
    assert.deepEqual(wx.current!.received, ['x', 'y']);
    assert.equal(ev.reconnecting.length, 1);
    assert.equal(ev.open[1]!.reconnected, true);
    assert.equal(client.stats.reconnects, 1);
  });

  test('S4 terminal close code (4001) stops the loop; the policy is shouldReconnect(code, reason)', async () => {
    const { clock, wx, client, ev } = await opened();
    wx.current!.serverClose(4001, 'bad token');
    await clock.advance(120_000);
    assert.equal(wx.connectCalls, 1);
    assert.equal(client.state, 'closed');
    assert.deepEqual(ev.close, [{ code: 4001, reason: 'bad token', willReconnect: false }]);
    // A custom policy decides: here 4001 is retried, 4999 is not.
    const calls: [number, string][] = [];
    const s2 = await opened({ shouldReconnect: (code, reason) => (calls.push([code, reason]), code !== 4999) });
    s2.wx.current!.serverClose(4001, 'refresh');
    await s2.clock.until(() => s2.wx.connectCalls === 2 && s2.client.state === 'open');
    s2.wx.current!.serverClose(4999, 'go away');
    await s2.clock.advance(120_000);
    assert.equal(s2.wx.connectCalls, 2);
    assert.deepEqual(calls, [[4001, 'refresh'], [4999, 'go away']]);
  });

  test('S5 black-holed connect: the CONNECTING task is closed on timeout, retried, never two live tasks', async () => {
    const { clock, wx, client, ev } = setup({ connectTimeout: 3000 }, (w) => (w.fallback = 'blackhole'));
    await clock.advance(60_000);
    assert.ok(wx.connectCalls >= 5, `attempts: ${wx.connectCalls}`);
    assert.equal(wx.maxLive, 1);
    assert.deepEqual(wx.failedConnects, []);
    for (const t of wx.tasks.slice(0, -1)) assert.deepEqual(t.closeArgs, { code: 4501, reason: '' });
    assert.ok(errorCodes(ev).every((c) => c === 'ERR_CONNECT_TIMEOUT'));
    assert.ok(ev.close.every((c) => c.code === 4501 && c.willReconnect));
    wx.fallback = 'accept';
    await clock.until(() => client.state === 'open');
    assert.equal(wx.maxLive, 1);
  });

  test('S6 binary queued while down leaves as an exact-length ArrayBuffer copy', async () => {
    const { clock, wx, client, ev } = await opened();
    wx.current!.drop();
    const pool = new Uint8Array(64).fill(7);
    const view = pool.subarray(10, 14);
    view.set([1, 2, 3, 4]);
    assert.equal(client.send(view), 'queued');
    assert.equal(client.send(new DataView(pool.buffer, 20, 2)), 'queued');
    const whole = new Uint8Array([9, 9]).buffer;
    assert.equal(client.send(whole), 'queued');
    pool.fill(0); // the caller reuses its buffer: the queued copies must not change
    new Uint8Array(whole).fill(0);
    await clock.until(() => client.state === 'open' && ev.message.length === 3);
    const [a, b, c] = wx.current!.received as ArrayBuffer[];
    assert.equal(Object.prototype.toString.call(a), '[object ArrayBuffer]');
    assert.equal(a!.byteLength, 4);
    assert.deepEqual([...new Uint8Array(a!)], [1, 2, 3, 4]);
    assert.deepEqual([...new Uint8Array(b!)], [7, 7]);
    assert.deepEqual([...new Uint8Array(c!)], [9, 9]);
    assert.ok(ev.message[0]!.data instanceof ArrayBuffer);
  });

  test('S7b connectSocket throwing synchronously is one failed attempt, not a wait for connectTimeout', async () => {
    const rejections: unknown[] = [];
    const onRejection = (r: unknown) => rejections.push(r);
    process.on('unhandledRejection', onRejection);
    try {
      const { clock, wx, client, ev } = setup({ connectTimeout: 60_000 }, (w) => (w.next = ['throw']));
      const t0 = clock.now();
      await clock.until(() => client.state === 'open');
      assert.deepEqual(errorCodes(ev), ['ERR_SOCKET']);
      assert.match((ev.error[0]!.cause as Error).message, /invalid url/);
      assert.equal(ev.reconnecting.length, 1);
      // Reopened after one backoff wait, far sooner than the 60 s connect timeout.
      assert.ok(clock.now() - t0 < 10_000, `reopened after ${clock.now() - t0} ms`);
      assert.equal(wx.maxLive, 1);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(rejections, []);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  test('S7 endpoint provider fails once: one failed attempt, then called again per attempt', async () => {
    let calls = 0;
    const url = async () => {
      calls++;
      if (calls === 1) throw new Error('token service down');
      return { url: URL, header: { authorization: `Bearer t${calls}` }, protocols: 'v1' as unknown as string[] };
    };
    const { clock, wx, client, ev } = setup({ url });
    await clock.until(() => client.state === 'open');
    assert.equal(calls, 2);
    assert.deepEqual(errorCodes(ev), ['ERR_ENDPOINT']);
    assert.equal((ev.error[0]!.cause as Error).message, 'token service down');
    assert.deepEqual(ev.close, []); // no socket existed
    assert.deepEqual(wx.options[0].header, { authorization: 'Bearer t2' });
    assert.deepEqual(wx.options[0].protocols, ['v1']);
    // A synchronous throw and a bad value are failed attempts too.
    let n = 0;
    const s2 = setup({
      url: () => {
        n++;
        if (n === 1) throw new Error('sync');
        return n === 2 ? 'http://not-ws' : URL;
      },
    });
    await s2.clock.until(() => s2.client.state === 'open');
    assert.deepEqual(errorCodes(s2.ev), ['ERR_ENDPOINT', 'ERR_ENDPOINT']);
    assert.equal((s2.ev.error[1]!.cause as SocketError).code, 'ERR_OPTION');
  });

  test('S8 close() during a backoff wait, then reconnect(): reconnects', async () => {
    const { clock, wx, client } = setup({ backoffBase: 10_000 }, (w) => (w.next = ['refuse']));
    await clock.until(() => client.state === 'waiting');
    client.close();
    assert.equal(client.state, 'closed');
    await clock.advance(120_000);
    assert.equal(wx.connectCalls, 1);
    client.reconnect();
    assert.equal(client.state, 'connecting');
    await clock.until(() => client.state === 'open');
    assert.equal(wx.connectCalls, 2);
  });

  test('S9 retries exhausted, then reconnect(): a fresh cycle', async () => {
    const { clock, wx, client, ev } = setup({ maxRetries: 2 }, (w) => (w.fallback = 'refuse'));
    await clock.until(() => client.state === 'closed');
    assert.equal(wx.connectCalls, 2, 'maxRetries: 2 = two failed attempts in a row, then stop');
    assert.equal(errorCodes(ev).at(-1), 'ERR_RETRIES_EXHAUSTED');
    assert.equal(ev.close.at(-1)!.willReconnect, false);
    await clock.advance(120_000);
    assert.equal(wx.connectCalls, 2);
    wx.fallback = 'accept';
    client.reconnect();
    await clock.until(() => client.state === 'open');
  });

  test('S10 suspend (close 1000 "interrupted") and resume: paused, no connectSocket while suspended, reconnect at once on show', async () => {
    const { clock, wx, client, ev } = await opened();
    wx.hide();
    wx.suspend();
    await clock.advance(100);
    assert.deepEqual(ev.close, [{ code: 1000, reason: 'interrupted', willReconnect: true }]);
    assert.equal(client.state, 'paused');
    await clock.advance(600_000);
    assert.equal(wx.connectCalls, 1);
    assert.equal(wx.failedConnects.filter((e) => e === ERR_SUSPEND).length, 0);
    assert.equal(ev.reconnecting.length, 0, 'no retry scheduled while suspended');
    wx.resume();
    wx.show();
    assert.equal(client.state, 'connecting');
    await clock.advance(0);
    assert.equal(wx.connectCalls, 2);
    await clock.until(() => client.state === 'open');
  });

  test('S10b retries exhausted, app shown again: show restarts the loop', async () => {
    const { clock, wx, client } = setup({ maxRetries: 1 }, (w) => (w.fallback = 'refuse'));
    await clock.until(() => client.state === 'closed');
    wx.hide();
    wx.fallback = 'accept';
    await clock.advance(60_000);
    assert.equal(client.state, 'closed');
    wx.show();
    assert.equal(client.state, 'connecting');
    await clock.until(() => client.state === 'open');
    // …and "network back" restarts it too.
    const s2 = setup({ maxRetries: 0 }, (w) => (w.next = ['refuse']));
    await s2.clock.until(() => s2.client.state === 'closed');
    s2.wx.network(true);
    await s2.clock.until(() => s2.client.state === 'open');
  });

  for (const [name, cut] of [
    ['app shown', (s: ReturnType<typeof setup>) => (s.wx.hide(), s.wx.show())],
    ['reconnect()', (s: ReturnType<typeof setup>) => s.client.reconnect()],
    ['network back', (s: ReturnType<typeof setup>) => s.wx.network(true)],
  ] as const) {
    test(`S10c ${name} during a pending wait: the wait is cut, connect starts now`, async () => {
      const s = setup({ backoffBase: 20_000, random: fixedRandom(0.99) }, (w) => (w.next = ['refuse']));
      await s.clock.until(() => s.client.state === 'waiting');
      assert.ok(s.ev.reconnecting[0]!.delay > 19_000);
      cut(s);
      await s.clock.advance(0);
      assert.equal(s.wx.connectCalls, 2, 'connectSocket called without waiting');
      await s.clock.until(() => s.client.state === 'open', 100);
    });
  }

  test('S11 half-open link: closed within interval + timeout, reconnected; delivery is at-most-once', async () => {
    const { clock, wx, client, ev } = await opened({ heartbeatInterval: 25_000, heartbeatTimeout: 10_000 });
    const zombie = wx.current!;
    zombie.makeZombie();
    const lost = client.send('into the void');
    assert.equal(lost, 'sent');
    const t0 = clock.now();
    await clock.until(() => ev.close.length === 1);
    assert.equal(clock.now() - t0, 35_000);
    assert.deepEqual(ev.close[0], { code: 4500, reason: '', willReconnect: true });
    assert.equal(errorCodes(ev)[0], 'ERR_HEARTBEAT_TIMEOUT');
    await clock.until(() => client.state === 'open');
    assert.equal(wx.tasks.length, 2);
    assert.equal(zombie.live, true); // never confirmed its close: given up on after the fallback
    assert.ok(clock.now() - t0 >= 35_000 + 1000, 'the next task waited for the old one (1 s fallback)');
  });

  test('S12 close events are well-formed: reconnect(4100, "switch") and close(1000, "bye")', async () => {
    const { clock, wx, client, ev } = await opened();
    const other: unknown[] = [];
    client.on('close', (e) => other.push(e));
    client.reconnect(4100, 'switch');
    assert.deepEqual(wx.current!.closeArgs, { code: 4100, reason: 'switch' });
    await clock.until(() => client.state === 'open');
    client.close(1000, 'bye');
    const want = [
      { code: 4100, reason: 'switch', willReconnect: true },
      { code: 1000, reason: 'bye', willReconnect: false },
    ];
    assert.deepEqual(ev.close, want);
    assert.deepEqual(other, want);
    for (const e of ev.close) {
      assert.equal(typeof e.code, 'number');
      assert.equal(typeof e.reason, 'string');
    }
  });
});

describe('also required', () => {
  test('the 5-socket limit: a full host fails our connect with the platform wording; we retry until a slot frees', async () => {
    const clock = new FakeClock();
    const wx = new FakeWx(clock);
    const others = Array.from({ length: 5 }, () => wx.connectSocket({ url: 'wss://other/' }));
    const client = createClient({ url: URL, platform: wx, clock, random: fixedRandom(0.5) });
    const ev = record(client);
    await clock.advance(5000);
    assert.ok(wx.failedConnects.includes(ERR_LIMIT));
    assert.equal(errorCodes(ev)[0], 'ERR_SOCKET');
    assert.match((ev.error[0]!.cause as { errMsg: string }).errMsg, /exceed max cocurrent count/);
    assert.equal(client.state, 'waiting');
    others[0]!.close({});
    await clock.until(() => client.state === 'open');
    assert.equal(wx.live, 5);
  });

  test('exactly one close per socket when the platform never calls onClose', async () => {
    const { clock, wx, client, ev } = setup({}, (w) => (w.next = ['error-only']));
    await clock.until(() => ev.close.length === 1);
    assert.deepEqual(ev.close[0], { code: 1006, reason: '', willReconnect: true });
    await clock.until(() => client.state === 'open');
    assert.equal(ev.close.length, 1);
    assert.equal(wx.tasks[0]!.closeArgs?.code, 1000);
  });

  test('closeSocket:fail "taskID not exist" is absorbed', async () => {
    const { clock, wx, client, ev } = await opened();
    wx.current!.state = 'closed'; // gone without telling anyone
    client.close(1000, 'bye');
    await clock.advance(5000);
    assert.deepEqual(ev.close, [{ code: 1000, reason: 'bye', willReconnect: false }]);
    assert.equal(client.state, 'closed');
  });

  test('a late open of a retired task closes it again; its callbacks never reach the client', async () => {
    const { clock, wx, client, ev } = setup({ connectTimeout: 2000 }, (w) => (w.next = ['late-open']));
    await clock.until(() => client.state === 'open');
    const [late, current] = wx.tasks;
    assert.equal(ev.open.length, 1);
    late!.open();
    late!.push('stale');
    await clock.advance(100);
    assert.equal(late!.state, 'closed');
    assert.equal(ev.open.length, 1);
    assert.deepEqual(ev.message, []);
    assert.equal(client.state, 'open');
    assert.equal(wx.current, current);
  });

  test('protocols are passed only as an array; absent ones stay absent', async () => {
    const a = setup({ url: { url: URL, protocols: 'chat' as unknown as string[] } });
    await a.clock.advance(0);
    assert.deepEqual(a.wx.options[0].protocols, ['chat']);
    const b = setup();
    await b.clock.advance(0);
    assert.equal(b.wx.options[0].protocols, undefined);
    assert.equal(JSON.stringify(b.wx.options[0]).includes('protocols'), false);
  });
});
