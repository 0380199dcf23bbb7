import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloseCode,
  isTerminalCloseCode,
  isClientSendableCloseCode,
  isWireCloseCode,
  utf8ByteLength,
  isPingFrame,
  isPongFrame,
  PING_FRAME,
  PONG_FRAME,
} from '../src/index';

test('terminal codes are exactly 4001, 4003, 4009 and 3500–3999', () => {
  for (const code of [CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN, CloseCode.REPLACED, 3500, 3999]) {
    assert.equal(isTerminalCloseCode(code), true, String(code));
  }
  // "no pong" closes (4000 in many backends, Centrifugo's 3012), our own codes, 1xxx: retried.
  for (const code of [3499, 3012, 4000, 4002, 4499, 4500, CloseCode.HEARTBEAT_TIMEOUT, CloseCode.NETWORK_LOST, 1000, 1001, 1006]) {
    assert.equal(isTerminalCloseCode(code), false, String(code));
  }
});

test('client-sendable codes are 1000 and 3000–4999 integers', () => {
  for (const ok of [1000, 3000, 4001, 4999]) assert.equal(isClientSendableCloseCode(ok), true, String(ok));
  for (const bad of [999, 1001, 1006, 2999, 5000, 4000.5]) assert.equal(isClientSendableCloseCode(bad), false, String(bad));
});

test('wire codes exclude reserved 1004–1006 and 1015', () => {
  assert.equal(isWireCloseCode(1000), true);
  assert.equal(isWireCloseCode(1009), true);
  for (const bad of [1004, 1005, 1006, 1015, 2000, 5000]) assert.equal(isWireCloseCode(bad), false, String(bad));
});

test('every registry code is a valid wire code except the reserved ones', () => {
  for (const [name, code] of Object.entries(CloseCode)) {
    const reserved = code === 1005 || code === 1006;
    assert.equal(isWireCloseCode(code), !reserved, name);
  }
});

test('utf8ByteLength matches Buffer.byteLength', () => {
  for (const s of ['', 'tom', 'é', '微信小程序', '😀x', '\ud800', 'a\udc00b']) {
    assert.equal(utf8ByteLength(s), Buffer.byteLength(s, 'utf8'), JSON.stringify(s));
  }
});

test('heartbeat frames are recognised exactly', () => {
  assert.equal(isPingFrame(PING_FRAME), true);
  assert.equal(isPongFrame(PONG_FRAME), true);
  assert.equal(isPingFrame(PONG_FRAME), false);
  assert.equal(isPingFrame('{"type":"ping" }'), false);
  assert.equal(isPingFrame(new ArrayBuffer(15)), false);
});
