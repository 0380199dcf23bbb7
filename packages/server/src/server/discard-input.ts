/**
 * Stops parsing a connection's input for good, for a connection cut for flooding (4029).
 *
 * Why: Connection#cut pauses the socket, but that stops only the next reads. ws goes on parsing
 * the rest of the chunk it is in (a 16 KiB TLS record holds ~230 small frames), and when the
 * socket closes it feeds the parser everything the paused socket had buffered, looking for the
 * peer's close frame. A flooder keeps sending until it reads our close, so that is hundreds of
 * frames per cut: measured with one flooder cycling against the server, about 1,100 frames read
 * per connection, only ~360 of them before the cut (100 answered, 256 refused); the rest were
 * parsed (unmasked, UTF-8 checked, emitted, refused again) for nothing, in one go when the socket
 * closed: a stall of several milliseconds for every other client, at each cut.
 *
 * How: the receiver's parsing loop is told to stop after the current frame (`_loop`), and its
 * `_write` is replaced, on this receiver only, by one that drops the chunk: later chunks and the
 * buffered rest go nowhere. `end()` still finishes the receiver, so ws closes and reports the
 * close as usual; the close frame we sent is already queued ahead.
 *
 * ws internals used (checked by test/server/discard-input.test.ts against the installed ws):
 * `WebSocket#_receiver`, `Receiver#_loop`, `Receiver#_write`.
 */
import type { WebSocket } from 'ws';

interface ReceiverInternals {
  _loop: boolean;
  _write(chunk: Buffer, encoding: string, cb: (err?: Error) => void): void;
}

/** Takes a chunk and drops it (one function for every receiver: no closure per connection). */
function dropChunk(_chunk: Buffer, _encoding: string, cb: (err?: Error) => void): void {
  cb();
}

/** From now on nothing `ws` has read or will read on this connection is parsed. */
export function discardInput(ws: WebSocket): void {
  const r = (ws as unknown as { _receiver: ReceiverInternals | null | undefined })._receiver;
  if (!r) return;
  r._loop = false;
  r._write = dropChunk;
}
