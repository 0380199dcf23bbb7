import type { Clock } from './options';

/**
 * Application heartbeat (a SocketTask has no protocol ping and cannot see pongs).
 *
 * Any inbound frame is proof of life. After `interval` ms of inbound silence a ping goes out;
 * once `interval + timeout` ms pass with still nothing inbound, `dead()` runs. `timeout = 0` is
 * keepalive only: pings every `interval` of silence, never a verdict (servers that never answer).
 * One lazy timer: inbound frames only move a timestamp, they never touch timers.
 */
export interface Heartbeat {
  start(): void;
  stop(): void;
  /** An inbound frame arrived; `pong` = it answered our ping (gives an RTT sample). */
  seen(pong: boolean): void;
  /** Verify the link now (app shown, network changed): ping at once, verdict after `timeout`. */
  probe(): void;
}

export function createHeartbeat(
  clock: Clock,
  interval: number,
  timeout: number,
  ping: () => void,
  dead: () => void,
  rtt: (ms: number) => void,
): Heartbeat {
  let timer: unknown;
  let lastIn = 0;
  let pingAt = -1;
  const stop = () => {
    clock.clearTimeout(timer);
    timer = undefined;
  };
  const tick = () => {
    const now = clock.now();
    if (timeout && now - lastIn >= interval + timeout) {
      stop();
      return dead();
    }
    if (now - Math.max(lastIn, pingAt) >= interval) {
      pingAt = now;
      ping();
    }
    const next = Math.min(Math.max(lastIn, pingAt) + interval, timeout ? lastIn + interval + timeout : Infinity);
    timer = clock.setTimeout(tick, next - now);
  };
  const start = () => {
    stop();
    if (!interval) return;
    lastIn = clock.now();
    pingAt = -1;
    tick();
  };
  return {
    start,
    stop,
    seen(pong) {
      const now = clock.now();
      if (pong && pingAt >= 0) {
        rtt(now - pingAt);
        pingAt = -1;
      }
      lastIn = now;
    },
    probe() {
      if (!interval) return;
      stop();
      lastIn = clock.now() - interval;
      pingAt = -1;
      tick();
    },
  };
}
