/**
 * The broker: where streams (channels and users' personal streams) get their offsets and keep
 * their history. The interface admits asynchronous implementations (a Redis broker shared by
 * several nodes); MemoryBroker is the in-process one: synchronous, lost with the process, so a
 * restarted server starts every stream in a new epoch and clients are told `recovered: false`.
 */
import { randomBytes } from 'node:crypto';
import { USER_CHANNEL, type StreamPosition } from '@wss-mp/protocol';
import { WssMpServerError } from '../../common/errors';
import type { Presence } from './presence';

export interface Publication extends StreamPosition {
  /** The encoded `pub` frame, made once and sent as is to every subscriber and on replay. */
  frame: Buffer;
  /** A retry with an idempotency key that was already used: this is the first one's position. */
  repeated?: boolean;
}

export interface HistoryResult {
  /** The stream's current top: offset of its latest publication (0 when none) and epoch. */
  top: StreamPosition;
  /** True when `publications` are exactly everything after the position asked for. */
  recovered: boolean;
  /** In offset order; empty unless recovered. */
  publications: readonly Publication[];
}

type MaybePromise<T> = T | Promise<T>;

/**
 * How long (ms) a publication's idempotency key is remembered: a retry with the same key within
 * this window gets the first publication's position back instead of a second publication. The
 * retry is for a publish whose outcome the caller never learnt (Redis ran it, the reply was
 * lost; a timeout), which is seconds, not minutes; five minutes is Centrifugo's default too.
 */
export const IDEMPOTENCY_WINDOW_MS = 300_000;
/** Keys a MemoryBroker remembers at most (the oldest go first), so the window stays bounded. */
export const IDEMPOTENCY_MAX_KEYS = 100_000;

/** What a caller can add to a publication. */
export interface PublishOptions {
  /**
   * Makes a retried publish safe: a second publish on the same stream with the same key within
   * IDEMPOTENCY_WINDOW_MS is not made again; it settles with the first one's position.
   */
  idempotencyKey?: string;
}

export interface Broker {
  /**
   * Appends to `stream`; local subscribers are told through onPublication before it settles.
   * With an idempotency key already used on `stream` within the window, nothing is appended or
   * delivered: it settles with the first publication's position (`repeated: true`).
   */
  publish(stream: string, data: unknown, opts?: PublishOptions): MaybePromise<Publication>;
  /** What a client at `since` missed (undefined: just the top). */
  history(stream: string, since: StreamPosition | undefined): MaybePromise<HistoryResult>;
  /** This node has its first local subscriber on `stream` (a shared broker starts listening). */
  subscribe(stream: string): void;
  /** This node's last local subscriber on `stream` left. */
  unsubscribe(stream: string): void;
  /** Where publications for streams with local subscribers go (set once by the server). */
  onPublication(listener: (stream: string, pub: Publication) => void): void;
  /** A shared broker: a connection of `user` (null: anonymous) opened (+1) or closed (-1) here. */
  connection?(user: string | null, delta: 1 | -1): void;
  /**
   * A shared broker: a connection of `user` (null: anonymous) subscribed (+1) to channel
   * `stream` here, or left it (-1). Not called for users' personal streams.
   */
  member?(stream: string, user: string | null, delta: 1 | -1): void;
  /** A shared broker: users and connections on every node, overall or subscribed to `channel`. */
  presence?(channel?: string): Promise<Presence>;
  /** Releases what the broker holds (connections, timers); called by server.close(). */
  close?(): Promise<void>;
}

/** A shared broker cannot reach its store (Redis, the --workers primary): refused, never queued. */
export function unavailable(what: string, cause?: unknown): WssMpServerError {
  return new WssMpServerError('ERR_UNAVAILABLE', `${what}: the shared broker is unavailable; retry later`, { cause });
}

/** The channel name clients see in `pub.ch`: `$user` for every personal stream. */
export function frameChannel(stream: string): string {
  return stream.startsWith(USER_STREAM_PREFIX) ? USER_CHANNEL : stream;
}

/** Personal streams are `$user:<id>`; `$` names are server-only, so no client can name one. */
export const USER_STREAM_PREFIX = `${USER_CHANNEL}:`;

export interface MemoryBrokerOptions {
  historySize: number;
  historyTtl: number;
  now?: () => number;
}

interface Stream {
  epoch: string;
  top: number;
  /** Retained publications, oldest at `head`. */
  pubs: Publication[];
  times: number[];
  head: number;
}

/**
 * A string as a Buffer of its own. Buffer.from() puts small strings in a shared 8 KiB pool, and
 * Connection.sendFrame counts what a queued view keeps alive beyond itself against the
 * slow-consumer cap (it cannot tell a pool from a socket read chunk).
 */
export function textBuffer(s: string): Buffer {
  const b = Buffer.allocUnsafeSlow(Buffer.byteLength(s));
  b.write(s);
  return b;
}

const EMPTY: readonly Publication[] = Object.freeze([]);

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

export class MemoryBroker implements Broker {
  private readonly streams = new Map<string, Stream>();
  /** `<stream>\0<key>` → the publication and when it was made, in insertion (= time) order. */
  private readonly keys = new Map<string, { pub: Publication; at: number }>();
  private listener: (stream: string, pub: Publication) => void = () => {};
  private readonly now: () => number;

  constructor(private readonly o: MemoryBrokerOptions) {
    this.now = o.now ?? Date.now;
  }

  onPublication(listener: (stream: string, pub: Publication) => void): void {
    this.listener = listener;
  }

  subscribe(): void {}
  unsubscribe(): void {}

  publish(stream: string, data: unknown, opts?: PublishOptions): Publication {
    const key = opts?.idempotencyKey === undefined ? undefined : `${stream}\0${opts.idempotencyKey}`;
    if (key !== undefined) {
      this.forgetKeys();
      const seen = this.keys.get(key);
      if (seen !== undefined) return { ...seen.pub, repeated: true };
    }
    const s = this.stream(stream);
    const offset = ++s.top;
    const frame = textBuffer(JSON.stringify({ t: 'pub', ch: frameChannel(stream), offset, epoch: s.epoch, data }));
    const pub: Publication = { offset, epoch: s.epoch, frame };
    if (this.o.historySize > 0) {
      s.pubs.push(pub);
      s.times.push(this.now());
    }
    this.trim(s);
    if (key !== undefined) {
      this.keys.set(key, { pub, at: this.now() });
      if (this.keys.size > IDEMPOTENCY_MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
    }
    this.listener(stream, pub);
    return pub;
  }

  /** Drops idempotency keys older than the window (the map is in time order: from the front). */
  private forgetKeys(): void {
    const min = this.now() - IDEMPOTENCY_WINDOW_MS;
    for (const [k, v] of this.keys) {
      if (v.at >= min) break;
      this.keys.delete(k);
    }
  }

  history(stream: string, since: StreamPosition | undefined): HistoryResult {
    const s = this.stream(stream);
    this.trim(s);
    const top = { offset: s.top, epoch: s.epoch };
    if (since === undefined) return { top, recovered: true, publications: EMPTY };
    if (since.epoch !== s.epoch || since.offset > s.top) return { top, recovered: false, publications: EMPTY };
    if (since.offset === s.top) return { top, recovered: true, publications: EMPTY };
    // Retained: offsets top - (length - head) + 1 … top. Everything after since.offset must be there.
    const retained = s.pubs.length - s.head;
    const oldest = s.top - retained + 1;
    if (retained === 0 || since.offset + 1 < oldest) return { top, recovered: false, publications: EMPTY };
    return { top, recovered: true, publications: s.pubs.slice(s.head + (since.offset + 1 - oldest)) };
  }

  /** Streams held (for tests and stats). */
  get size(): number {
    return this.streams.size;
  }

  private stream(name: string): Stream {
    let s = this.streams.get(name);
    if (s === undefined) {
      s = { epoch: newEpoch(), top: 0, pubs: [], times: [], head: 0 };
      this.streams.set(name, s);
    }
    return s;
  }

  /** Drops publications beyond historySize or older than historyTtl. */
  private trim(s: Stream): void {
    const min = this.now() - this.o.historyTtl;
    let h = s.head;
    while (s.pubs.length - h > this.o.historySize || (h < s.pubs.length && s.times[h]! < min)) h++;
    if (h === s.head) return;
    s.head = h;
    // Compact now and then, not on every publication: amortised O(1).
    if (h >= 1024 || h * 2 >= s.pubs.length) {
      s.pubs.splice(0, h);
      s.times.splice(0, h);
      s.head = 0;
    }
  }
}
