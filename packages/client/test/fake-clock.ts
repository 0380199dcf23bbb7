// A deterministic clock for unit tests: timers run only when a test advances time. Between
// timers every pending promise callback is drained (setImmediate), so async steps of the
// client (endpoint providers) interleave with timers the way they would for real.
import type { Clock } from '../src/options';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export const flush = () => new Promise<void>((r) => setImmediate(r));

export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, Timer>();

  now = () => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms || 0), seq: id, fn });
    return id;
  };
  clearTimeout = (id: unknown) => {
    this.timers.delete(id as number);
  };

  /** Number of timers pending. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running every timer due on the way, in order. */
  async advance(ms = 0): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      let next: [number, Timer] | undefined;
      for (const e of this.timers) {
        if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq))) next = e;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await flush();
  }

  /** Advances in small steps until `cond()` holds; throws after `limit` ms of fake time. */
  async until(cond: () => boolean, limit = 120_000, step = 10): Promise<number> {
    const start = this.t;
    while (!cond()) {
      if (this.t - start > limit) throw new Error(`condition not met within ${limit} ms of fake time`);
      await this.advance(step);
    }
    return this.t - start;
  }
}

/** Deterministic randomness: a fixed value, or a sequence that repeats. */
export function fixedRandom(...values: number[]): () => number {
  let i = 0;
  const v = values.length ? values : [0.5];
  return () => v[i++ % v.length]!;
}
