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
  /** Failed attempts in a row since the last stable connection (or reset). */
  readonly fails: number;
  /** Retries scheduled since then (the last one's number, 1-based). */
  readonly retries: number;
  /** Counts one failed attempt (a drop of an open socket is not one). */
  failed(): void;
  /** Counts one more retry and returns its delay. */
  next(): number;
  reset(): void;
  opened(now: number): void;
  /** A connection ended: resets the count if it had been open for at least minUptime. */
  closed(now: number): void;
}

export function createBackoff(o: BackoffOptions, random: () => number): Backoff {
  let failures = 0;
  let n = 0;
  let openedAt = -1;
  const reset = () => {
    failures = n = 0;
  };
  return {
    get fails() {
      return failures;
    },
    get retries() {
      return n;
    },
    failed: () => void failures++,
    next: () => backoffDelay(n++, o, random),
    reset,
    opened(now) {
      openedAt = now;
    },
    closed(now) {
      if (openedAt >= 0 && now - openedAt >= o.minUptime) reset();
      openedAt = -1;
    },
  };
}
