import type { Clock } from './options';

/**
 * Application heartbeat (a SocketTask has no protocol ping and cannot see pongs).
 *
 * Any inbound frame is proof of life and re-arms two timers: a ping after `interval` ms of inbound
 * silence (then every `interval` while the silence lasts), and the verdict `dead()` after
 * `interval + timeout`. `timeout = 0` is keepalive only: pings, never a verdict (for servers that
 * never answer). Each answer to a ping writes the round trip to `stats.rtt`.
 */
export interface Heartbeat {
  start(): void;
  stop(): void;
  /** An inbound frame arrived; `pong` = it answers our ping (gives an RTT sample). */
  seen(pong: boolean): void;
  /** Verify the link now (app shown, network changed): ping at once, verdict after `timeout`. */
  probe(): void;
  /** A ping is out and unanswered: a frame equal to it now is its echo, not the server's ping. */
  out(): boolean;
}

export function createHeartbeat(
  clock: Clock,
  interval: number,
  timeout: number,
  ping: () => void,
  dead: () => void,
  stats: { rtt: number | null },
): Heartbeat {
  let pingTimer: unknown;
  let deadTimer: unknown;
  let pingAt = 0;
  let running = false;
  const stop = () => {
    running = false;
    clock.clearTimeout(pingTimer);
    clock.clearTimeout(deadTimer);
  };
  const beat = () => {
    pingAt = clock.now() || 1;
    ping();
    pingTimer = clock.setTimeout(beat, interval);
  };
  // Silence starts now; the first ping goes after `wait`.
  const arm = (wait: number) => {
    stop();
    if (!interval) return;
    running = true;
    pingTimer = clock.setTimeout(beat, wait);
    if (timeout) deadTimer = clock.setTimeout(dead, wait + timeout);
  };
  return {
    start() {
      // A new socket: a ping left unanswered on the previous one is not out on this one.
      pingAt = 0;
      arm(interval);
    },
    stop,
    seen(pong) {
      if (pong && pingAt) {
        stats.rtt = clock.now() - pingAt;
        pingAt = 0;
      }
      if (running) arm(interval);
    },
    probe: () => arm(0),
    out: () => pingAt > 0,
  };
}
