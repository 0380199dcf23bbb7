// No stuck states, servers that ping first, exact counts: one block per defect found by driving
// the client as a new user would (hostile callbacks, re-entrant close()/reconnect(), network
// loss, server pings, bad arguments, oversize frames, WeChat's own connect options). Each test
// failed on the client before the fix. End-to-end twins: test/client-scenarios.e2e.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PING_FRAME, PONG_FRAME } from '@wss-mp/protocol';
import { SocketError } from '../src/index';
import type { ClientOptions } from '../src/options';
import { errorCodes, opened, setup, URL } from './helpers';

const boom = () => new Error('callback bug');

describe('hostile callbacks: a throw is ERR_CALLBACK, the default applies, no half-updated state', () => {
  test('shouldReconnect throwing on a server close: close event, backoff wait, reconnect, send works', async () => {
    const bug = boom();
    const { clock, wx, client, ev } = await opened({
      shouldReconnect: () => {
        throw bug;
      },
    });
    wx.current!.serverClose(4100, 'not json');
    await clock.advance(20);
    assert.equal(client.state, 'waiting');
    assert.deepEqual(ev.close, [{ code: 4100, reason: 'not json', willReconnect: true }]);
    assert.deepEqual(errorCodes(ev), ['ERR_CALLBACK']);
    assert.equal(ev.error[0]!.cause, bug);
    assert.equal(client.send('later'), 'queued');
    await clock.until(() => client.state === 'open');
    await clock.advance(20);
    assert.deepEqual(wx.current!.received, ['later']);
    // The default still decides: a terminal code stops even when the policy throws.
    wx.current!.serverClose(4001, 'bad token');
    await clock.advance(20);
    assert.equal(client.state, 'closed');
  });

  test('isPong throwing: ERR_CALLBACK, and the frame is still delivered (the default says "not a pong")', async () => {
    const bug = boom();
    const { clock, wx, ev } = await opened({
      isPong: () => {
        throw bug;
      },
    });
    wx.current!.push('news');
    wx.current!.push(PONG_FRAME);
    await clock.advance(0);
    assert.deepEqual(ev.message.map((m) => m.data), ['news']);
    assert.deepEqual(errorCodes(ev), ['ERR_CALLBACK', 'ERR_CALLBACK']);
    assert.equal(ev.error[0]!.cause, bug);
  });

  test('url: a throw is one failed attempt (ERR_ENDPOINT, cause kept); a promise that never settles ends at connectTimeout', async () => {
    let calls = 0;
    const bug = boom();
    const { clock, wx, client, ev } = setup({
      connectTimeout: 1000,
      url: () => {
        calls++;
        if (calls === 1) throw bug;
        if (calls === 2) return new Promise<string>(() => {});
        return URL;
      },
    });
    await clock.until(() => client.state === 'open');
    assert.equal(calls, 3);
    assert.deepEqual(errorCodes(ev), ['ERR_ENDPOINT', 'ERR_CONNECT_TIMEOUT']);
    assert.equal(ev.error[0]!.cause, bug);
    assert.equal(wx.connectCalls, 1);
  });

  // Every callback throws on every other call while the client visits every state; after each
  // step the client must be consistent, and at the end it must still work.
  const callbacks = ['url', 'shouldReconnect', 'isPong', 'open', 'message', 'close', 'state', 'reconnecting', 'error'] as const;
  for (const name of callbacks) {
    test(`table: "${name}" throwing every other call, through idle/connecting/open/waiting/paused/closed`, async () => {
      let n = 0;
      const sentinel = new Error(`hostile ${name}`);
      const hostile = <T>(value: T) => () => {
        if (n++ % 2 === 0) throw sentinel;
        return value;
      };
      const opts: Partial<ClientOptions> = { heartbeatInterval: 1000, heartbeatTimeout: 500, backoffBase: 100, backoffMax: 1000 };
      if (name === 'url') opts.url = hostile(URL);
      if (name === 'shouldReconnect') opts.shouldReconnect = hostile(true);
      if (name === 'isPong') opts.isPong = (d) => hostile(d === PONG_FRAME)();
      const s = setup(opts);
      const { clock, wx, client, ev } = s;
      if (!(name === 'url' || name === 'shouldReconnect' || name === 'isPong')) client.on(name, hostile(undefined));
      const seen = new Set<string>();
      // An error listener's throw is rethrown on a fresh timer (by design): let it pass.
      const step = async (ms = 0) => {
        for (;;) {
          try {
            await clock.advance(ms);
            break;
          } catch (e) {
            if (e !== sentinel) throw e;
            ms = 0;
          }
        }
        seen.add(client.state);
        // The invariant: "open" means a live socket that takes frames.
        if (client.state === 'open') {
          const t = wx.current!;
          assert.equal(t.state, 'open', `${name}: state open on a ${t.state} task`);
        }
        assert.ok(client.stats.queued <= 100);
      };
      const untilState = async (want: string) => {
        for (let i = 0; client.state !== want; i++) {
          assert.ok(i < 2000, `${name}: never reached ${want} (stuck in ${client.state})`);
          await step(10);
        }
      };
      await step();
      await untilState('open');
      wx.current!.push('m1');
      await step(1500); // heartbeat ping and pong
      wx.current!.drop(); // → waiting
      await step();
      await untilState('open');
      wx.current!.serverClose(4100); // shouldReconnect consulted
      await step(20);
      await untilState('open');
      wx.hide();
      wx.suspend();
      await step(50);
      wx.resume();
      wx.show();
      await untilState('open');
      wx.network(false);
      wx.network(true);
      await untilState('open');
      client.close();
      await step();
      client.reconnect();
      await untilState('open');
      for (const st of ['connecting', 'open', 'closed']) assert.ok(seen.has(st) || st === 'connecting', `${name}: visited ${st}`);
      // Still fully working.
      assert.equal(client.send('final'), 'sent');
      await step(20);
      assert.deepEqual(wx.current!.received.slice(-1), ['final']);
      const reported = ev.error.filter((e) => e.cause === sentinel).map((e) => e.code);
      if (name === 'error') assert.equal(reported.length, 0, 'error-listener throws are rethrown, not reported');
      else assert.ok(reported.length > 0 && reported.every((c) => c === (name === 'url' ? 'ERR_ENDPOINT' : 'ERR_CALLBACK')), `${name}: ${reported}`);
      client.destroy();
    });
  }
});

describe('close() or reconnect() inside a close listener', () => {
  test('close() in a close listener: no "reconnecting" after the state is closed, no attempt follows', async () => {
    const { clock, wx, client, ev } = await opened();
    client.on('close', () => client.close());
    wx.current!.drop();
    await clock.advance(120_000);
    assert.equal(client.state, 'closed');
    assert.deepEqual(ev.reconnecting, []);
    assert.equal(wx.connectCalls, 1);
    assert.equal(ev.all.at(-1), 'state:closed');
  });

  test('reconnect() in a close listener: connects at once; no "reconnecting {attempt: 0}"', async () => {
    const { clock, wx, client, ev } = await opened();
    let once = true;
    client.on('close', () => once && ((once = false), client.reconnect()));
    wx.current!.drop();
    assert.equal(client.state as string, 'connecting');
    assert.equal(ev.reconnecting.length, 0);
    await clock.until(() => client.state === 'open');
    assert.equal(wx.connectCalls, 2);
    wx.current!.drop();
    assert.deepEqual(ev.reconnecting.map((r) => r.attempt), [1]);
  });

  test('close() in a state listener while opening: closed, no heartbeat on a missing socket', async () => {
    const { clock, wx, client, ev } = setup({ heartbeatInterval: 1000 });
    client.on('state', ({ to }) => to === 'open' && client.close());
    await clock.advance(100_000);
    assert.equal(client.state, 'closed');
    assert.equal(ev.open.length, 0);
    assert.equal(wx.connectCalls, 1);
    assert.equal(wx.tasks[0]!.received.length, 0, 'no ping');
  });
});

describe('re-entrant calls from callbacks at awkward moments', () => {
  test('close() in a state listener on "connecting": stays closed (the connect timeout does not revive it)', async () => {
    const { clock, wx, client, ev } = setup({ connectTimeout: 1000 });
    client.on('state', ({ to }) => to === 'connecting' && client.close());
    await clock.advance(60_000);
    assert.equal(client.state, 'closed');
    assert.equal(wx.connectCalls, 0);
    assert.deepEqual(errorCodes(ev), []);
    assert.equal(clock.pending, 0);
  });

  test('close() in a state listener on "waiting": no "reconnecting" is announced, no attempt follows', async () => {
    const { clock, wx, client, ev } = await opened();
    client.on('state', ({ to }) => to === 'waiting' && client.close());
    wx.current!.drop();
    await clock.advance(60_000);
    assert.equal(client.state, 'closed');
    assert.deepEqual(ev.reconnecting, []);
    assert.equal(wx.connectCalls, 1);
    assert.equal(ev.close.length, 1);
  });

  test('shouldReconnect calling close(): closed, one close event for the socket, no retry', async () => {
    let client!: ReturnType<typeof setup>['client'];
    const s = await opened({
      shouldReconnect: () => {
        client.close();
        return true;
      },
    });
    client = s.client;
    s.wx.current!.serverClose(4100);
    await s.clock.advance(60_000);
    assert.equal(client.state, 'closed');
    assert.deepEqual(s.ev.close, [{ code: 4100, reason: '', willReconnect: false }]);
    assert.deepEqual(s.ev.reconnecting, []);
    assert.equal(s.wx.connectCalls, 1);
  });

  test('send() from an error listener while the policy throws: queued, no TypeError', async () => {
    const { clock, wx, client, ev } = await opened({
      shouldReconnect: () => {
        throw boom();
      },
    });
    const results: string[] = [];
    client.on('error', (e) => e.code === 'ERR_CALLBACK' && results.push(client.send('from listener')));
    wx.current!.serverClose(4100);
    await clock.advance(20);
    assert.deepEqual(results, ['queued']);
    await clock.until(() => client.state === 'open');
    await clock.advance(20);
    assert.deepEqual(wx.current!.received, ['from listener']);
    assert.deepEqual(errorCodes(ev), ['ERR_CALLBACK']);
  });
});

describe('network loss while open', () => {
  test('offline: sends queue (not "sent"), the link is probed; back: a fresh socket at once, queue delivered', async () => {
    const { clock, wx, client, ev } = await opened({ heartbeatInterval: 25_000, heartbeatTimeout: 10_000 });
    const first = wx.current!;
    first.makeZombie(); // the route is gone with the network
    wx.network(false);
    assert.equal(client.send('a'), 'queued');
    assert.deepEqual(first.closeArgs, undefined);
    await clock.advance(1000);
    assert.equal(client.state, 'open'); // until the probe's verdict or the network's return
    const t0 = clock.now();
    wx.network(true);
    assert.deepEqual(first.closeArgs, { code: 4504, reason: '' });
    assert.deepEqual(ev.close.at(-1), { code: 4504, reason: '', willReconnect: true });
    await clock.until(() => client.state === 'open' && wx.current !== first);
    assert.ok(clock.now() - t0 < 2000, 'at once (no backoff)'); // ≤ CLOSE_TIMEOUT for the zombie + latency
    await clock.advance(20);
    assert.deepEqual(wx.current!.received, ['a']);
  });

  test('offline with a dead link: the probe closes it within heartbeatTimeout', async () => {
    const { clock, wx, client, ev } = await opened({ heartbeatInterval: 25_000, heartbeatTimeout: 3_000 });
    wx.current!.makeZombie();
    const t0 = clock.now();
    wx.network(false);
    await clock.until(() => ev.close.length === 1);
    assert.equal(clock.now() - t0, 3_000);
    assert.equal(ev.close[0]!.code, 4500);
    assert.equal(client.state, 'waiting');
  });

  test('offline but the link answers: suspicion lifted, the queue flushed in order, sends go out again', async () => {
    const { clock, wx, client } = await opened({ heartbeatInterval: 25_000, heartbeatTimeout: 3_000 });
    wx.network(false);
    assert.equal(client.send('q1'), 'queued');
    await clock.advance(20); // the probe's ping is answered
    assert.equal(client.send('s1'), 'sent');
    await clock.advance(20);
    assert.deepEqual(wx.current!.received, [PING_FRAME, 'q1', 's1']);
    wx.network(true); // nothing to replace
    assert.equal(wx.connectCalls, 1);
  });
});

describe('servers that ping first', () => {
  test('a server ping (no ping of ours out) is answered with pongMessage, counts as life, is not a message', async () => {
    const { clock, wx, client, ev } = await opened({ heartbeatInterval: 1000, heartbeatTimeout: 500 }, (w) => (w.reply = 'none'));
    for (let i = 0; i < 10; i++) {
      wx.current!.push(PING_FRAME); // GatewayWorker pingData, every 800 ms
      await clock.advance(800);
    }
    assert.equal(client.state, 'open');
    assert.deepEqual(wx.current!.received, Array(10).fill(PONG_FRAME));
    assert.deepEqual(ev.message, []);
    assert.equal(client.stats.rtt, null, 'no ping of ours was out');
  });

  test('our own ping echoed back is the answer (RTT), not a server ping: no pong is sent to an echo server', async () => {
    const { clock, wx, client } = await opened({ heartbeatInterval: 1000, heartbeatTimeout: 500 }, (w) => (w.reply = 'echo'));
    await clock.advance(5000);
    assert.equal(client.state, 'open');
    assert.equal(client.stats.rtt, 10);
    assert.ok(wx.current!.received.every((d) => d === PING_FRAME));
  });

  test('a ping left unanswered on a dead link is not "out" on the next socket: its server ping is answered', async () => {
    const { clock, wx, client } = await opened({ heartbeatInterval: 1000, heartbeatTimeout: 500 });
    const first = wx.current!;
    first.makeZombie(); // our ping goes out and is never answered
    await clock.until(() => client.state === 'open' && wx.current !== first);
    wx.current!.push(PING_FRAME);
    assert.deepEqual(wx.current!.received, [PONG_FRAME]);
  });

  test('custom pongMessage; pongMessage "" = no answer', async () => {
    const a = await opened({ pongMessage: 'PONG!' }, (w) => (w.reply = 'none'));
    a.wx.current!.push(PING_FRAME);
    assert.deepEqual(a.wx.current!.received, ['PONG!']);
    const b = await opened({ pongMessage: '' }, (w) => (w.reply = 'none'));
    b.wx.current!.push(PING_FRAME);
    assert.deepEqual(b.wx.current!.received, []);
  });

  test('a "no pong" close (4000) is retried by default', async () => {
    const { clock, wx, client, ev } = await opened();
    wx.current!.serverClose(4000, 'no pong');
    await clock.until(() => client.state === 'open' && wx.tasks.length === 2);
    assert.equal(ev.close[0]!.willReconnect, true);
  });
});

describe('arguments and counts', () => {
  test('send(number | null | object) throws SocketError ERR_ARGUMENT, as the types promise', async () => {
    const { client } = await opened();
    for (const bad of [42, null, { a: 1 }]) {
      assert.throws(() => client.send(bad as never), (e: SocketError) => e instanceof SocketError && e.code === 'ERR_ARGUMENT');
    }
  });

  for (const n of [1, 2, 3]) {
    test(`maxRetries: ${n} makes ${n} attempts against a dead server, then ERR_RETRIES_EXHAUSTED`, async () => {
      const { clock, wx, client, ev } = setup({ maxRetries: n }, (w) => (w.fallback = 'refuse'));
      await clock.until(() => client.state === 'closed');
      await clock.advance(600_000);
      assert.equal(wx.connectCalls, n);
      assert.equal(client.stats.attempts, n);
      assert.equal(errorCodes(ev).filter((c) => c === 'ERR_RETRIES_EXHAUSTED').length, 1);
      assert.deepEqual(ev.reconnecting.map((r) => r.attempt), Array.from({ length: n - 1 }, (_, i) => i + 1));
    });
  }

  test('maxRetries after a drop: n failed attempts, the drop itself is not one', async () => {
    const { clock, wx, client } = await opened({ maxRetries: 2 });
    wx.fallback = 'refuse';
    wx.current!.drop();
    await clock.until(() => client.state === 'closed');
    assert.equal(wx.connectCalls, 3); // the first open + 2 failed
  });

  test('stats.attempts counts connectSocket calls only, not attempts abandoned before one', async () => {
    // An async url provider; the app is hidden and shown while it is pending, twice.
    const { clock, wx, client } = setup({
      url: () => new Promise<string>((r) => clock.setTimeout(() => r(URL), 50)),
    });
    await clock.advance(0);
    wx.hide();
    wx.show();
    wx.hide();
    wx.show();
    await clock.until(() => client.state === 'open');
    assert.equal(wx.connectCalls, 1);
    assert.equal(client.stats.attempts, 1);
  });
});

describe('maxMessageSize', () => {
  test('an oversize send() is "dropped" with ERR_MESSAGE_TOO_BIG and never costs the messages after it', async () => {
    const { clock, wx, client, ev } = await opened({}, (w) => (w.maxPayload = 64 * 1024));
    assert.equal(client.send('x'.repeat(1024 * 1024)), 'dropped');
    assert.equal(client.send('next'), 'sent');
    await clock.advance(50);
    assert.deepEqual(wx.current!.received, ['next']);
    assert.deepEqual(errorCodes(ev), ['ERR_MESSAGE_TOO_BIG']);
    assert.equal(client.stats.dropped, 1);
    assert.equal(ev.close.length, 0);
  });

  test('the limit is in bytes (UTF-8 for text), inclusive; binary by byteLength; queued sends are checked too', async () => {
    const { clock, wx, client } = setup({ maxMessageSize: 12 }, (w) => (w.maxPayload = 12));
    assert.equal(client.send('€€€€'), 'queued'); // 12 bytes
    assert.equal(client.send('€€€€a'), 'dropped'); // 13
    assert.equal(client.send('😀😀😀a'), 'dropped'); // 4 × 3 + 1
    assert.equal(client.send('é😀😀😀'.slice(1)), 'queued'); // 12
    assert.equal(client.send(new Uint8Array(13)), 'dropped');
    assert.equal(client.send(new Uint8Array(64).subarray(0, 12)), 'queued');
    await clock.until(() => client.state === 'open');
    await clock.advance(20);
    assert.equal(wx.current!.received.length, 3);
    assert.equal(setup({ maxMessageSize: Infinity }).client.send('x'.repeat(1 << 20)), 'queued');
  });
});

describe("WeChat's own connectSocket options", () => {
  test('tcpNoDelay, perMessageDeflate, timeout, forceCellularNetwork pass through; complete is passed (uni-app)', async () => {
    const extra = { tcpNoDelay: true, perMessageDeflate: true, timeout: 5000, forceCellularNetwork: true };
    const { wx } = await opened({ url: { url: URL, ...extra } });
    const o = wx.options[0];
    for (const [k, v] of Object.entries(extra)) assert.equal(o[k], v, k);
    assert.equal(typeof o.fail, 'function');
    assert.equal(typeof o.complete, 'function');
    // From a provider too, fresh per attempt.
    const p = await opened({ url: async () => ({ url: URL, tcpNoDelay: true }) });
    assert.equal(p.wx.options[0].tcpNoDelay, true);
  });
});
