// Write coalescing (coalesceWrites, src/cork.ts) on real sockets: createServer in-process over
// plain TCP and native TLS on loopback, a raw client that parses every frame the server sends
// (test/support/raw-frames.ts) and answers nothing by itself. What it must keep: the order and
// content of frames (data, pings, pongs, a close), the slow-consumer cap, and a drain that
// flushes what is corked. The CLI's SIGTERM twin is test/server-coalesce.e2e.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createServer, type Connection, type LogEntry, type ServerOptions } from '../../src/index';
import { corkedCount } from '../../src/server/cork';
import { createPki, issueLeaf, type Pki } from '../../../../test/support/certs';
import { OP, closePayload, parseClose, rawConnect, type ServerFrame, type Transport } from '../../../../test/support/raw-frames';
import { waitFor, within } from '../../../../test/support/wait';

const DEADLINE = 15_000; // generous: the machine may be loaded
const HEARTBEAT = '{"type":"ping"}';
const PONG = '{"type":"pong"}';

let pki: Pki;
let tlsFiles: { certFile: string; keyFile: string };
before(() => {
  pki = createPki('wss-mp-coalesce');
  const leaf = issueLeaf(pki);
  tlsFiles = { certFile: leaf.fullchain, keyFile: leaf.key };
});
after(() => pki.cleanup());

/**
 * A server on a random port, its log, a Transport for the raw client, and a count of the
 * writes each connection's socket made after the upgrade (a spy on the stream's _write and
 * _writev, the one place every queued chunk leaves through).
 */
async function start(mode: 'plain' | 'tls', opts: ServerOptions = {}) {
  const logs: LogEntry[] = [];
  const server = createServer({
    port: 0,
    heartbeatInterval: 0,
    drainTimeout: 0, // teardown: raw clients never answer a close
    logger: (e) => logs.push(e),
    ...(mode === 'tls' ? { tls: tlsFiles } : {}),
    ...opts,
  });
  const writes = new Map<Socket, number>();
  const sockets: Socket[] = [];
  // Registered after the server's own listener: the upgrade (and its 101) is done by then.
  server.httpServer.on('upgrade', (req) => {
    const s = req.socket as Socket & { _write: Function; _writev?: Function };
    sockets.push(s);
    writes.set(s, 0);
    const w = s._write;
    const wv = s._writev;
    s._write = function (...args: unknown[]) {
      writes.set(s, writes.get(s)! + 1);
      return w.apply(this, args);
    };
    if (wv) {
      s._writev = function (...args: unknown[]) {
        writes.set(s, writes.get(s)! + 1);
        return wv.apply(this, args);
      };
    }
  });
  const url = await server.listen();
  const port = Number(new URL(url).port);
  const transport: Transport = mode === 'tls' ? { port, ca: readFileSync(pki.caCert) } : { port };
  return { server, logs, transport, writes, sockets };
}

/** A readable summary of a payload: long ones by length and digest. */
function summary(kind: 'text' | 'bin', payload: Buffer): string {
  const body = kind === 'text' ? payload.toString() : payload.toString('hex');
  return payload.length <= 64 ? `${kind}:${body}` : `${kind}:${payload.length}:${createHash('sha1').update(payload).digest('hex')}`;
}

/** A readable summary of a frame, for comparing whole sequences. */
function show(f: ServerFrame): string {
  if (f.opcode === OP.TEXT) return summary('text', f.payload);
  if (f.opcode === OP.BINARY) return summary('bin', f.payload);
  if (f.opcode === OP.PING) return `ping:${f.payload.toString()}`;
  if (f.opcode === OP.CLOSE) {
    const c = parseClose(f.payload);
    return `close:${c.code}:${c.reason}`;
  }
  return `op${f.opcode}`;
}

/**
 * Every 30th send of a burst: the payload kinds and the lengths where the frame header changes
 * (125/126 bytes, 64 KiB) or the server stops framing itself and lets ws send (16 KiB,
 * turn-buffer.ts DIRECT_BYTES), empty ones, multi-byte UTF-8, and binary that is not a Buffer.
 */
const SPECIALS: Array<string | Buffer | ArrayBuffer | ArrayBufferView> = [
  '',
  Buffer.alloc(0),
  'x'.repeat(125),
  Buffer.alloc(126, 1),
  'é漢🙂'.repeat(30),
  Buffer.alloc(16 * 1024 - 1, 2),
  'y'.repeat(16 * 1024),
  Buffer.alloc(70_000, 3),
  new Uint16Array([1, 2, 0xffff]),
  new Uint8Array([9, 8, 7]).buffer,
];

/** What the burst's i-th send sends. */
function payloadAt(i: number): string | Buffer | ArrayBuffer | ArrayBufferView {
  if (i % 30 === 7) return SPECIALS[Math.floor(i / 30) % SPECIALS.length]!;
  return i % 3 === 2 ? Buffer.from([i & 0xff, i >> 8]) : `t${i}`;
}

/** The bytes a payload goes out as. */
function bytesOf(p: string | Buffer | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof p === 'string') return Buffer.from(p);
  if (ArrayBuffer.isView(p)) return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  return Buffer.from(p);
}

/** Sends of one turn: text and binary messages with a ping every 50, then a close. */
const BURST = 300;
function sendBurst(conn: Connection): void {
  for (let i = 0; i < BURST; i++) {
    conn.send(payloadAt(i));
    if (i % 50 === 0) conn.socket.ping(`p${i}`);
  }
  conn.close(4000, 'done');
}
function expectedBurst(): string[] {
  const out = [`text:${PONG}`];
  for (let i = 0; i < BURST; i++) {
    const p = payloadAt(i);
    out.push(summary(typeof p === 'string' ? 'text' : 'bin', bytesOf(p)));
    if (i % 50 === 0) out.push(`ping:p${i}`);
  }
  out.push('close:4000:done');
  return out;
}

for (const mode of ['plain', 'tls'] as const) {
  describe(`coalesced writes (${mode})`, () => {
    for (const coalesceWrites of [true, false]) {
      test(`many sends in one turn, interleaved with pings, a pong and a close: order and content kept (coalesceWrites ${coalesceWrites})`, async (t) => {
        const { server, transport, writes, sockets } = await start(mode, {
          coalesceWrites,
          onMessage(conn, data) {
            if (data === 'go') sendBurst(conn);
          },
        });
        t.after(() => server.close());
        const c = await rawConnect(transport);
        t.after(() => c.socket.destroy());
        // One client write: heartbeat, go, heartbeat. The second heartbeat comes after the
        // close was sent and gets no pong (the connection is closing).
        c.send({ opcode: OP.TEXT, payload: HEARTBEAT }, { opcode: OP.TEXT, payload: 'go' }, { opcode: OP.TEXT, payload: HEARTBEAT });
        await c.closeFrame(DEADLINE);
        assert.deepEqual(c.frames.map(show), expectedBurst());
        const n = writes.get(sockets[0]!)!;
        if (coalesceWrites) {
          // Everything above was sent in the turn that read the client's one write: one
          // write, plus one slice for passing 64 KiB, plus one if the read was split.
          assert.ok(n <= 3, `${BURST} frames, ${BURST / 50} pings, a pong and a close left in ${n} writes`);
        } else if (mode === 'plain') {
          // Bare ws behaviour: TCP writes complete at once, every frame is its own write.
          assert.ok(n >= BURST, `coalescing off: ${n} writes for ${BURST} frames`);
        }
        assert.equal(corkedCount(), 0, 'nothing left corked after the turn');
      });
    }

    test('a hook that sends and then throws: its frames, then 1011', async (t) => {
      const { server, transport } = await start(mode, {
        onMessage(conn) {
          for (let i = 0; i < 5; i++) conn.send(`m${i}`);
          throw new Error('hook failed after sending');
        },
        onError() {},
      });
      t.after(() => server.close());
      const c = await rawConnect(transport);
      t.after(() => c.socket.destroy());
      c.send({ opcode: OP.TEXT, payload: 'x' });
      await c.closeFrame(DEADLINE);
      assert.deepEqual(c.frames.map(show), ['text:m0', 'text:m1', 'text:m2', 'text:m3', 'text:m4', 'close:1011:internal error']);
    });

    test('a peer that stops reading is still terminated at maxBufferedAmount; no send succeeds above it', async (t) => {
      const cap = 256 * 1024;
      let maxAccepted = 0;
      let refused = 0;
      let openAfterRefusal: boolean | undefined;
      const chunk = Buffer.alloc(16 * 1024, 7);
      const { server, transport, logs } = await start(mode, {
        maxBufferedAmount: cap,
        onMessage(conn) {
          if (!conn.isOpen) return; // the rest of the read that carried the fatal message
          // 8 × 16 KiB per message, all in one turn: corked together.
          for (let i = 0; i < 8; i++) {
            if (!conn.send(chunk)) {
              refused++;
              openAfterRefusal = conn.isOpen;
              return;
            }
            maxAccepted = Math.max(maxAccepted, conn.bufferedAmount);
          }
        },
      });
      t.after(() => server.close());
      const c = await rawConnect(transport, { paused: true });
      t.after(() => c.socket.destroy());
      let gone = false;
      void c.ended.then(() => (gone = true));
      let sent = 0;
      // Kernel buffers on loopback take a few MiB before the server's queue grows at all.
      while (!gone && sent < 4000) {
        sent++;
        if (!c.send({ opcode: OP.TEXT, payload: 'more' })) {
          await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.ended]);
        } else if (sent % 16 === 0) {
          await new Promise((r) => setImmediate(r)); // let the server read (no timing assumed)
        }
      }
      await within(c.ended, DEADLINE, 'the non-reading peer to be cut');
      const line = await waitFor(() => logs.find((l) => l.event === 'close'), { timeout: DEADLINE, what: 'the close log line' });
      assert.match(String(line.by), /slow consumer/);
      assert.equal(refused, 1);
      assert.equal(openAfterRefusal, false, 'the refusing send terminated the connection');
      assert.ok(maxAccepted > 0 && maxAccepted <= cap, `largest bufferedAmount after an accepted send: ${maxAccepted} (cap ${cap})`);
    });

    test('close() (what SIGTERM runs) in the same turn as sends: the corked frames leave first, then 1001', async (t) => {
      let corkedAtClose = -1;
      let closing: Promise<void> | undefined;
      const { server, transport, sockets } = await start(mode, {
        drainTimeout: DEADLINE,
        onMessage(conn, data) {
          if (data !== 'bye') return;
          for (let i = 0; i < 200; i++) conn.send(`last${i}`);
          corkedAtClose = sockets[0]!.writableCorked;
          closing = server.close();
        },
      });
      t.after(() => server.close());
      const c = await rawConnect(transport);
      t.after(() => c.socket.destroy());
      c.send({ opcode: OP.TEXT, payload: 'bye' });
      await c.closeFrame(DEADLINE);
      assert.ok(corkedAtClose > 0, 'the frames were still corked when close() ran');
      const expected = Array.from({ length: 200 }, (_, i) => `text:last${i}`);
      assert.deepEqual(c.frames.map(show), [...expected, 'close:1001:server shutting down']);
      // Answer the close so the drain completes before its timeout.
      c.send({ opcode: OP.CLOSE, payload: closePayload(1001) });
      await within(closing!, DEADLINE, 'the drain to finish');
      assert.equal(server.connections.size, 0);
    });
  });
}

test('a turn above 64 KiB leaves in slices (the kernel takes them at once), still in order', async (t) => {
  const frame = (i: number) => Buffer.alloc(16 * 1024, i);
  const { server, transport, writes, sockets } = await start('plain', {
    onMessage(conn, data) {
      if (data === 'small') for (let i = 0; i < 3; i++) conn.send(frame(i)); // 48 KiB: one write
      if (data === 'big') for (let i = 0; i < 10; i++) conn.send(frame(i)); // 160 KiB: sliced
    },
  });
  t.after(() => server.close());
  const c = await rawConnect(transport);
  t.after(() => c.socket.destroy());
  c.send({ opcode: OP.TEXT, payload: 'small' });
  for (let i = 0; i < 3; i++) assert.equal((await c.nextFrame(DEADLINE)).payload.equals(frame(i)), true, `small frame ${i}`);
  assert.equal(writes.get(sockets[0]!), 1);
  c.send({ opcode: OP.TEXT, payload: 'big' });
  for (let i = 0; i < 10; i++) assert.equal((await c.nextFrame(DEADLINE)).payload.equals(frame(i)), true, `big frame ${i}`);
  const n = writes.get(sockets[0]!)! - 1;
  assert.ok(n >= 2 && n <= 4, `160 KiB in one turn left in ${n} writes (a slice per 64 KiB)`);
});

test('broadcast within one turn reaches each connection in order, one write each', async (t) => {
  const { server, transport, writes, sockets } = await start('plain', {
    onMessage(_conn, data) {
      if (data !== 'go') return;
      for (let i = 0; i < 100; i++) server.broadcast(`b${i}`);
      for (const conn of server.connections) conn.close(4000, 'done');
    },
  });
  t.after(() => server.close());
  const a = await rawConnect(transport);
  const b = await rawConnect(transport);
  t.after(() => (a.socket.destroy(), b.socket.destroy()));
  a.send({ opcode: OP.TEXT, payload: 'go' });
  await Promise.all([a.closeFrame(DEADLINE), b.closeFrame(DEADLINE)]);
  const expected = [...Array.from({ length: 100 }, (_, i) => `text:b${i}`), 'close:4000:done'];
  assert.deepEqual(a.frames.map(show), expected);
  assert.deepEqual(b.frames.map(show), expected);
  for (const s of sockets) assert.equal(writes.get(s), 1, 'one write per connection for the turn');
});
