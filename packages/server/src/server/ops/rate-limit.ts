/**
 * Rate limits: token buckets per wss-mp.v1 connection and per user (messages/s and bytes/s),
 * and per client IP for handshakes.
 *
 * A message over a limit is refused: not processed, and answered (by the engine) with the time
 * after which to resend it. Those times are slots: each refusal gets the moment the bucket will
 * hold a token for it *after* the refusals before it took theirs, so a client that resends each
 * refused message at its time (and holds new ones until then) goes at the limit's rate. (Not
 * quite never refused again: a frame of its first burst that arrives after some refusals, when a
 * token has refilled, passes and takes a token a slot counted on; one resend is then refused once
 * more and goes at the end. Telling a resend from a new frame would mean remembering refused
 * ids.) A run of refusals starts when none of the
 * slots handed out is still ahead; the refusals in its first RETRY_GRACE_MS are not held against
 * the connection (the client cannot have read the first answer yet: the rest of its burst was
 * already on the way). After that, a refusal while slots are still ahead means the client is
 * not waiting for them: a whole burst's worth of those closes the connection with 4029
 * (retryable, with backoff: docs/errors.md). More than MAX_REFUSALS_AHEAD refused and waiting
 * closes it at once, grace or not: no compliant client gets there (it keeps at most
 * MAX_UNACKED_REQUESTS requests unanswered), and a flood is not read, refused and answered at
 * full speed for the whole grace.
 *
 * Buckets refill lazily from the time of each message (no timer per connection, nothing
 * allocated per message): a connection's bucket lives on its session, a user's in a Map entry
 * made when their first connection opens and dropped when their last one closes.
 */
import { CloseCode, MAX_UNACKED_REQUESTS } from '@wss-mp/protocol';
import { OptionError } from '../../common/errors';
import type { Connection } from '../connection';
import { discardInput } from '../discard-input';
import { FloodPenalty, isLoopback, type FloodPenaltyOptions } from './flood-penalty';
import type { Stats } from './stats';

export const RATE_LIMIT_DEFAULTS = Object.freeze({
  /** Messages per second one wss-mp.v1 connection may send, on average. */
  messagesPerSecond: 50,
  /** Messages it may send at once (the bucket's size). */
  messagesBurst: 100,
  /** Payload bytes per second one connection may send, on average. */
  bytesPerSecond: 1024 * 1024,
  /** Bytes at once; keep it at least maxPayload, or a largest message never passes. */
  bytesBurst: 2 * 1024 * 1024,
  /** The same for all connections of one user together. */
  userMessagesPerSecond: 100,
  userMessagesBurst: 200,
  userBytesPerSecond: 2 * 1024 * 1024,
  userBytesBurst: 4 * 1024 * 1024,
  /**
   * WebSocket handshakes per second from one client IP; beyond: 429, and once a whole burst of
   * 429s is outstanding, refused at TCP accept before any TLS work. 0 = no limit.
   */
  handshakesPerSecondPerIp: 20,
  handshakeBurstPerIp: 60,
  /** After a 4029 close, the address's new connections are refused this long (ms; flood-penalty.ts). 0 = no penalty. */
  floodPenaltyMs: 2000,
  /** … doubled for each further 4029 within this long of the last cool-down's end, up to this (ms). */
  floodPenaltyMaxMs: 30_000,
  /** Loopback clients (127.0.0.0/8, ::1) are exempt from the per-IP handshake limit and the flood penalty. */
  exemptLoopback: true,
});

export type RateLimitOptions = {
  -readonly [K in keyof typeof RATE_LIMIT_DEFAULTS]: (typeof RATE_LIMIT_DEFAULTS)[K] extends boolean ? boolean : number;
};

export function resolveRateLimit(v: unknown): RateLimitOptions | undefined {
  if (v === false) return undefined;
  if (v !== undefined && (v === null || typeof v !== 'object')) throw new OptionError('rateLimit', 'false or { messagesPerSecond, … }', v);
  const o = (v ?? {}) as Record<string, unknown>;
  const out = { ...RATE_LIMIT_DEFAULTS } as RateLimitOptions;
  const set = out as Record<string, number | boolean>;
  for (const k of Object.keys(o)) {
    if (!(k in RATE_LIMIT_DEFAULTS)) throw new OptionError(`rateLimit.${k}`, `one of ${Object.keys(RATE_LIMIT_DEFAULTS).join(', ')}`, k);
    const n = o[k];
    if (typeof RATE_LIMIT_DEFAULTS[k as keyof RateLimitOptions] === 'boolean') {
      if (typeof n !== 'boolean') throw new OptionError(`rateLimit.${k}`, 'true or false', n);
    } else if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
      throw new OptionError(`rateLimit.${k}`, 'a number, 0 (no limit) or more', n);
    }
    set[k] = n;
  }
  if (out.floodPenaltyMs > out.floodPenaltyMaxMs) {
    throw new OptionError('rateLimit.floodPenaltyMaxMs', `at least floodPenaltyMs (${out.floodPenaltyMs})`, out.floodPenaltyMaxMs);
  }
  return out;
}

/**
 * How long after the first refusal of a run refusals are not held against the connection: the
 * time for that answer to reach the client plus what it had already sent (a burst from a slow
 * link keeps arriving for a while). A client that ignores the answers is closed this much later.
 */
export const RETRY_GRACE_MS = 2000;

/**
 * Refused messages waiting for their slots beyond which the connection is closed at once,
 * grace or not: a compliant client has at most MAX_UNACKED_REQUESTS requests unanswered plus
 * its subscriptions (maxSubscriptions, 128 by default) in flight, so this many refused and
 * waiting is a client that sends without waiting for answers — a flood, which the grace would
 * otherwise let run (and be answered) for RETRY_GRACE_MS at whatever rate it can send.
 */
export const MAX_REFUSALS_AHEAD = 4 * MAX_UNACKED_REQUESTS;

/** Two token buckets (messages and bytes) refilled from the time of the last look. */
export class Bucket {
  msgs: number;
  bytes: number;
  last: number;
  /** The latest slot handed out to a refused message (ms, Date.now() time); 0: none. */
  until = 0;
  /** When the current run of refusals began. */
  since = 0;
  /** Refusals held against the connection in this run (after the grace, while slots were ahead). */
  dropped = 0;
  /** Open connections sharing it (user buckets). */
  refs = 0;

  constructor(private readonly rate: number, private readonly burst: number, private readonly byteRate: number,
    private readonly byteBurst: number, now: number) {
    this.msgs = burst;
    this.bytes = byteBurst;
    this.last = now;
  }

  /** Refills up to `now`; true when one message of `size` bytes fits. A rate of 0 is no limit. */
  fits(size: number, now: number): boolean {
    const dt = (now - this.last) / 1000;
    this.last = now;
    this.msgs = Math.min(this.burst, this.msgs + dt * this.rate);
    this.bytes = Math.min(this.byteBurst, this.bytes + dt * this.byteRate);
    return (this.rate === 0 || this.msgs >= 1) && (this.byteRate === 0 || this.bytes >= size);
  }

  /** Takes one message of `size` bytes (after fits()). */
  consume(size: number): void {
    this.msgs -= 1;
    this.bytes -= size;
  }

  /** Takes one message of `size` bytes if both buckets allow it. */
  take(size: number, now: number): boolean {
    if (!this.fits(size, now)) return false;
    this.consume(size);
    return true;
  }

  /**
   * A message that did not fit (right after fits()): the ms after which its resend fits, behind
   * every refusal before it; or -1 when the connection should be closed (a sustained excess).
   */
  refuse(size: number, now: number): number {
    const msgGap = this.rate === 0 ? 0 : 1000 / this.rate;
    const byteGap = this.byteRate === 0 ? 0 : 1000 / this.byteRate;
    // When what the bucket holds now has refilled enough for this one message…
    let at = now + Math.max((1 - this.msgs) * msgGap, (size - this.bytes) * byteGap);
    if (now < this.until) {
      // …but after the slots already handed out, each of which takes its message's tokens.
      at = Math.max(at, this.until + Math.max(msgGap, size * byteGap));
      if (now - this.since > RETRY_GRACE_MS && ++this.dropped >= Math.max(this.burst, 1)) return -1;
    } else {
      this.since = now;
      this.dropped = 0;
    }
    // Counted in slots (a message's worth of time each): what a flood piles up in milliseconds.
    if (msgGap > 0 && at - now > MAX_REFUSALS_AHEAD * msgGap) return -1;
    this.until = at;
    // Whole ms, rounded up, and one more: a host timer may fire up to a millisecond early.
    return Math.ceil(at - now) + 1;
  }
}

/** Per-connection and per-user message limits of wss-mp.v1 connections. */
export class MessageLimiter {
  private readonly users = new Map<string, Bucket>();

  constructor(private readonly o: RateLimitOptions, private readonly stats: Stats | undefined,
    private readonly penalty?: FloodPenalty) {}

  /** A connection's own bucket (kept on its session). */
  connectionBucket(): Bucket {
    const o = this.o;
    return new Bucket(o.messagesPerSecond, o.messagesBurst, o.bytesPerSecond, o.bytesBurst, Date.now());
  }

  opened(user: string | null): void {
    if (user === null) return;
    let b = this.users.get(user);
    if (b === undefined) {
      const o = this.o;
      b = new Bucket(o.userMessagesPerSecond, o.userMessagesBurst, o.userBytesPerSecond, o.userBytesBurst, Date.now());
      this.users.set(user, b);
    }
    b.refs++;
  }

  closed(user: string | null): void {
    if (user === null) return;
    const b = this.users.get(user);
    if (b !== undefined && --b.refs <= 0) this.users.delete(user);
  }

  /**
   * 0 when the message may be processed (its tokens are taken from both buckets). Otherwise it
   * is refused: the ms after which the client should resend it, or -1 when the connection was
   * closed for a sustained excess. Nothing is taken from either bucket for a refused message.
   */
  check(conn: Connection<any>, own: Bucket, size: number): number {
    const now = Date.now();
    if (!own.fits(size, now)) {
      if (this.stats) this.stats.rateLimitConnection++;
      return this.refused(conn, own, size, now);
    }
    const u = conn.user === null ? undefined : this.users.get(conn.user);
    if (u !== undefined) {
      if (!u.fits(size, now)) {
        if (this.stats) this.stats.rateLimitUser++;
        return this.refused(conn, u, size, now);
      }
      u.consume(size);
    }
    own.consume(size);
    return 0;
  }

  private refused(conn: Connection<any>, b: Bucket, size: number, now: number): number {
    const wait = b.refuse(size, now);
    if (wait < 0 && conn.isOpen) {
      conn.endReason = 'rate limit: sustained excess, resends not waiting for their time';
      // Not read any further: a flooder keeps sending until it reads the close (thousands of frames).
      conn.cut(CloseCode.RATE_LIMITED, 'rate limited');
      // Nor parsed: the rest of this read and what the socket holds (discard-input.ts). The
      // peer's answering close frame is among what is not parsed, so the log and the metrics
      // take the code from what it was sent.
      discardInput(conn.socket);
      conn.sentCode = CloseCode.RATE_LIMITED;
      // …and it reconnects at once to flood again: its address waits out a cool-down first.
      this.penalty?.strike(conn.ip);
    }
    return wait;
  }
}

/** One address's handshakes: tokens for those allowed, and a second bucket for those refused. */
class AddressHandshakes {
  tokens: number;
  /** Room for more 429s: refilled at the same rate, emptied by each 429. */
  excess: number;
  constructor(burst: number, public last: number) {
    this.tokens = burst;
    this.excess = burst;
  }
}

/**
 * Handshakes per client IP: a token bucket per IP seen recently, swept when full again.
 *
 * Beyond the limit a handshake is answered 429 (after the TLS handshake it has cost in full: the
 * answer is HTTP). The 429s draw on a second bucket of the same rate and burst; an address that
 * has emptied it, reconnecting at more than twice the limit for a whole burst, is refused at TCP
 * accept instead (`refusesAtAccept`, accept-gate.ts), before any TLS work. So an address gets at
 * most about 2 × rate TLS handshakes a second however fast it reconnects, and a client mildly
 * over the limit still gets the 429 that tells it why.
 */
export class HandshakeLimiter {
  private readonly ips = new Map<string, AddressHandshakes>();
  private sweeps = 0;

  /** `exemptLoopback`: loopback clients are never limited (local tools, tests, a proxy on this host). */
  constructor(private readonly rate: number, private readonly burst: number, private readonly exemptLoopback = true) {}

  /** False: refuse this handshake (429). */
  allow(ip: string, now = Date.now()): boolean {
    if (this.rate === 0 || (this.exemptLoopback && isLoopback(ip))) return true;
    let a = this.ips.get(ip);
    if (a === undefined) {
      // Now and then forget IPs whose buckets have refilled: the map holds only recent talkers.
      if (++this.sweeps >= 1024) this.sweep(now);
      a = new AddressHandshakes(this.burst, now);
      this.ips.set(ip, a);
    } else {
      this.refill(a, now);
    }
    if (a.tokens >= 1) {
      a.tokens -= 1;
      return true;
    }
    a.excess = Math.max(0, a.excess - 1);
    return false;
  }

  /** True when `ip` has spent its 429s too (a burst beyond 2 × the rate): refuse at accept. */
  refusesAtAccept(ip: string, now = Date.now()): boolean {
    const a = this.ips.get(ip);
    if (a === undefined) return false;
    this.refill(a, now);
    return a.excess < 1 && a.tokens < 1;
  }

  private refill(a: AddressHandshakes, now: number): void {
    const add = ((now - a.last) / 1000) * this.rate;
    a.last = now;
    a.tokens = Math.min(this.burst, a.tokens + add);
    a.excess = Math.min(this.burst, a.excess + add);
  }

  private sweep(now: number): void {
    this.sweeps = 0;
    const full = (this.burst / this.rate) * 1000;
    for (const [ip, a] of this.ips) if (now - a.last >= full) this.ips.delete(ip);
  }
}

export interface Limiters {
  messages?: MessageLimiter;
  handshakes?: HandshakeLimiter;
  penalty?: FloodPenalty;
}

/** The limiters for resolved options (none when `rateLimit: false`). */
export function limitersFor(o: RateLimitOptions | undefined, stats: Stats, penalty: Omit<FloodPenaltyOptions, 'baseMs' | 'maxMs' | 'exemptLoopback'>): Limiters {
  if (o === undefined) return {};
  const flood = o.floodPenaltyMs > 0
    ? new FloodPenalty({ ...penalty, baseMs: o.floodPenaltyMs, maxMs: o.floodPenaltyMaxMs, exemptLoopback: o.exemptLoopback })
    : undefined;
  return {
    messages: new MessageLimiter(o, stats, flood),
    handshakes: o.handshakesPerSecondPerIp > 0 ? new HandshakeLimiter(o.handshakesPerSecondPerIp, o.handshakeBurstPerIp, o.exemptLoopback) : undefined,
    penalty: flood,
  };
}
