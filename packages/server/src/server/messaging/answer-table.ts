/**
 * One generation of remembered answers (dedup.ts): request key → encoded ack, an open-addressing
 * hash table whose slots are one typed array (each key's 32-bit hash next to its entry's index).
 *
 * Why not a Map: nearly every lookup is of an id never seen, and in a Map of 100,000 strings that
 * miss walks a bucket chain in which every step is a cache miss (the entry, then the key's
 * header for its hash); inserting does the same walk again, and a Map emptied by clear() grows back
 * through rehashes that read every key once more. Here a miss is one read of the slot array, the
 * neighbouring slots sharing its cache line; keys are compared only when the 32-bit hashes match.
 *
 * Hash flooding: the hash is not a secret one, so a client could choose ids that collide. A probe
 * is therefore bounded (MAX_PROBE slots): a key that would need more goes to an overflow Map
 * (V8's seeded string hash), which a lookup asks once it ends its probe, when there is one. Collisions cost at
 * most MAX_PROBE slot reads and a Map lookup per request; they never change an answer.
 */

/** Slots read at most per lookup or insert before the overflow Map takes over. */
const MAX_PROBE = 32;
const MIN_SLOTS = 1024;

export class AnswerTable {
  /**
   * Per slot, side by side so that a probe reads one cache line: the key's hash, and its entry's
   * index + 1 (0: the slot is empty).
   */
  private slots = new Int32Array(2 * MIN_SLOTS);
  private mask = MIN_SLOTS - 1;
  private keys: string[] = [];
  private acks: string[] = [];
  /** Entries in use: keys[0..count) and acks[0..count). */
  private count = 0;
  private overflow: Map<string, string> | undefined = undefined;

  get size(): number {
    return this.count + (this.overflow?.size ?? 0);
  }

  get(key: string, h: number): string | undefined {
    const slots = this.slots;
    const mask = this.mask;
    let s = h & mask;
    for (let n = 0; n < MAX_PROBE; n++) {
      const i = slots[2 * s + 1]!;
      // An empty slot ends the probe, except for keys that overflowed before the table grew.
      if (i === 0) return this.overflow === undefined ? undefined : this.overflow.get(key);
      if (slots[2 * s] === h && this.keys[i - 1] === key) return this.acks[i - 1];
      s = (s + 1) & mask;
    }
    return this.overflow?.get(key);
  }

  /** Adds `key` (not in the table: the caller looked it up first). */
  set(key: string, h: number, ack: string): void {
    if (this.count + 1 > (this.mask + 1) / 2) this.grow();
    const e = this.count++;
    this.keys[e] = key;
    this.acks[e] = ack;
    if (!this.place(h, e + 1)) {
      this.count--;
      this.keys[e] = this.acks[e] = '';
      (this.overflow ??= new Map()).set(key, ack);
    }
  }

  /** Forgets every entry; keeps the arrays (the next generation fills them again). */
  clear(): void {
    if (this.count === 0 && this.overflow === undefined) return;
    this.slots.fill(0);
    // Release the strings; the arrays keep their length for the next generation.
    this.keys.fill('', 0, this.count);
    this.acks.fill('', 0, this.count);
    this.count = 0;
    this.overflow = undefined;
  }

  /** Puts entry `i` (index + 1) in the first free slot of its probe; false when there is none within MAX_PROBE. */
  private place(h: number, i: number): boolean {
    const slots = this.slots;
    const mask = this.mask;
    let s = h & mask;
    for (let n = 0; n < MAX_PROBE; n++) {
      if (slots[2 * s + 1] === 0) {
        slots[2 * s] = h;
        slots[2 * s + 1] = i;
        return true;
      }
      s = (s + 1) & mask;
    }
    return false;
  }

  /** Twice the slots (at most half are used), every entry placed again from its stored hash. */
  private grow(): void {
    const old = this.slots;
    const n = 2 * (this.mask + 1);
    this.slots = new Int32Array(2 * n);
    this.mask = n - 1;
    for (let s = 0; s < old.length; s += 2) {
      const i = old[s + 1]!;
      if (i === 0) continue;
      // Keys of one hash (chosen to collide) fill the same probe again: the rest overflow as in set.
      if (!this.place(old[s]!, i)) {
        (this.overflow ??= new Map()).set(this.keys[i - 1]!, this.acks[i - 1]!);
        this.keys[i - 1] = this.acks[i - 1] = '';
      }
    }
  }
}

/**
 * FNV-1a over the UTF-16 code units, then MurmurHash3's finaliser: FNV's low bits, which pick the
 * slot, depend only on the low bits of the characters (a multiplication carries upwards only).
 */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
