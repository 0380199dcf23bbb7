/**
 * Protocol-level heartbeat: every interval, each connection that showed no sign of life since
 * the previous sweep is terminated, and every other one is pinged. Any inbound frame (message,
 * ping, pong) sets `conn.alive` again.
 */

/** What a sweep needs of a connection (Connection has it; tests pass plain objects). */
export interface Beating {
  alive: boolean;
  terminate(reason: string): void;
  /** Sends a protocol ping through the connection's send path (coalesced with its turn). */
  ping(): void;
}

export function sweep(conns: Iterable<Beating>): void {
  for (const conn of conns) {
    if (!conn.alive) {
      conn.terminate('heartbeat timeout: no pong');
      continue;
    }
    conn.alive = false;
    try {
      conn.ping();
    } catch {
      /* closing already */
    }
  }
}

/** Sweeps `conns` every `intervalMs` (0: never); returns the stop function. The timer does
 * not keep the process alive. */
export function startHeartbeat(conns: Iterable<Beating>, intervalMs: number): () => void {
  if (intervalMs <= 0) return () => {};
  const timer = setInterval(sweep, intervalMs, conns);
  timer.unref();
  return () => clearInterval(timer);
}
