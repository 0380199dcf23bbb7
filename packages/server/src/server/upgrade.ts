/**
 * The WebSocket handshake: a `ws` server in noServer mode behind the http(s) server's
 * `upgrade` event. Each upgrade request is routed by the admission rules, then handed to
 * the hub once open.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from '../common/log';
import { pathOnly } from '../common/log';
import { SHUTTING_DOWN, admitUpgrade, type UpgradeRefusal, type UpgradeRules } from './admission';
import { runAuthenticate, type Authenticate } from './auth/authenticate';
import { subprotocolSelector } from './messaging/negotiate';
import { httpReject, normalizePath } from './http-front';
import { ServerSocket, type AuthUser, type Hub } from './hub';
import { clientIpFor, parsePeer, type Cidr } from './trust-proxy';
import type { HandshakeLimiter } from './ops/rate-limit';
import type { FloodPenalty } from './ops/flood-penalty';
import type { Stats } from './ops/stats';

export interface UpgradeOptions extends UpgradeRules {
  maxPayload: number;
  /** Subprotocols the server speaks; an offer of anything else selects none. */
  subprotocols: readonly string[];
  trustProxy: Cidr[];
  ipHeaders: string[];
  /** Runs before any 101 (auth/authenticate.ts); undefined: everyone is anonymous. */
  authenticate?: Authenticate;
  /** Bounds a never-settling authenticate. */
  handshakeTimeout?: number;
  /** Messaging options: when set, wss-mp.v1 may be selected. */
  messaging?: unknown;
  /** Handshakes per client IP (ops/rate-limit.ts). */
  handshakeLimiter?: HandshakeLimiter;
  /** Addresses cooling down after a 4029 (ops/flood-penalty.ts): behind a proxy, refused here. */
  penalty?: FloodPenalty;
  /** Counts the penalty's refusals, which are not logged one by one. */
  stats?: Stats;
}

const ignore = () => {};

/**
 * Fragments allowed per message (more: close 1008). ws keeps each fragment as a view into the
 * socket read chunk it arrived in (up to 64 KiB; 16 KiB with TLS) until the message is
 * complete, and the peer can fill the rest of each chunk with pongs. With ws's default of
 * 16384, one 16 KiB message in 1-byte fragments held 1.1 GiB of RSS (measured, plain;
 * test/server-frames.e2e.test.ts). 64 covers real fragmenters (Autobahn's largest non-
 * performance case, 10.1.1, sends 64 KiB in ~51 fragments) and bounds what a message pins to
 * about 4 MiB; a larger maxPayload allows one fragment per 16 KiB (about 4 × maxPayload).
 */
export function maxFragmentsFor(maxPayload: number): number {
  return Math.min(16_384, Math.max(64, Math.ceil(maxPayload / 16_384)));
}

/** Serves WebSocket upgrades on `server` into `hub`. */
export function serveUpgrades<T>(server: http.Server, o: UpgradeOptions, hub: Hub<T>, log: Logger): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: o.maxPayload,
    maxFragments: maxFragmentsFor(o.maxPayload),
    perMessageDeflate: false,
    clientTracking: false,
    WebSocket: ServerSocket,
    handleProtocols: subprotocolSelector(o.subprotocols, o.messaging !== undefined),
  });
  wss.on('error', (err) => log.error('error', { where: 'websocket-server', error: err }));
  // ws answers a malformed upgrade (no key, wrong version…) itself, silently; with this listener
  // it is logged as a `reject` (and so counted as bad_upgrade) and answered as ws would.
  wss.on('wsClientError', (err: Error, socket: Duplex, req: http.IncomingMessage) => {
    const ip = clientIpFor(parsePeer(req.socket.remoteAddress), req.headers, o.trustProxy, o.ipHeaders);
    const method = /method/i.test(err.message);
    log.info('reject', { ip, path: normalizePath(pathOnly(req.url)), status: method ? 405 : 400, reason: err.message });
    httpReject(socket, method ? 405 : 400, method ? 'Method Not Allowed' : 'Bad Request', err.message,
      /Version/.test(err.message) ? 'Sec-WebSocket-Version: 13, 8\r\n' : '');
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // No `error` listener here: every refusal below goes through httpReject, which adds one,
    // and ws's handleUpgrade adds its own first thing. One left on the socket for the
    // connection's lifetime would cost a listener array per connection.
    const path = normalizePath(pathOnly(req.url));
    // Parsed once: the trust check, conn.ip and conn.remoteAddress all come from this.
    const peer = parsePeer(req.socket.remoteAddress);
    const ip = clientIpFor(peer, req.headers, o.trustProxy, o.ipHeaders);
    const originHeader = req.headers.origin;
    const admitted = admitUpgrade(o, hub.draining, path, originHeader);
    if (typeof admitted !== 'number') {
      const r = admitted;
      log[r.level]('reject', { ip, path, status: r.status, origin: r.origin, reason: r.reason });
      return httpReject(socket, r.status, r.statusText, r.body, r.headers);
    }
    // Behind a proxy the TCP peer is the proxy, so a penalised client is only known here: the
    // TLS work (the proxy's) is done, and the refusal is an answer, not a closed connection.
    const cooling = o.penalty === undefined || o.penalty.idle ? 0 : o.penalty.remaining(ip);
    if (cooling > 0) {
      o.stats?.failed('flood_penalty');
      return httpReject(socket, 429, 'Too Many Requests', 'closed for flooding (4029): retry later\n', `Retry-After: ${Math.ceil(cooling / 1000)}\r\n`);
    }
    if (o.handshakeLimiter !== undefined && !o.handshakeLimiter.allow(ip)) {
      log.info('reject', { ip, path, status: 429, reason: 'handshake rate limit' });
      return httpReject(socket, 429, 'Too Many Requests', 'too many connection attempts from your address: retry later\n', 'Retry-After: 1\r\n');
    }
    // The configured string, not this request's copy, is what the connection keeps.
    const knownPath = o.paths[admitted]!;
    if (o.authenticate === undefined) {
      wss.handleUpgrade(req, socket, head, (ws) => hub.open(ws as ServerSocket, req, ip, peer.text, knownPath, originHeader));
      return;
    }
    // A socket error while the application decides must not be an uncaught exception.
    socket.on('error', ignore);
    runAuthenticate(o.authenticate, req, o.handshakeTimeout ?? 10_000, (err) => log.error('error', { where: 'authenticate', ip, path, error: err }))
      .then((d) => authenticated(wss, hub, log, d, req, socket, head, ip, peer.text, knownPath, originHeader));
  });
  return wss;
}

/** After authenticate: the upgrade as that user, or the HTTP refusal (never a 101). */
function authenticated<T>(wss: WebSocketServer, hub: Hub<T>, log: Logger, d: AuthUser | UpgradeRefusal, req: http.IncomingMessage,
  socket: Duplex, head: Buffer, ip: string, peer: string, path: string, origin: string | undefined): void {
  socket.off('error', ignore);
  if (socket.destroyed) return; // the client gave up while we waited
  // close() may have started while the application decided: refuse as before the decision.
  if (hub.draining && !('status' in d)) d = SHUTTING_DOWN;
  if ('status' in d) {
    log[d.level]('reject', { ip, path, status: d.status, reason: d.reason });
    return httpReject(socket, d.status, d.statusText, d.body, d.headers);
  }
  wss.handleUpgrade(req, socket, head, (ws) => hub.open(ws as ServerSocket, req, ip, peer, path, origin, d));
}
