// hub: admission into the connection set, per-IP counts, the shared listeners, contained
// hooks and broadcast, with scriptable sockets (fake timers for the refusal grace period).
// The e2e twins: test/server-limits.e2e.test.ts (caps over real sockets) and server.test.ts.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import { CloseCode } from '@wss-mp/protocol';
import { Hub, REFUSE_GRACE_MS, type HubOptions, type ServerSocket } from '../../src/server/hub';
import { Logger, type LogEntry } from '../../src/common/log';

class FakeSocket extends EventEmitter {
  readyState = 1;
  bufferedAmount = 0;
  conn: unknown = undefined;
  sent: Array<[string, boolean]> = [];
  closedWith: [number, string] | undefined;
  terminated = false;
  send(data: Buffer | string, opts: { binary: boolean }): void {
    this.sent.push([data.toString(), opts.binary]);
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
    this.readyState = 2;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
  ping(): void {}
  /** What ws does when the socket is gone: emit close once. */
  finish(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.emit('close', code, Buffer.from(reason));
  }
}

const req = (url = '/wss', headers: http.IncomingHttpHeaders = {}) => ({ url, headers }) as http.IncomingMessage;

function hub(opts: Partial<HubOptions<any>> = {}) {
  const logs: LogEntry[] = [];
  const h = new Hub({ maxConnections: 0, maxConnectionsPerIp: 0, maxBufferedAmount: 1 << 20, coalesceWrites: false, ipv6Prefix: 64, maxUnfinishedBytes: 1 << 20, maxUnfinishedTotal: 64 << 20, messageTimeout: 30_000, ...opts }, new Logger((e) => logs.push(e), false));
  const open = (ip = '203.0.113.1', url?: string, headers?: http.IncomingHttpHeaders) => {
    const ws = new FakeSocket();
    h.open(ws as unknown as ServerSocket, req(url, headers), ip, ip, '/wss', undefined);
    return ws;
  };
  return { h, logs, open };
}

test('open: ids count up; every socket shares the same four listeners; headers kept only with hooks', () => {
  const { h, open } = hub();
  const a = open();
  const b = open();
  assert.deepEqual([...h.conns].map((c) => c.id), [1, 2]);
  for (const ev of ['message', 'ping', 'pong', 'error', 'close']) {
    assert.equal(a.listeners(ev)[0], b.listeners(ev)[0], `${ev} listener shared`);
  }
  assert.equal(a.listeners('ping')[0], a.listeners('pong')[0]);
  assert.deepEqual([...h.conns][0]!.headers, {}, 'the echo server keeps no headers');
  const withHook = hub({ onClose: () => {} });
  withHook.open('203.0.113.1', '/wss?x=1', { 'x-app': 'demo' });
  const c = [...withHook.h.conns][0]!;
  assert.equal(c.headers['x-app'], 'demo');
  assert.equal(c.url, '/wss?x=1');
});

test('echo without onMessage; {"type":"ping"} is answered with a pong, never reaching the hook', () => {
  const seen: unknown[] = [];
  const echo = hub().open();
  echo.emit('message', Buffer.from('hi'), false);
  echo.emit('message', Buffer.from([1, 2]), true);
  assert.deepEqual(echo.sent, [['hi', false], ['\u0001\u0002', true]]);
  const hooked = hub({ onMessage: (_c, d) => void seen.push(d) }).open();
  hooked.emit('message', Buffer.from('{"type":"ping"}'), false);
  hooked.emit('message', Buffer.from('text'), false);
  assert.deepEqual(hooked.sent, [['{"type":"pong"}', false]]);
  assert.deepEqual(seen, ['text'], 'text frames reach the hook as strings');
});

test('caps: over the per-IP cap the socket is closed 1013, logged, and terminated after the grace period', (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const { h, logs, open } = hub({ maxConnectionsPerIp: 1 });
  const first = open('198.51.100.7');
  const second = open('198.51.100.7');
  assert.deepEqual(second.closedWith, [CloseCode.TRY_AGAIN_LATER, 'too many connections from your address']);
  assert.equal(h.conns.size, 1);
  assert.equal(logs.at(-1)?.event, 'reject');
  assert.equal(logs.at(-1)?.code, CloseCode.TRY_AGAIN_LATER);
  mock.timers.tick(REFUSE_GRACE_MS - 1);
  assert.equal(second.terminated, false);
  mock.timers.tick(1);
  assert.equal(second.terminated, true, 'a peer that never finishes closing is cut');
  // Another IP still gets in; when the first closes, its IP may connect again.
  assert.equal(open('198.51.100.8').closedWith, undefined);
  first.finish();
  assert.equal(open('198.51.100.7').closedWith, undefined);
  assert.equal(h.conns.size, 2);
});

test('draining: a socket that finishes its handshake now gets 1001, unlogged', () => {
  const { h, logs, open } = hub();
  h.draining = true;
  const ws = open();
  assert.deepEqual(ws.closedWith, [CloseCode.GOING_AWAY, 'server shutting down']);
  assert.equal(h.conns.size, 0);
  assert.equal(logs.filter((l) => l.event === 'reject').length, 0);
});

test('hooks are contained: a throw or a rejection closes that connection 1011 and reaches onError', async () => {
  const errors: string[] = [];
  let rejectLater!: (e: Error) => void;
  const { h, logs, open } = hub({
    onConnect: (c) => {
      if (c.id === 1) throw new Error('boom');
      return new Promise<void>((_r, reject) => (rejectLater = reject));
    },
    onError: (e, c) => void errors.push(`${c?.id} ${e.message}`),
  });
  const a = open();
  assert.deepEqual(a.closedWith, [CloseCode.INTERNAL_ERROR, 'internal error']);
  assert.equal([...h.conns][0]!.endReason, 'onConnect threw');
  const b = open();
  assert.equal(b.closedWith, undefined);
  rejectLater(new Error('later'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(b.closedWith, [CloseCode.INTERNAL_ERROR, 'internal error']);
  assert.deepEqual(errors, ['1 boom', '2 later']);
  assert.deepEqual(logs.filter((l) => l.event === 'error').map((l) => l.where), ['onConnect', 'onConnect']);
});

test('a throwing onClose or onError is logged; the hub still forgets the connection', () => {
  const { h, logs, open } = hub({
    onClose: () => { throw new Error('close hook'); },
    onError: () => { throw new Error('error hook'); },
  });
  const ws = open();
  ws.emit('error', Object.assign(new Error('bad frame'), { code: 'WS_ERR_INVALID_OPCODE' }));
  ws.finish(1002);
  assert.equal(h.conns.size, 0);
  const close = logs.find((l) => l.event === 'close');
  assert.equal(close?.error, 'WS_ERR_INVALID_OPCODE');
  // onClose's throw is reported to onError, whose own throw is logged too.
  assert.deepEqual(logs.filter((l) => l.event === 'error').map((l) => l.where), ['onError', 'onClose', 'onError']);
});

test('broadcast: to every open connection but the one named; strings encoded once, sent as text', () => {
  const { h, open } = hub();
  const [a, b, c] = [open(), open(), open()];
  c.readyState = 3; // closed, not yet removed
  const sender = [...h.conns][0]!;
  assert.equal(h.broadcast('hello', { except: sender }), 1);
  assert.deepEqual([a.sent, b.sent, c.sent], [[], [['hello', false]], []]);
  assert.equal(h.broadcast(Buffer.from('x')), 2);
  assert.deepEqual(a.sent, [['x', true]]);
});
