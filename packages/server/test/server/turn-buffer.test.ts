// The server's own framing (src/server/turn-buffer.ts): byte for byte what ws's Sender frames
// for the same payload, and the ws internals it relies on, so a ws upgrade that changes them
// fails here. Frames on real sockets, in order with ws's own: coalesce.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { DIRECT_BYTES, frameLength, writeFrame, type SenderInternals } from '../../src/server/turn-buffer';

type SenderClass = { prototype: SenderInternals; frame(d: Buffer, o: object): Buffer[] };
const wsExports = wsModule as unknown as { Sender?: SenderClass; default?: { Sender?: SenderClass } };
const Sender = (wsExports.Sender ?? wsExports.default?.Sender)!;

/** ws's own server-side frame (unmasked, final) for `data`, as one Buffer. */
function wsFrame(data: Buffer, binary: boolean): Buffer {
  return Buffer.concat(Sender.frame(data, { fin: true, opcode: binary ? 2 : 1, mask: false, readOnly: true, rsv1: false }));
}

test('writeFrame writes what ws frames, for every header size below DIRECT_BYTES and every payload type', () => {
  const lengths = [0, 1, 125, 126, 127, 255, 256, 1024, 4096, DIRECT_BYTES - 1];
  for (const len of lengths) {
    const bytes = Buffer.alloc(len);
    for (let i = 0; i < len; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const ascii = 'a'.repeat(len);
    const inputs: Array<[string | ArrayBuffer | ArrayBufferView, boolean, Buffer]> = [
      [bytes, true, bytes],
      [ascii, false, Buffer.from(ascii)],
      [bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + len), true, bytes],
      [new DataView(bytes.buffer, bytes.byteOffset, len), true, bytes],
    ];
    for (const [data, binary, payload] of inputs) {
      // Written at an offset into a dirty buffer, as the second frame of a turn would be.
      const out = Buffer.alloc(3 + frameLength(len) + 5, 0xee);
      const end = writeFrame(out, 3, data, binary, payload.length);
      assert.equal(end, 3 + frameLength(len), `end for ${len} (${typeof data})`);
      assert.deepEqual(out.subarray(3, end), wsFrame(payload, binary), `frame for ${len} (${typeof data})`);
      assert.equal(out[end], 0xee, 'nothing written past the frame');
    }
  }
  // Multi-byte UTF-8 (and a lone surrogate, which both encode as U+FFFD): the length is in bytes.
  for (const s of ['é漢🙂'.repeat(40), 'a\ud800b']) {
    const len = Buffer.byteLength(s);
    const out = Buffer.alloc(frameLength(len));
    assert.equal(writeFrame(out, 0, s, false, len), out.length);
    assert.deepEqual(out, wsFrame(Buffer.from(s), false));
  }
  // A typed array wider than a byte goes out as its bytes.
  const u16 = new Uint16Array([1, 2, 0xffff]);
  const out = Buffer.alloc(frameLength(6));
  writeFrame(out, 0, u16, true, 6);
  assert.deepEqual(out, wsFrame(Buffer.from(u16.buffer), true));
});

test('the ws internals turn-buffer.ts uses are there: Sender#sendFrame, WebSocket#_sender, Sender#_state 0 when idle', async (t) => {
  assert.equal(typeof Sender.prototype.sendFrame, 'function');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.after(() => wss.close());
  await once(wss, 'listening');
  const c = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  c.on('error', () => {});
  t.after(() => c.terminate());
  const [[ws]] = (await Promise.all([once(wss, 'connection'), once(c, 'open')])) as [[WebSocket], unknown];
  const sender = (ws as unknown as { _sender?: SenderInternals })._sender;
  assert.ok(sender, 'a server WebSocket has _sender');
  assert.equal(sender._state, 0, 'default state while no Blob is being read');
  assert.equal(sender.sendFrame, Sender.prototype.sendFrame);
  // ws writes every frame of its own (a ping here) through sendFrame.
  let calls = 0;
  const orig = sender.sendFrame;
  sender.sendFrame = function (list, cb) {
    calls++;
    return orig.call(this, list, cb);
  };
  ws.ping('x');
  ws.send('y');
  ws.close(1000);
  assert.equal(calls, 3);
});
