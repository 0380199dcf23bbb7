// The client's API contract beyond the checklist: state machine, events, close/reconnect
// arguments, heartbeat, queue, lifecycle, stats, destroy, listener isolation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PING_FRAME, PONG_FRAME } from '@wss-mp/protocol';
import { SocketError } from '../src/index';
import { errorCodes, opened, setup } from './helpers';

describe('state machine', () => {
  test('idle → connecting → open → waiting → connecting → open → closed, each change one state event', async () => {
    const { clock, wx, client, ev } = setup();
    assert.equal(client.state, 'idle');
    await clock.until(() => client.state === 'open');
    wx.current!.drop();
    await clock.until(() => client.state === 'open');
    client.close();
    assert.deepEqual(
      ev.state.map((s) => `${s.from}>${s.to}`),
      ['idle>connecting', 'connecting>open', 'open>waiting', 'waiting>connecting', 'connecting>open', 'open>closed'],
    );
  });

  test('the state event comes before the close event, reconnecting after it', async () => {
    const { wx, ev } = await opened();
    wx.current!.drop();
    assert.deepEqual(ev.all.slice(-4), ['error:ERR_SOCKET', 'state:waiting', 'close:1006+', 'reconnecting']);
  });

  test('hide while connecting retires that attempt (4503) and pauses; hide while open keeps the socket', async () => {
    const { clock, wx, client, ev } = setup();
    await clock.advance(0);
    assert.equal(client.state, 'connecting');
    wx.hide();
    assert.equal(client.state, 'paused');
    assert.deepEqual(ev.close, [{ code: 4503, reason: '', willReconnect: true }]);
    await clock.advance(60_000);
    assert.equal(wx.connectCalls, 1);
    wx.show();
    await clock.until(() => client.state === 'open');
    wx.hide();
    assert.equal(client.state, 'open');
    await clock.advance(60_000); // no heartbeat verdict while hidden
    assert.equal(client.state, 'open');
    assert.equal(wx.current!.received.length, 0, 'no pings while hidden');
  });

  test('show while open probes the link at once: a dead link is found within heartbeatTimeout', async () => {
    const { clock, wx, client, ev } = await opened({ heartbeatInterval: 25_000, heartbeatTimeout: 5_000 });
    wx.hide();
    wx.current!.makeZombie();
    await clock.advance(600_000);
    const t0 = clock.now();
    wx.show();
    await clock.until(() => ev.close.length === 1);
    assert.equal(clock.now() - t0, 5_000);
    assert.equal(ev.close[0]!.code, 4500);
    await clock.until(() => client.state === 'open');
  });

  test('reconnect() works from every state and resets the retry count', async () => {
    const { clock, wx, client, ev } = setup({ maxRetries: 5 }, (w) => (w.next = ['refuse', 'refuse']));
    await clock.until(() => ev.reconnecting.length === 2);
    client.reconnect();
    await clock.until(() => client.state === 'open');
    wx.current!.drop();
    assert.equal(ev.reconnecting.at(-1)!.attempt, 1, 'count reset');
    await clock.until(() => client.state === 'open');
    client.reconnect(); // open: closes with 4502 and connects again
    assert.equal(wx.tasks.at(-1)!.closeArgs?.code, 4502);
    await clock.until(() => client.state === 'open' && wx.tasks.length === 5);
    wx.hide();
    wx.current!.serverClose(1001);
    await clock.until(() => client.state === 'paused');
    client.reconnect(); // paused: explicit request wins
    await clock.until(() => client.state === 'open');
  });

  test('a server 1000 is reconnected (only our own close() means stop)', async () => {
    const { clock, wx, client, ev } = await opened();
    wx.current!.serverClose(1000, 'normal closure');
    await clock.until(() => client.state === 'open' && wx.tasks.length === 2);
    assert.equal(ev.close[0]!.willReconnect, true);
  });
});

describe('close() and reconnect() arguments', () => {
  test('only 1000 or 3000–4999, reason ≤ 123 UTF-8 bytes, else ERR_ARGUMENT naming the rule', async () => {
    const { client } = await opened();
    for (const code of [999, 1001, 1006, 2999, 5000, 3000.5, NaN]) {
      assert.throws(() => client.close(code), (e: SocketError) => e.code === 'ERR_ARGUMENT' && /1000 or 3000-4999/.test(e.message), String(code));
    }
    assert.throws(() => client.reconnect(1001), (e: SocketError) => e.code === 'ERR_ARGUMENT');
    assert.throws(() => client.close(4000, 'x'.repeat(124)), (e: SocketError) => /123 UTF-8 bytes/.test(e.message));
    assert.throws(() => client.close(4000, '€'.repeat(42)), (e: SocketError) => e.code === 'ERR_ARGUMENT');
    assert.throws(() => client.close(4000, '\ud800'), (e: SocketError) => e.code === 'ERR_ARGUMENT');
    assert.throws(() => client.close(4000, 5 as unknown as string), (e: SocketError) => e.code === 'ERR_ARGUMENT');
    assert.equal(client.state, 'open');
    client.close(4999, '€'.repeat(41)); // exactly 123 bytes
    assert.equal(client.state, 'closed');
  });
});

describe('heartbeat', () => {
  test('pings after interval of inbound silence; wss-mp-server pongs give an RTT and are not messages', async () => {
    const { clock, wx, client, ev } = await opened({ heartbeatInterval: 1000, heartbeatTimeout: 500 });
    await clock.advance(1000);
    assert.deepEqual(wx.current!.received, [PING_FRAME]);
    await clock.advance(100);
    assert.equal(client.stats.rtt, 10); // the fake answers after its 10 ms latency
    assert.deepEqual(ev.message, []);
    assert.equal(client.stats.sent, 0);
    assert.equal(client.stats.received, 0);
    await clock.advance(10_000);
    assert.equal(client.state, 'open');
  });

  test('any inbound frame re-arms the deadline', async () => {
    const { clock, wx, client } = await opened({ heartbeatInterval: 1000, heartbeatTimeout: 500 }, (w) => (w.reply = 'none'));
    for (let i = 0; i < 20; i++) {
      await clock.advance(900);
      wx.current!.push('news');
    }
    assert.equal(wx.current!.received.length, 0, 'no ping while traffic flows');
    assert.equal(client.state, 'open');
    await clock.advance(1500);
    assert.equal(client.state, 'waiting');
  });

  test('a plain echo server: our ping echoed back counts as the pong', async () => {
    const { clock, client, ev } = await opened({ heartbeatInterval: 1000, heartbeatTimeout: 500 }, (w) => (w.reply = 'echo'));
    await clock.advance(60_000);
    assert.equal(client.state, 'open');
    assert.equal(client.stats.rtt, 10);
    assert.deepEqual(ev.message, []);
  });

  test('keepalive only (heartbeatTimeout 0): pings every interval, never a verdict', async () => {
    const { clock, wx, client } = await opened({ heartbeatInterval: 1000, heartbeatTimeout: 0 }, (w) => (w.reply = 'none'));
    await clock.advance(10_000);
    assert.equal(client.state, 'open');
    assert.equal(wx.current!.received.length, 10);
  });

  test('heartbeatInterval 0 disables it; custom ping and pong test', async () => {
    const off = await opened({ heartbeatInterval: 0 }, (w) => (w.reply = 'none'));
    await off.clock.advance(600_000);
    assert.equal(off.wx.current!.received.length, 0);
    assert.equal(off.client.state, 'open');
    const custom = await opened(
      { heartbeatInterval: 1000, pingMessage: 'PING', isPong: (d) => d === 'PONG' },
      (w) => (w.reply = 'none'),
    );
    await custom.clock.advance(1000);
    assert.deepEqual(custom.wx.current!.received, ['PING']);
    custom.wx.current!.push('PONG');
    custom.wx.current!.push(PONG_FRAME); // not a pong for this client: an ordinary message
    assert.deepEqual(custom.ev.message.map((m) => m.data), [PONG_FRAME]);
  });
});

describe('queue and send', () => {
  test('bounded: drop-oldest keeps the newest, reject refuses; both count and report ERR_QUEUE_FULL', async () => {
    const a = setup({ queueSize: 2 });
    assert.deepEqual(['1', '2', '3'].map((m) => a.client.send(m)), ['queued', 'queued', 'queued']);
    assert.deepEqual(a.client.drain(), ['2', '3']);
    assert.equal(a.client.stats.dropped, 1);
    assert.deepEqual(errorCodes(a.ev), ['ERR_QUEUE_FULL']);
    const b = setup({ queueSize: 2, queueOverflow: 'reject' });
    assert.deepEqual(['1', '2', '3'].map((m) => b.client.send(m)), ['queued', 'queued', 'dropped']);
    await b.clock.until(() => b.client.state === 'open');
    await b.clock.advance(20);
    assert.deepEqual(b.wx.current!.received, ['1', '2']);
    const c = setup({ queueSize: 0 });
    assert.equal(c.client.send('x'), 'dropped');
  });

  test('an open listener sending (auth) goes before the queued messages', async () => {
    const { clock, wx, client } = setup();
    client.on('open', () => client.send('auth'));
    client.send('q1');
    await clock.until(() => client.state === 'open');
    assert.deepEqual(wx.current!.received, ['auth', 'q1']);
  });

  test('a frame the platform refuses is lost: ERR_SEND, counted as dropped', async () => {
    const { clock, wx, client, ev } = await opened();
    wx.current!.state = 'closed'; // died without telling
    assert.equal(client.send('x'), 'sent');
    await clock.advance(20);
    assert.deepEqual(errorCodes(ev), ['ERR_SEND']);
    assert.match((ev.error[0]!.cause as { errMsg: string }).errMsg, /not connected/);
    assert.equal(client.stats.dropped, 1);
  });

  test('stats snapshot', async () => {
    const { clock, wx, client } = await opened();
    client.send('a');
    await clock.advance(50);
    wx.current!.drop();
    client.send('b');
    const s = client.stats;
    assert.deepEqual(s, { queued: 1, attempts: 1, reconnects: 0, rtt: null, sent: 1, received: 1, dropped: 0 });
    s.sent = 99;
    assert.equal(client.stats.sent, 1);
    await clock.until(() => client.state === 'open');
    assert.equal(client.stats.attempts, 2);
    assert.equal(client.stats.reconnects, 1);
  });
});

describe('robustness', () => {
  test('a throwing listener does not break the loop: ERR_CALLBACK with the exception as cause', async () => {
    const { clock, client, ev } = setup();
    const bug = new Error('app bug');
    client.on('open', () => {
      throw bug;
    });
    await clock.until(() => client.state === 'open');
    assert.equal(ev.open.length, 1); // the other listener ran
    assert.deepEqual(errorCodes(ev), ['ERR_CALLBACK']);
    assert.equal(ev.error[0]!.cause, bug);
  });

  test('a throwing error listener is rethrown on a fresh timer (reporting it as an error would loop)', async () => {
    const { clock, wx, client, ev } = await opened();
    client.on('error', () => {
      throw new Error('error handler bug');
    });
    wx.current!.drop();
    await assert.rejects(clock.advance(0), /error handler bug/);
    assert.deepEqual(errorCodes(ev), ['ERR_SOCKET']);
    await clock.until(() => client.state === 'open');
  });

  test('unsubscribe removes exactly that listener', async () => {
    const { clock, client } = setup();
    const seen: string[] = [];
    const off = client.on('state', (e) => seen.push(`a:${e.to}`));
    client.on('state', (e) => seen.push(`b:${e.to}`));
    off();
    off();
    await clock.until(() => client.state === 'open');
    assert.deepEqual(seen, ['b:connecting', 'b:open']);
  });

  test('destroy() removes every lifecycle/network listener, closes, and ends for good', async () => {
    const { clock, wx, client, ev } = await opened();
    assert.equal(wx.appListeners, 3);
    client.send('x');
    client.destroy();
    assert.equal(wx.appListeners, 0);
    assert.equal(client.state, 'closed');
    assert.equal(ev.close.length, 1);
    assert.equal(client.send('late'), 'dropped');
    client.reconnect();
    client.close();
    client.destroy();
    wx.show();
    wx.network(true);
    await clock.advance(120_000);
    assert.equal(wx.connectCalls, 1);
    assert.equal(clock.pending, 0, 'no timers left behind');
  });

  test('lifecycle: false registers nothing', async () => {
    const { wx } = await opened({ lifecycle: false });
    assert.equal(wx.appListeners, 0);
  });

  test('send() rejects what it cannot send with ERR_ARGUMENT, never a silent loss', async () => {
    const { client } = setup();
    for (const bad of [42, null, undefined, {}, { byteLength: 3 }, [1, 2]]) {
      assert.throws(
        () => client.send(bad as never),
        (e: SocketError) => e instanceof SocketError && e.code === 'ERR_ARGUMENT' && /string, ArrayBuffer or ArrayBuffer view/.test(e.message),
        String(bad),
      );
    }
    assert.equal(client.stats.queued, 0);
  });
});
