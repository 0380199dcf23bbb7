/**
 * Framing a turn's small frames ourselves, into one buffer per connection, rather than through
 * `ws`'s Sender (the second half of write coalescing; cork.ts is the first).
 *
 * Why: with the socket corked for the turn, each `ws.send` still cost an options object, a
 * header Buffer and two `write()` calls through Node's stream machinery (a queued entry each),
 * and at the uncork the TLS layer copied the 2 × N pieces into one buffer again. A server frame
 * is unmasked and, without permessage-deflate (which the server never negotiates), is a 2- or
 * 4-byte header and the payload: writing both straight into one buffer per connection and turn
 * leaves one `write()` per turn, with one copy of the payload. It also copies each echoed
 * message out of the socket read chunk it arrived in, so a queued echo no longer keeps that
 * chunk alive (see Connection.sendFrame for the accounting the views needed).
 *
 * Order with what `ws` writes itself (pings, pongs, close frames, large messages, a Blob): the
 * Sender of each connection gets its `sendFrame` replaced by one shared function that first
 * hands the connection's buffered frames to the socket. Every frame `ws` writes goes through
 * `sendFrame` while the Sender is in its default state (no deflate, no Blob being read); while
 * it is not, sends go through `ws` (which queues them in order).
 *
 * ws internals used (checked by test/server/turn-buffer.test.ts against the installed ws):
 * `WebSocket#_sender`, `Sender#sendFrame`, `Sender#_state` (0 = default).
 */
import type { WebSocket } from 'ws';
import { wsClass } from './ws-class';

/** Payloads from this size go through `ws` unbuffered: copying them would cost more than it saves. */
export const DIRECT_BYTES = 16 * 1024;
/** Buffers up to this size are slices of Node's shared pool (Buffer.allocUnsafe's rule). */
export const POOLED_BYTES = (Buffer.poolSize >>> 1) - 1;
/** The largest first buffer of a turn: a turn larger than that leaves in slices anyway (connection.ts). */
const MAX_FIRST_BYTES = 64 * 1024;

/** What the shared sendFrame needs from a connection. */
export interface TurnBuffered {
  /** Writes the frames buffered so far to the socket (still corked for the turn). */
  flushOut(): void;
}

/** The parts of ws's Sender this module touches. */
export interface SenderInternals {
  _state: number;
  sendFrame(list: Buffer[], cb?: (err?: Error | null) => void): void;
  /** The connection whose frames go first (set by adoptSender). */
  wssMpConn?: TurnBuffered;
}

const senderSendFrame = wsClass<{ prototype: SenderInternals }>('Sender').prototype.sendFrame;

/** Every frame `ws` writes itself: the connection's buffered frames leave first. */
function sendFrameAfterBuffered(this: SenderInternals, list: Buffer[], cb?: (err?: Error | null) => void): void {
  this.wssMpConn!.flushOut();
  senderSendFrame.call(this, list, cb);
}

/** Routes `ws`'s own frames for `ws` behind `conn`'s buffer; returns the Sender to check `_state` on. */
export function adoptSender(ws: WebSocket, conn: TurnBuffered): SenderInternals {
  const sender = (ws as unknown as { _sender: SenderInternals })._sender;
  sender.wssMpConn = conn;
  sender.sendFrame = sendFrameAfterBuffered;
  return sender;
}

/** Bytes a server frame with this payload length takes (payloads below DIRECT_BYTES only). */
export function frameLength(len: number): number {
  return len + (len < 126 ? 2 : 4);
}

/**
 * Writes one unmasked, final frame (text or binary) at `pos`; returns the position after it.
 * `len` is the payload's byte length (Buffer.byteLength for a string), below 65,536.
 */
export function writeFrame(
  out: Buffer,
  pos: number,
  data: string | ArrayBuffer | ArrayBufferView,
  binary: boolean,
  len: number,
): number {
  out[pos++] = binary ? 0x82 : 0x81;
  if (len < 126) {
    out[pos++] = len;
  } else {
    out[pos++] = 126;
    out[pos++] = len >>> 8;
    out[pos++] = len & 0xff;
  }
  if (typeof data === 'string') return pos + out.write(data, pos, len, 'utf8');
  if (data instanceof Uint8Array) out.set(data, pos);
  else if (ArrayBuffer.isView(data)) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
  else out.set(new Uint8Array(data), pos);
  return pos + len;
}

/** Size of a turn's first buffer: what the connection's last turn framed, at least `need`. */
export function firstBufferSize(need: number, lastTurn: number): number {
  return Math.max(need, Math.min(lastTurn, MAX_FIRST_BYTES));
}

/**
 * A buffer for the rest of a turn that outgrew one of `had` bytes: at least `need`, and twice
 * `had`, so a turn larger than the last takes few buffers.
 */
export function growBuffer(need: number, had: number): Buffer {
  return Buffer.allocUnsafe(Math.max(need, 2 * had));
}
