/**
 * Request ids as idempotency keys: a bounded, time-windowed memory of which requests are in
 * progress (duplicates wait for the first) and which are done (duplicates get the stored ack).
 * Done entries are also queued in the order they finished, so expiry and the entry cap only
 * ever look at the head of that queue. (Iterating the Map from its start instead was 12 % of
 * the request path's CPU once the cap was reached: V8 skips every deleted slot at the head.)
 * The queue holds the entries themselves, not their keys: with 100,000 ids remembered every
 * Map operation is a cache miss, and a request costs three of them (the lookup, the insert,
 * and the removal of the oldest at the cap) rather than five.
 */
export interface DedupEntry<W> {
  /** The encoded ack once done; undefined while the first request is still being processed. */
  ack: string | undefined;
  /** Who else sent the same id while it was in progress (answered when it settles). */
  waiters: W[] | undefined;
  /** When it was done (ms); 0 while in progress. */
  doneAt: number;
  /** Its index in the done queue; -1 while in progress or once forgotten. */
  at: number;
  readonly key: string;
}

export class Dedup<W> {
  private readonly entries = new Map<string, DedupEntry<W>>();
  /** Done entries, oldest first from `head` (forgotten ones, `at` no longer their index, are skipped). */
  private order: DedupEntry<W>[] = [];
  private head = 0;

  constructor(
    private readonly window: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The entry for `key` if it is in progress or done within the window. */
  get(key: string): DedupEntry<W> | undefined {
    const e = this.entries.get(key);
    if (e !== undefined && e.ack !== undefined && e.doneAt + this.window <= this.now()) {
      this.entries.delete(key);
      e.at = -1;
      return undefined;
    }
    return e;
  }

  /** Marks `key` in progress. */
  begin(key: string): DedupEntry<W> {
    this.evict();
    const e: DedupEntry<W> = { ack: undefined, waiters: undefined, doneAt: 0, at: -1, key };
    this.entries.set(key, e);
    return e;
  }

  /**
   * Stores the answer (queued at the tail: it expires last); returns who was waiting. `e` is
   * still in the map: an entry in progress leaves it only through done or abandon.
   */
  done(key: string, e: DedupEntry<W>, ack: string): W[] | undefined {
    const waiters = e.waiters;
    e.waiters = undefined;
    e.ack = ack;
    e.doneAt = this.now();
    if (this.window === 0) this.entries.delete(key);
    else {
      e.at = this.order.length;
      this.order.push(e);
    }
    return waiters;
  }

  /** Forgets `key` (a request that timed out: a resend may process it again); returns who was waiting. */
  abandon(key: string, e: DedupEntry<W>): W[] | undefined {
    if (this.entries.get(key) === e) this.entries.delete(key);
    const waiters = e.waiters;
    e.waiters = undefined;
    return waiters;
  }

  /** Drops expired done entries and, over the cap, the oldest done ones. In-progress entries
   * are bounded by the request timeout and are never dropped here. */
  private evict(): void {
    const expired = this.now() - this.window;
    const order = this.order;
    let h = this.head;
    while (h < order.length) {
      const e = order[h]!;
      if (e.at === h) {
        if (this.entries.size < this.maxEntries && e.doneAt > expired) break;
        this.entries.delete(e.key);
        e.at = -1;
      }
      h++;
    }
    this.head = h;
    if (h >= 1024 && h * 2 >= order.length) {
      // Compact: drop the consumed part and renumber what is left.
      const rest = (this.order = order.slice(h));
      for (let i = 0; i < rest.length; i++) {
        const e = rest[i]!;
        if (e.at === i + h) e.at = i;
      }
      this.head = 0;
    }
  }
}
