// The platforms other than wx: uni (task only with a callback), Taro (Promise<SocketTask>),
// Douyin (string close codes), the browser WebSocket adapter and the Alipay adapter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient as createWebClient, webPlatform } from '../src/web';
import { alipayPlatform, createClient as createAlipayClient, fromBase64, toBase64 } from '../src/alipay';
import { createClient } from '../src/index';
import { FakeClock, fixedRandom } from './fake-clock';
import { FakeWx } from './fake-wx';
import { record, URL } from './helpers';

const common = (clock: FakeClock) => ({ url: URL, clock, random: fixedRandom(0.5) });

test('uni: connectSocket returns a task only when a callback is passed', async () => {
  const clock = new FakeClock();
  const wx = new FakeWx(clock);
  const uni = {
    connectSocket: (o: any) => (o.success || o.fail || o.complete ? wx.connectSocket(o) : Promise.resolve([null, {}])),
  };
  const client = createClient({ ...common(clock), platform: uni });
  await clock.until(() => client.state === 'open');
});

test('Taro: Promise<SocketTask>; a close requested before the task arrives is applied on arrival', async () => {
  const clock = new FakeClock();
  const wx = new FakeWx(clock);
  const Taro = { connectSocket: (o: any) => new Promise((r) => clock.setTimeout(() => r(wx.connectSocket(o)), 50)) };
  const client = createClient({ ...common(clock), platform: Taro, connectTimeout: 20 });
  await clock.advance(30); // timed out before the task arrived
  assert.equal(client.state, 'waiting');
  await clock.advance(30);
  assert.deepEqual(wx.tasks[0]!.closeArgs, { code: 4501, reason: '' });
  const ok = createClient({ ...common(clock), platform: Taro });
  await clock.until(() => ok.state === 'open');
});

test('Douyin: a string close code is a number to the policy', async () => {
  const clock = new FakeClock();
  const wx = new FakeWx(clock);
  const client = createClient({ ...common(clock), platform: wx });
  const ev = record(client);
  await clock.until(() => client.state === 'open');
  wx.current!.serverClose('4001' as unknown as number, 'banned');
  await clock.advance(60_000);
  assert.deepEqual(ev.close, [{ code: 4001, reason: 'banned', willReconnect: false }]);
});

class FakeWebSocket {
  static all: FakeWebSocket[] = [];
  binaryType = 'blob';
  onopen: any = null;
  onmessage: any = null;
  onclose: any = null;
  onerror: any = null;
  sent: unknown[] = [];
  closed: [number?, string?] | undefined;
  constructor(
    public url: string,
    public protocols?: string | string[],
  ) {
    FakeWebSocket.all.push(this);
  }
  send(d: unknown) {
    this.sent.push(d);
  }
  close(code?: number, reason?: string) {
    this.closed = [code, reason];
  }
}

test('web: the W3C WebSocket behind a wx-like platform; visible = show, online = network back', async () => {
  const clock = new FakeClock();
  const listeners: Record<string, (() => void)[]> = {};
  const host = {
    document: { visibilityState: 'visible' },
    addEventListener: (t: string, f: () => void) => (listeners[t] ||= []).push(f),
    removeEventListener: (t: string, f: () => void) => listeners[t]!.splice(listeners[t]!.indexOf(f), 1),
  };
  const client = createWebClient({ ...common(clock), platform: webPlatform(FakeWebSocket as never, host), backoffBase: 60_000 });
  const ev = record(client);
  await clock.advance(0);
  const ws = FakeWebSocket.all.at(-1)!;
  assert.equal(ws.binaryType, 'arraybuffer');
  ws.onopen({});
  client.send(new Uint8Array([1, 2]).subarray(1));
  assert.equal((ws.sent[0] as ArrayBuffer).byteLength, 1);
  ws.onmessage({ data: 'hi' });
  assert.deepEqual(ev.message, [{ data: 'hi' }]);
  ws.onclose({ code: 1006, reason: '' });
  assert.equal(client.state, 'waiting');
  listeners.online!.forEach((f) => f());
  await clock.advance(0);
  assert.equal(FakeWebSocket.all.length, 2, 'online cut the wait');
  client.destroy();
  assert.deepEqual([listeners.online!.length, listeners.visibilitychange!.length], [0, 0]);
  // Without a global WebSocket and no platform: ERR_PLATFORM at construction. Node >= 22 has a
  // global WebSocket (a real client would start connecting): hide it for this check.
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
  delete (globalThis as { WebSocket?: unknown }).WebSocket;
  try {
    assert.throws(() => createWebClient({ url: URL }), /ERR_PLATFORM|connectSocket/);
  } finally {
    if (saved) Object.defineProperty(globalThis, 'WebSocket', saved);
  }
});

test('alipay: multiple: true, nested listener arguments, base64 binary', async () => {
  const clock = new FakeClock();
  const wx = new FakeWx(clock);
  const connected: any[] = [];
  const sent: any[] = [];
  const my = {
    connectSocket(o: any) {
      connected.push(o);
      const t = wx.connectSocket(o);
      return {
        send: (x: any) => (sent.push(x), t.send(x)),
        close: (x: any) => t.close(x),
        onOpen: (f: any) => t.onOpen((r) => f({ data: r })),
        onMessage: (f: any) =>
          t.onMessage((r) => f({ data: typeof r.data === 'string' ? { data: r.data, isBuffer: false } : { data: toBase64(r.data), isBuffer: true } })),
        onClose: (f: any) => t.onClose((r) => f({ data: r })),
        onError: (f: any) => t.onError(f),
      };
    },
    onAppShow: wx.onAppShow,
    offAppShow: wx.offAppShow,
  };
  const client = createAlipayClient({ ...common(clock), platform: alipayPlatform(my) });
  const ev = record(client);
  await clock.until(() => client.state === 'open');
  assert.equal(connected[0].multiple, true);
  assert.equal(wx.appListeners, 1, "my's own app hooks");
  client.send(new Uint8Array([0, 1, 254, 255]));
  client.send('text');
  assert.deepEqual(sent.map((x) => [x.data, x.isBuffer]), [['AAH+/w==', true], ['text', undefined]]);
  wx.current!.push(new Uint8Array([7, 8]).buffer);
  assert.deepEqual([...new Uint8Array(ev.message.at(-1)!.data as ArrayBuffer)], [7, 8]);
  wx.current!.serverClose(4003, 'no');
  await clock.advance(50);
  assert.deepEqual(ev.close.at(-1), { code: 4003, reason: 'no', willReconnect: false });
});

test('base64 codec round-trips every length and byte', () => {
  for (let n = 0; n < 70; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
    const b64 = toBase64(bytes.buffer);
    assert.equal(b64, Buffer.from(bytes).toString('base64'));
    assert.deepEqual([...new Uint8Array(fromBase64(b64))], [...bytes]);
  }
});

test('web: a WebSocket constructor that throws (bad URL) is one failed attempt, reported as ERR_SOCKET', async () => {
  const clock = new FakeClock();
  let n = 0;
  class Throwing extends FakeWebSocket {
    constructor(url: string) {
      if (n++ === 0) throw new SyntaxError('The URL is invalid');
      super(url);
    }
  }
  const client = createWebClient({ ...common(clock), platform: webPlatform(Throwing as never, {}) });
  const ev = record(client);
  await clock.advance(0);
  await clock.advance(0);
  assert.equal(ev.error[0]!.code, 'ERR_SOCKET');
  assert.match(ev.error[0]!.message, /URL is invalid/);
  await clock.until(() => FakeWebSocket.all.length > 0 && n === 2);
});
