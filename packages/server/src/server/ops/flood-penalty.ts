/**
 * The flood penalty: after one of its connections is closed with 4029 (rate-limit-close: it kept
 * sending without waiting), a client address is refused new connections for a cool-down.
 *
 * Why: the 4029 close limits what one connection costs, not what the next one does. A flooder
 * reconnects at once and floods again, and every cycle costs the server a full TLS handshake
 * (about 1 ms of the one thread with an RSA-2048 key, measured) plus the burst it reads and
 * answers before the next cut; the other clients' requests wait behind that work. Refused at TCP
 * accept (accept-gate.ts), a reconnect costs microseconds and no TLS work at all.
 *
 * NAT: many phones share one carrier or office address, and they all share its penalty. So the
 * cool-down is short (floodPenaltyMs, 2 s by default), grows only while the cuts go on (doubled
 * for each cut that follows within floodPenaltyMaxMs of the last cool-down's end, up to
 * floodPenaltyMaxMs, 30 s), and is forgotten after floodPenaltyMaxMs without a cut. A client SDK
 * retries a refused connection with backoff, so the neighbours of a flooder reconnect once it
 * stops, at most floodPenaltyMaxMs later. Cuts during a cool-down (connections the address had
 * opened before it) do not lengthen it: an attacker cannot jump to the maximum with ten
 * connections cut at once, and the penalty is logged once per cool-down, not per connection.
 *
 * Keyed like the per-IP caps: an IPv4 address, an IPv6 client by its /ipv6Prefix network (an
 * attacker owns a whole /64). Memory: one Map entry per penalised address, swept when they are
 * forgotten; nothing per connection, nothing on the message path.
 */
import { ipCapKey } from '../trust-proxy';

interface Penalty {
  /** End of the current cool-down (Date.now() time). */
  until: number;
  /** Its length: the next one, within floodPenaltyMaxMs of this end, is twice as long. */
  ms: number;
}

export interface FloodPenaltyOptions {
  /** First cool-down, ms; 0 = no penalty. */
  baseMs: number;
  maxMs: number;
  ipv6Prefix: number;
  /** Loopback clients are never penalised (local tools, tests, a proxy on this host). */
  exemptLoopback: boolean;
  /** A cool-down began: logged once per cool-down. */
  started(detail: { ip: string; ms: number }): void;
}

/** Sweep forgotten entries once this many cool-downs have begun since the last sweep. */
const SWEEP_EVERY = 256;

export class FloodPenalty {
  private readonly keys = new Map<string, Penalty>();
  private strikes = 0;

  constructor(private readonly o: FloodPenaltyOptions) {}

  /** Nothing penalised: the checks on every accept and upgrade are one comparison. */
  get idle(): boolean {
    return this.keys.size === 0;
  }

  /** A connection from `ip` was closed with 4029: starts (or lengthens) its cool-down. */
  strike(ip: string, now = Date.now()): void {
    if (this.o.baseMs === 0 || (this.o.exemptLoopback && isLoopback(ip))) return;
    const key = ipCapKey(ip, this.o.ipv6Prefix);
    const p = this.keys.get(key);
    if (p !== undefined && now < p.until) return; // already cooling down
    const ms = p !== undefined && now - p.until < this.o.maxMs ? Math.min(this.o.maxMs, p.ms * 2) : this.o.baseMs;
    if (p === undefined) {
      if (++this.strikes >= SWEEP_EVERY) this.sweep(now);
      this.keys.set(key, { until: now + ms, ms });
    } else {
      p.until = now + ms;
      p.ms = ms;
    }
    this.o.started({ ip, ms });
  }

  /** Ms left of the cool-down of the client key `key` (ipCapKey); 0 when none. */
  remainingForKey(key: string, now = Date.now()): number {
    const p = this.keys.get(key);
    if (p === undefined) return 0;
    if (now < p.until) return p.until - now;
    if (now - p.until >= this.o.maxMs) this.keys.delete(key); // forgotten: back to idle
    return 0;
  }

  /** The same for a client IP (at the upgrade, where the client may be behind a proxy). */
  remaining(ip: string, now = Date.now()): number {
    return this.idle ? 0 : this.remainingForKey(ipCapKey(ip, this.o.ipv6Prefix), now);
  }

  /** @internal exposed for tests: forgets addresses quiet for maxMs since their cool-down ended. */
  sweep(now: number): void {
    this.strikes = 0;
    for (const [k, p] of this.keys) if (now - p.until >= this.o.maxMs) this.keys.delete(k);
  }
}

/** 127.0.0.0/8 and ::1 (normalised text: an IPv4-mapped address is already dotted). */
export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}
