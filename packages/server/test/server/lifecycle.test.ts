// lifecycle: bind errors, the printed URL, and the drain (1001, deadline, terminate). The
// drain deadline runs on fake timers with scriptable connections; the e2e twin is the drain
// test in test/server-limits.e2e.test.ts.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { CloseCode } from '@wss-mp/protocol';
import type { Connection } from '../../src/server/connection';
import { displayHost, drain, listenOn, publicUrl } from '../../src/server/lifecycle';
import { WssMpServerError } from '../../src/common/errors';
import { Logger, type LogEntry } from '../../src/common/log';
import type { CertificateInfo } from '../../src/common/tls';

test('listenOn: resolves with the bound address; a busy port is ERR_LISTEN naming host and port', async (t) => {
  const a = http.createServer();
  const addr = await listenOn(a, 0, '127.0.0.1');
  t.after(() => a.close());
  assert.ok(addr.port > 0);
  const b = http.createServer();
  await assert.rejects(listenOn(b, addr.port, '127.0.0.1'), (e: unknown) =>
    e instanceof WssMpServerError && e.code === 'ERR_LISTEN' && e.message === `127.0.0.1 port ${addr.port} is already in use`);
  assert.equal(b.listenerCount('error'), 0, 'the one-shot error listener is gone');
});

test('publicUrl/displayHost: the certificate\'s first usable DNS name on all interfaces; default ports dropped', () => {
  const cert = { names: ['*.example.com', '10.0.0.1', 'api.example.com'] } as CertificateInfo;
  assert.equal(displayHost(undefined, cert), 'api.example.com');
  assert.equal(displayHost('::', { names: ['*.x.com'] } as CertificateInfo), 'localhost');
  assert.equal(displayHost('0.0.0.0', undefined), '127.0.0.1');
  assert.equal(displayHost('::1', undefined), '[::1]');
  assert.equal(publicUrl(true, undefined, cert, 443, '/wss'), 'wss://api.example.com/wss');
  assert.equal(publicUrl(false, '127.0.0.1', undefined, 80, '/'), 'ws://127.0.0.1/');
  assert.equal(publicUrl(false, '127.0.0.1', undefined, 8282, '/wss'), 'ws://127.0.0.1:8282/wss');
});

class FakeConn {
  socket = Object.assign(new EventEmitter(), {
    readyState: 1,
    closedWith: undefined as [number, string] | undefined,
    close(code: number, reason: string) {
      this.closedWith = [code, reason];
    },
  });
  endReason: string | undefined;
  terminatedFor: string | undefined;
  constructor(private readonly set: Set<FakeConn>) {
    set.add(this);
  }
  /** Connection.close: through the send path, then the socket's close. */
  close(code: number, reason: string) {
    this.socket.close(code, reason);
  }
  terminate(reason: string) {
    this.terminatedFor = reason;
    this.set.delete(this);
  }
  /** The client answered the 1001. */
  answer() {
    this.socket.readyState = 3;
    this.set.delete(this);
    this.socket.emit('close');
  }
}

test('drain: 1001 to all; those that answer go, the rest are terminated at the deadline', async (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const conns = new Set<FakeConn>();
  const polite = new FakeConn(conns);
  const stubborn = new FakeConn(conns);
  const logs: LogEntry[] = [];
  const done = drain(http.createServer(), conns as unknown as Set<Connection>, 5_000, new Logger((e) => logs.push(e), false));
  assert.deepEqual(polite.socket.closedWith, [CloseCode.GOING_AWAY, 'server shutting down']);
  assert.equal(stubborn.endReason, 'drain');
  polite.answer();
  mock.timers.tick(4_999);
  await Promise.resolve();
  assert.equal(stubborn.terminatedFor, undefined);
  mock.timers.tick(1);
  assert.equal(await done, 1);
  assert.equal(stubborn.terminatedFor, 'drain timeout');
  assert.equal(polite.terminatedFor, undefined);
  assert.deepEqual(logs.map((l) => [l.event, l.clients]), [['drain', 2]]);
});

test('drain: resolves as soon as every client has answered, terminating nobody', async () => {
  const conns = new Set<FakeConn>();
  const a = new FakeConn(conns);
  const done = drain(http.createServer(), conns as unknown as Set<Connection>, 60_000, new Logger(false, false));
  a.answer();
  assert.equal(await done, 0);
});

test('drain: a connection with requests in flight gets its 1001 only when they are answered; stuck ones are reported at the deadline', async (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const conns = new Set<FakeConn>();
  const idle = new FakeConn(conns);
  const busy = new FakeConn(conns);
  const stuck = new FakeConn(conns);
  const idleCallbacks = new Map<FakeConn, () => void>();
  const reported: [FakeConn, number][] = [];
  const logs: LogEntry[] = [];
  const done = drain(http.createServer(), conns as unknown as Set<Connection>, 5_000, new Logger((e) => logs.push(e), false), {
    whenIdle: (c, cb) => {
      if ((c as unknown as FakeConn) === idle) return false;
      idleCallbacks.set(c as unknown as FakeConn, cb);
      return true;
    },
    timedOut: (c, ms) => void reported.push([c as unknown as FakeConn, ms]),
  });
  assert.deepEqual(idle.socket.closedWith, [CloseCode.GOING_AWAY, 'server shutting down']);
  assert.equal(busy.socket.closedWith, undefined, 'kept open while its request runs');
  assert.equal(stuck.socket.closedWith, undefined);
  assert.equal(logs[0]!.requestsInFlight, 2);
  idle.answer();
  idleCallbacks.get(busy)!(); // its acks went out
  assert.deepEqual(busy.socket.closedWith, [CloseCode.GOING_AWAY, 'server shutting down']);
  assert.equal(busy.endReason, 'drain');
  busy.answer();
  mock.timers.tick(5_000);
  assert.equal(await done, 1);
  assert.deepEqual(reported, [[stuck, 5_000]], 'only the one still waiting is reported');
  assert.equal(stuck.terminatedFor, 'drain timeout');
  assert.equal(busy.terminatedFor, undefined);
});
