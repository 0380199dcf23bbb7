/**
 * Full-jitter exponential backoff (AWS "Exponential Backoff And Jitter"): the n-th retry waits
 * rand(0, min(max, base · 2^n)). Every client draws afresh per attempt, so clients that lost
 * the same server spread out instead of returning in lock-step.
 *
 * The failure count is reset only by a connection that stayed open at least `minUptime`, so a
 * server that accepts and drops at once cannot make the client loop fast.
 */
export interface BackoffOptions {
  backoffBase: number;
  backoffMax: number;
  minUptime: number;
}

export function backoffDelay(retry: number, o: BackoffOptions, random: () => number): number {
  return Math.floor(random() * Math.min(o.backoffMax, o.backoffBase * Math.pow(2, retry)));
}

export interface Backoff {
  /** Consecutive failed attempts since the last stable connection (or reset). */
  readonly fails: number;
  /** Counts one more failure and returns the delay before the next attempt. */
  next(): number;
  reset(): void;
  opened(now: number): void;
  /** A connection ended: resets the count if it had been open for at least minUptime. */
  closed(now: number): void;
}

export function createBackoff(o: BackoffOptions, random: () => number): Backoff {
  let failures = 0;
  let openedAt = -1;
  return {
    get fails() {
      return failures;
    },
    next: () => backoffDelay(failures++, o, random),
    reset() {
      failures = 0;
    },
    opened(now) {
      openedAt = now;
    },
    closed(now) {
      if (openedAt >= 0 && now - openedAt >= o.minUptime) failures = 0;
      openedAt = -1;
    },
  };
}
