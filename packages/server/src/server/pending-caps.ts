/**
 * Caps and an absolute deadline for connections that are not WebSockets yet: from the TCP
 * accept, through the TLS handshake and the HTTP upgrade request, until the upgrade (or a
 * plain HTTP request) arrives.
 *
 * Why: the WebSocket caps (maxConnections, maxConnectionsPerIp) count upgraded sockets only.
 * Sockets still in the TLS handshake or before their upgrade headers cost a descriptor each
 * and were free: one client holding ~1,100 of them exhausted a 1,024 descriptor limit, and
 * legitimate handshakes failed with ECONNRESET while nothing was logged. Node's TLS
 * handshake timeout and HTTP header timeout run one after the other and end most such sockets
 * near 2 × handshakeTimeout (measured); the deadline here is a backstop that holds whatever
 * the peer does, and it logs what it cuts.
 *
 * Policy:
 * - at most `maxPending` such sockets in total, and `maxPendingPerIp` per client (IPv6 by
 *   its /ipv6Prefix network). The TCP peer is all that is known this early: a trusted proxy
 *   carries everyone's connections, so it counts only against the total;
 * - one over a cap is closed at accept, before any TLS work, and logged (rate-limited);
 * - a socket that has sent no complete request `deadlineMs` after its accept is destroyed,
 *   whatever it trickles. After a plain request (static files), Node's keep-alive and
 *   request timeouts take over; the socket still counts until it closes or upgrades.
 *
 * Costs: one Map entry per pending socket, one shared `close` listener, one sweep timer per
 * server (not per socket). Nothing on the message path.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { underlyingSocket } from './plain-http';
import { ipCapKey, isTrusted, normalizeIp, type Cidr } from './trust-proxy';

export interface PendingCapsOptions {
  /** Pending sockets in total; 0 = unlimited. */
  maxPending: number;
  /** Pending sockets per client address (or IPv6 prefix); 0 = unlimited. */
  maxPendingPerIp: number;
  /** From accept to a complete request, ms. */
  deadlineMs: number;
  ipv6Prefix: number;
  /** Peers exempt from the per-IP cap (proxies carry many clients). */
  trusted: readonly Cidr[];
  /**
   * Refusals decided elsewhere, checked first (ops/accept-gate.ts), unreported here: 0 admits,
   * -1 destroys the socket at once, n > 0 holds it unread for n ms (at most deadlineMs), then
   * destroys it.
   */
  gate?: (key: string, ip: string) => number;
  /** A socket was refused or timed out. Called at most once a second per kind, with the
   * count of events since the last call. */
  report(kind: 'refused' | 'timeout', detail: { ip: string; reason: string; count: number }): void;
}

interface Entry {
  key: string;
  ip: string;
  at: number;
  /** A complete request arrived, or the socket is held to be destroyed: the absolute deadline no longer applies. */
  requested: boolean;
}

/** Destroys a held socket (setTimeout's `this`-less callback with the socket as argument). */
const destroyHeld = (socket: Socket) => socket.destroy();

const REPORT_EVERY_MS = 1_000;

export class PendingConnections {
  private readonly entries = new Map<Socket, Entry>();
  private readonly perKey = new Map<string, number>();
  private readonly onClose: (this: Socket) => void;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly reported = {
    refused: { at: 0, count: 0, ip: '', reason: '' },
    timeout: { at: 0, count: 0, ip: '', reason: '' },
  };

  constructor(private readonly o: PendingCapsOptions) {
    const self = this;
    // One listener for every socket: `this` is the socket that closed.
    this.onClose = function (this: Socket) {
      self.release(this);
    };
  }

  /** Sockets counted now. */
  get size(): number {
    return this.entries.size;
  }

  /** Pending sockets counted for one client key (see ipCapKey). */
  countFor(key: string): number {
    return this.perKey.get(key) ?? 0;
  }

  /** A TCP connection was accepted. Returns false (and destroys or holds it) when refused. */
  admit(socket: Socket): boolean {
    const ip = socket.remoteAddress ? normalizeIp(socket.remoteAddress) : 'unknown';
    const key = ipCapKey(ip, this.o.ipv6Prefix);
    const verdict = this.o.gate === undefined ? 0 : this.o.gate(key, ip);
    if (verdict < 0) {
      socket.destroy();
      return false;
    }
    if (this.o.maxPending > 0 && this.entries.size >= this.o.maxPending) {
      return this.refuse(socket, ip, 'too many connections still in their handshake (server)');
    }
    const count = this.perKey.get(key) ?? 0;
    if (this.o.maxPendingPerIp > 0 && count >= this.o.maxPendingPerIp && !isTrusted(this.o.trusted, ip)) {
      return this.refuse(socket, ip, 'too many connections still in their handshake from this address');
    }
    this.perKey.set(key, count + 1);
    this.entries.set(socket, { key, ip, at: Date.now(), requested: verdict > 0 });
    socket.on('close', this.onClose);
    if (verdict > 0) {
      // Held: not read (no TLS), still counted against the caps, so one address holds at most
      // maxPendingPerIp of them; a client that reconnects the moment it is refused waits here
      // instead of costing an accept every few hundred microseconds.
      socket.pause();
      socket.on('error', ignore);
      setTimeout(destroyHeld, Math.min(verdict, this.o.deadlineMs), socket).unref();
      return false;
    }
    return true;
  }

  /** A request arrived on `socket` (plain HTTP): the handshake deadline no longer applies. */
  requestSeen(socket: Socket): void {
    const e = this.entries.get(rawSocket(socket));
    if (e) e.requested = true;
  }

  /** `socket` became a WebSocket: it no longer counts here (the WebSocket caps take over). */
  settle(socket: Socket): void {
    const raw = rawSocket(socket);
    if (this.release(raw)) raw.off('close', this.onClose);
  }

  /** Destroys every pending socket (shutdown: they are not WebSockets, nothing to drain). */
  destroyAll(): number {
    const all = [...this.entries.keys()];
    for (const s of all) s.destroy();
    return all.length;
  }

  /** Starts the deadline sweep (once listening). */
  start(): void {
    if (this.sweepTimer) return;
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(50, Math.min(1_000, Math.floor(this.o.deadlineMs / 4))));
    this.sweepTimer.unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** @internal exposed for tests: destroys pending sockets past their deadline. */
  sweep(now = Date.now()): void {
    // Events held back by the rate limit are reported on a later sweep.
    this.flush('refused', now);
    for (const [socket, e] of this.entries) {
      if (e.requested || now - e.at < this.o.deadlineMs) continue;
      this.release(socket);
      socket.destroy();
      this.note('timeout', e.ip, `no complete request within ${this.o.deadlineMs} ms of connecting`);
    }
    this.flush('timeout', now);
  }

  private release(socket: Socket): boolean {
    const e = this.entries.get(socket);
    if (!e) return false;
    this.entries.delete(socket);
    const left = (this.perKey.get(e.key) ?? 1) - 1;
    if (left > 0) this.perKey.set(e.key, left);
    else this.perKey.delete(e.key);
    return true;
  }

  private refuse(socket: Socket, ip: string, reason: string): false {
    socket.destroy();
    this.note('refused', ip, reason);
    return false;
  }

  /** Reports the first event, then at most one line a second with the count since. */
  private note(kind: 'refused' | 'timeout', ip: string, reason: string): void {
    const r = this.reported[kind];
    r.count++;
    r.ip = ip;
    r.reason = reason;
    this.flush(kind, Date.now());
  }

  private flush(kind: 'refused' | 'timeout', now: number): void {
    const r = this.reported[kind];
    if (r.count === 0 || now - r.at < REPORT_EVERY_MS) return;
    const count = r.count;
    r.at = now;
    r.count = 0;
    this.o.report(kind, { ip: r.ip, reason: r.reason, count });
  }
}

/** The TCP socket a request or upgrade arrived on (under the TLSSocket in TLS mode). */
function rawSocket(socket: Socket): Socket {
  return socket instanceof TLSSocket ? (underlyingSocket(socket) ?? socket) : socket;
}

const ignore = () => {};

/**
 * Counts every accepted connection on `server` until it becomes a WebSocket or sends a plain
 * request: the caps and the absolute handshake deadline apply to it meanwhile.
 *
 * The server's own `connection` listener (an https server's wraps the socket in a TLSSocket,
 * which answers the ClientHello as soon as it arrives; an http server's starts parsing) is
 * called only for admitted sockets: a refused one never gets a TLS object or handshake, and
 * costs about half as much as one destroyed after the wrapping (measured: ~100 vs ~210 µs of
 * CPU per refused connection on a 2-core VM, where a full handshake was ~800 µs).
 */
export function guardHandshakes(server: Server, pending: PendingConnections): void {
  const own = server.listeners('connection') as ((this: Server, socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (!pending.admit(socket)) return;
    for (const l of own) l.call(server, socket);
  });
  server.on('request', (req: IncomingMessage) => pending.requestSeen(req.socket));
  server.on('upgrade', (req: IncomingMessage) => pending.settle(req.socket));
}
