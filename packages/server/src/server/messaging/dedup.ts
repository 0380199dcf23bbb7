/**
 * Request ids as idempotency keys: a bounded, time-windowed memory of which requests are in
 * progress (duplicates wait for the first) and which are done (duplicates get the stored ack).
 *
 * Done ids are kept in two generations, each a table from key to the encoded ack (answer-table.ts,
 * where a lookup of an id never seen costs about one cache miss): new answers go
 * to the young one; when it is full (maxEntries) or has been filling for a whole window, it
 * becomes the old one and the previous old one is dropped whole. Nothing is removed one entry at
 * a time, and a remembered answer is two strings and a slot, no record of its own: at 100,000
 * remembered answers the per-entry bookkeeping (an entry object, a queue in completion order, the
 * removal of the oldest on every insert) cost about as much CPU as the rest of a request, most of
 * it cache misses and garbage collection of the records.
 *
 * What is guaranteed, as before: every done id is answered from memory for at least `window` ms,
 * unless more than `maxEntries` others finished after it (the newest `maxEntries` are never
 * dropped for the count). What changed: an id may be remembered for up to twice the window, and up
 * to twice `maxEntries` ids may be held (the old generation is dropped whole, not trimmed).
 *
 * Requests in progress are few (a synchronous handler never has one: nothing else runs until it
 * returns) and live in a Map of their own, never dropped: the request timeout bounds them.
 */
import { AnswerTable, hashKey } from './answer-table';

export interface Pending<W> {
  /** Who else sent the same id while it was in progress (answered when it settles). */
  waiters: W[] | undefined;
}

/** Done answers of one generation. */
class Generation {
  readonly answers = new AnswerTable();
  /** When its first and its latest answer were stored (ms). */
  first = 0;
  last = 0;
}

export class Dedup<W> {
  private young: Generation;
  private old: Generation;
  private readonly pending = new Map<string, Pending<W>>();
  /**
   * The key of the latest lookup, its hash and the time then: a synchronous handler's answer is
   * stored next, in the same instant (an asynchronous one clears lastKey: time passes meanwhile).
   */
  private lastKey = '';
  private lastHash = 0;
  private lastNow = 0;

  constructor(
    private readonly window: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {
    this.young = new Generation();
    this.old = new Generation();
  }

  /** Remembered and in-progress ids. */
  get size(): number {
    return this.young.answers.size + this.old.answers.size + this.pending.size;
  }

  /** The stored ack of a done `key`, its Pending while in progress, or undefined. */
  get(key: string): string | Pending<W> | undefined {
    if (this.pending.size !== 0) {
      const p = this.pending.get(key);
      if (p !== undefined) return p;
    }
    if (this.young.answers.size === 0 && this.old.answers.size === 0) {
      this.lastKey = '';
      return undefined;
    }
    const now = (this.lastNow = this.now());
    this.expire(now);
    const h = (this.lastHash = hashKey(key));
    this.lastKey = key;
    return this.young.answers.get(key, h) ?? this.old.answers.get(key, h);
  }

  /** Marks `key` in progress (an asynchronous handler: duplicates wait for it). */
  begin(key: string): Pending<W> {
    const p: Pending<W> = { waiters: undefined };
    this.pending.set(key, p);
    this.lastKey = '';
    return p;
  }

  /**
   * Stores the answer of `key`; with `p` (begun), ends its progress and returns who was waiting.
   * A synchronous handler's answer is stored without a begin.
   */
  done(key: string, ack: string, p?: Pending<W>): W[] | undefined {
    const waiters = p === undefined ? undefined : this.settle(key, p);
    if (this.window === 0) return waiters;
    const same = key === this.lastKey;
    const now = same ? this.lastNow : this.now();
    if (!same) this.expire(now);
    let young = this.young;
    if (young.answers.size >= this.maxEntries) young = this.rotate(now);
    if (young.answers.size === 0) young.first = now;
    young.answers.set(key, same ? this.lastHash : hashKey(key), ack);
    young.last = now;
    return waiters;
  }

  /** Forgets `key` in progress (a request that timed out: a resend may process it again); returns who was waiting. */
  abandon(key: string, p: Pending<W>): W[] | undefined {
    return this.settle(key, p);
  }

  private settle(key: string, p: Pending<W>): W[] | undefined {
    if (this.pending.get(key) === p) this.pending.delete(key);
    const waiters = p.waiters;
    p.waiters = undefined;
    return waiters;
  }

  /**
   * Drops the old generation once its newest answer is a window old, and ages the young one
   * once it has been filling for a window: every answer then stays at least a window, at most two.
   */
  private expire(now: number): void {
    if (this.old.answers.size !== 0 && now - this.old.last >= this.window) this.old.answers.clear();
    if (this.young.answers.size !== 0 && now - this.young.first >= this.window) {
      this.rotate(now);
      if (now - this.old.last >= this.window) this.old.answers.clear();
    }
  }

  /** The young generation becomes the old one; the old one, emptied, the young one (returned). */
  private rotate(now: number): Generation {
    const dropped = this.old;
    dropped.answers.clear();
    dropped.first = now;
    this.old = this.young;
    return (this.young = dropped);
  }
}
