/**
 * Rate limits: token buckets per wss-mp.v1 connection and per user (messages/s and bytes/s),
 * and per client IP for handshakes.
 *
 * A message over a limit is dropped (not processed). The first one after the connection was
 * within its limits gets an `error` frame `RATE_LIMITED`; a connection that then drops another
 * whole burst's worth before its bucket fills up again is closed with 4029 (retryable, with
 * backoff: docs/errors.md). A client that slows down after the warning is forgiven once its
 * bucket is full again.
 *
 * Buckets refill lazily from the time of each message (no timer per connection, nothing
 * allocated per message): a connection's bucket lives on its session, a user's in a Map entry
 * made when their first connection opens and dropped when their last one closes.
 */
import { CloseCode, MessagingErrorCode } from '@wss-mp/protocol';
import { OptionError } from '../../common/errors';
import type { Connection } from '../connection';
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
  /** WebSocket handshakes per second from one client IP (loopback exempt); beyond: 429. 0 = no limit. */
  handshakesPerSecondPerIp: 20,
  handshakeBurstPerIp: 60,
});

export type RateLimitOptions = { -readonly [K in keyof typeof RATE_LIMIT_DEFAULTS]: number };

export function resolveRateLimit(v: unknown): RateLimitOptions | undefined {
  if (v === false) return undefined;
  if (v !== undefined && (v === null || typeof v !== 'object')) throw new OptionError('rateLimit', 'false or { messagesPerSecond, … }', v);
  const o = (v ?? {}) as Record<string, unknown>;
  const out = { ...RATE_LIMIT_DEFAULTS } as RateLimitOptions;
  for (const k of Object.keys(o)) {
    if (!(k in RATE_LIMIT_DEFAULTS)) throw new OptionError(`rateLimit.${k}`, `one of ${Object.keys(RATE_LIMIT_DEFAULTS).join(', ')}`, k);
    const n = o[k];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new OptionError(`rateLimit.${k}`, 'a number, 0 (no limit) or more', n);
    out[k as keyof RateLimitOptions] = n;
  }
  return out;
}

/** Two token buckets (messages and bytes) refilled from the time of the last take. */
export class Bucket {
  msgs: number;
  bytes: number;
  last: number;
  /** Messages dropped since the warning; -1: not warned (within limits). */
  dropped = -1;
  /** Open connections sharing it (user buckets). */
  refs = 0;

  constructor(private readonly rate: number, private readonly burst: number, private readonly byteRate: number,
    private readonly byteBurst: number, now: number) {
    this.msgs = burst;
    this.bytes = byteBurst;
    this.last = now;
  }

  /** Takes one message of `size` bytes if both buckets allow it. A rate of 0 is no limit. */
  take(size: number, now: number): boolean {
    const dt = (now - this.last) / 1000;
    this.last = now;
    this.msgs = Math.min(this.burst, this.msgs + dt * this.rate);
    this.bytes = Math.min(this.byteBurst, this.bytes + dt * this.byteRate);
    const okMsgs = this.rate === 0 || this.msgs >= 1;
    const okBytes = this.byteRate === 0 || this.bytes >= size;
    if (!okMsgs || !okBytes) return false;
    this.msgs -= 1;
    this.bytes -= size;
    // Full again (it slowed down): forget an earlier warning.
    if (this.dropped !== -1 && (this.rate === 0 || this.msgs >= this.burst - 1)) this.dropped = -1;
    return true;
  }

  /** Another excess; true when it is sustained (a whole burst dropped since the warning). */
  excess(): 'warn' | 'drop' | 'close' {
    if (this.dropped === -1) {
      this.dropped = 0;
      return 'warn';
    }
    return ++this.dropped >= Math.max(this.burst, 1) ? 'close' : 'drop';
  }
}

const RATE_LIMITED_FRAME = JSON.stringify({ t: 'error', code: MessagingErrorCode.RATE_LIMITED,
  message: 'rate limit exceeded: messages are dropped; keep sending this fast and the server closes with 4029' });

/** Per-connection and per-user message limits of wss-mp.v1 connections. */
export class MessageLimiter {
  private readonly users = new Map<string, Bucket>();

  constructor(private readonly o: RateLimitOptions, private readonly stats: Stats | undefined) {}

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

  /** True when the message may be processed; otherwise it has been dealt with (warned, dropped or closed). */
  allow(conn: Connection<any>, own: Bucket, size: number): boolean {
    const now = Date.now();
    if (own.take(size, now)) {
      const u = conn.user === null ? undefined : this.users.get(conn.user);
      if (u === undefined || u.take(size, now)) return true;
      if (this.stats) this.stats.rateLimitUser++;
      return this.over(conn, u);
    }
    if (this.stats) this.stats.rateLimitConnection++;
    return this.over(conn, own);
  }

  private over(conn: Connection<any>, b: Bucket): false {
    const what = b.excess();
    if (what === 'warn') conn.send(RATE_LIMITED_FRAME);
    else if (what === 'close' && conn.isOpen) {
      conn.endReason = 'rate limit: sustained excess after the warning';
      conn.close(CloseCode.RATE_LIMITED, 'rate limited');
    }
    return false;
  }
}

/** Handshakes per client IP: a bucket per IP seen recently, swept when full again. */
export class HandshakeLimiter {
  private readonly ips = new Map<string, Bucket>();
  private sweeps = 0;

  constructor(private readonly rate: number, private readonly burst: number) {}

  /** False: refuse this handshake (429). Loopback clients are never limited (local tools, tests, a proxy on this host). */
  allow(ip: string): boolean {
    if (this.rate === 0 || ip === '127.0.0.1' || ip === '::1' || ip.startsWith('127.')) return true;
    const now = Date.now();
    let b = this.ips.get(ip);
    if (b === undefined) {
      // Now and then forget IPs whose bucket has refilled: the map holds only recent talkers.
      if (++this.sweeps >= 1024) this.sweep(now);
      b = new Bucket(this.rate, this.burst, 0, 0, now);
      this.ips.set(ip, b);
    }
    return b.take(0, now);
  }

  private sweep(now: number): void {
    this.sweeps = 0;
    const full = (this.burst / this.rate) * 1000;
    for (const [ip, b] of this.ips) if (now - b.last >= full) this.ips.delete(ip);
  }
}

/** The limiters for resolved options (none when `rateLimit: false`). */
export function limitersFor(o: RateLimitOptions | undefined, stats: Stats): { messages?: MessageLimiter; handshakes?: HandshakeLimiter } {
  if (o === undefined) return {};
  return {
    messages: new MessageLimiter(o, stats),
    handshakes: o.handshakesPerSecondPerIp > 0 ? new HandshakeLimiter(o.handshakesPerSecondPerIp, o.handshakeBurstPerIp) : undefined,
  };
}
