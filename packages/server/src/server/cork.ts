/**
 * Write coalescing ("corking", as µWebSockets calls it): the first frame sent to a connection
 * in an event-loop turn corks its socket, and one setImmediate shared by every corked socket
 * uncorks them all at the end of the turn. The frames of that turn (echoes, hook sends,
 * broadcasts, heartbeat pongs and pings, a close) then leave as one `writev`: for TLS one
 * SSL_write and one record instead of one per frame, one syscall and one trip through the
 * stream machinery. Order is the stream's own (a cork only queues), `bufferedAmount` keeps
 * counting the queued bytes (Node counts corked writes in `writableLength`), and `end()`
 * uncorks fully, so a closing handshake that ends the socket never strands a frame. Small frames
 * do not even reach the socket one by one: the connection frames them into a buffer of its own
 * (turn-buffer.ts), which the flush hands to the socket just before the uncork.
 *
 * The pending list is a module-level array of the connections themselves, not a closure or
 * an Immediate per connection: corking costs no allocation on the per-message path.
 */

/** What the flush list holds: a connection's socket and its "corked this turn" flag. */
export interface TurnCorked {
  /** True from the first frame of a turn until the flush; set and cleared only here. */
  inTurn: boolean;
  /** The connection's transport (the TLS or TCP socket under `ws`). */
  readonly raw: { cork(): void; uncork(): void; destroy(err?: Error): void };
  /** Hands the frames the connection framed itself this turn to `raw` (before the uncork). */
  endTurn(): void;
}

const pending: (TurnCorked | undefined)[] = [];
let count = 0;
let scheduled = false;

/** Corks `c` until the end of the current event-loop turn (no-op if it already is). */
export function corkForTurn(c: TurnCorked): void {
  if (c.inTurn) return;
  c.inTurn = true;
  c.raw.cork();
  pending[count++] = c;
  if (!scheduled) {
    scheduled = true;
    // setImmediate runs in the check phase, right after the poll phase that delivered the
    // reads whose answers were corked: nothing waits past this turn (a timer or a send from
    // a later phase is flushed by the next turn's check phase, the poll not blocking while
    // an immediate is pending).
    setImmediate(flushTurn);
  }
}

/** Uncorks every socket corked this turn, in the order they were corked. */
export function flushTurn(): void {
  scheduled = false;
  // `count` is re-read each time: an uncork that (synchronously) leads to another send
  // re-corks and appends, and is flushed in this same pass.
  for (let i = 0; i < count; i++) {
    const c = pending[i]!;
    pending[i] = undefined;
    c.inTurn = false;
    try {
      c.endTurn();
      c.raw.uncork();
    } catch (err) {
      // Node streams report write failures through callbacks or 'error', so this is a broken stream:
      // end that one connection (ws then reports the error and closes it), never leave the
      // other sockets corked, and do not throw out of the immediate (that would end the process).
      c.raw.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }
  count = 0;
}

/** Sockets waiting for the end-of-turn flush (for tests). */
export function corkedCount(): number {
  return count;
}
