/**
 * createServer options, their defaults, and validation. Every default lives in
 * SERVER_DEFAULTS, which a test compares with the README's options table.
 */
import type { IncomingMessage } from 'node:http';
import { OptionError } from '../common/errors';
import { normalizeOrigin } from './origin';
import { SUBPROTOCOL_TOKEN } from './subprotocols';

export { normalizeOrigin };
import { parseTrustList, DEFAULT_IP_HEADERS, type Cidr } from './trust-proxy';
import type { Connection } from './connection';
import type { LogEntry } from '../common/log';
import type { Authenticate } from './auth/authenticate';
import { jwtAuthenticator, resolveJwt, type JwtOptions, type ResolvedJwt } from './auth/jwt';
import { resolveWechatLogin, type WechatLoginOptions } from './auth/wechat-login';
import { resolveMessaging, type MessagingOptions, type ResolvedMessaging } from './messaging/options';
import { resolveAdmin, type AdminOptions } from './ops/options';
import { resolveRateLimit, type RateLimitOptions } from './ops/rate-limit';

export const SERVER_DEFAULTS = Object.freeze({
  /** 8282, the FAQ's port. 0 picks a free port (listen() resolves with the real URL). */
  port: 8282,
  /** Upgrade paths. /wss is the proxied path of FAQ method 1 (and the printed URL); / lets
   * `wss://host:8282` (method 2) work too. */
  path: Object.freeze(['/wss', '/']) as readonly string[],
  /** Host to bind without TLS (behind a proxy). With TLS the default is all interfaces. */
  plainHost: '127.0.0.1',
  /** Peers whose forwarded headers are believed. */
  trustProxy: Object.freeze(['loopback']) as readonly string[],
  /** Headers read for the client IP when the peer is trusted, first usable wins. */
  ipHeaders: DEFAULT_IP_HEADERS as readonly string[],
  /** Largest message accepted, bytes; bigger ones close the connection with 1009. */
  maxPayload: 64 * 1024,
  /** Open WebSocket connections at once; 0 = unlimited. Beyond it: close 1013. */
  maxConnections: 10_000,
  /** Open connections per client IP; 0 = unlimited. Beyond it: close 1013. */
  maxConnectionsPerIp: 256,
  /** A connection whose unsent data exceeds this many bytes is terminated (slow consumer). */
  maxBufferedAmount: 1024 * 1024,
  /** TLS handshake and HTTP upgrade request must each complete within this, ms. */
  handshakeTimeout: 10_000,
  /** Protocol ping interval, ms; a peer silent for a whole interval after a ping is
   * terminated. 0 disables. */
  heartbeatInterval: 25_000,
  /** close(): how long clients get to answer 1001 before they are terminated, ms. */
  drainTimeout: 5_000,
  /** Browser origins allowed to connect; empty = any. Absent or non-http(s) origins (mini
   * programs, native apps) are always let through. */
  allowedOrigins: Object.freeze([]) as readonly string[],
  /** Watch certificate files and reload them when they change. */
  watchCertificate: true,
  /** TLS mode: answer plain HTTP (http://, ws://) on the TLS port with a 400 naming wss://.
   * Off: such requests are closed without an answer, as Node does by default. */
  plainHttpAnswer: true,
  /** Frames sent to one connection in one event-loop turn leave as one write (see cork.ts).
   * Off: each frame is its own write, as with bare ws. */
  coalesceWrites: true,
  /** Silence per-connection log lines. */
  quiet: false,
  /** Connections not yet WebSockets (TLS handshake, upgrade request) at once; 0 = unlimited.
   * Beyond it a new TCP connection is closed at accept. */
  maxPendingConnections: 1_000,
  /** Connections not yet WebSockets per client address (the TCP peer; trusted proxies are
   * exempt); 0 = unlimited. */
  maxPendingPerIp: 32,
  /** Per-IP caps count IPv6 clients by this prefix: one subscriber usually holds a /64. */
  ipv6Prefix: 64,
  /** Bytes one connection's unfinished (fragmented) message may hold in memory, counting the
   * read chunks its fragments pin; at least 2 × maxPayload. Beyond it: close 1009. */
  maxUnfinishedBytes: 1024 * 1024,
  /** Bytes all unfinished messages together may hold. Beyond it: close 1013. */
  maxUnfinishedTotal: 64 * 1024 * 1024,
  /** A fragmented message must complete within this, ms. Beyond it: close 1008. */
  messageTimeout: 30_000,
  /** Subprotocols the server speaks; an offered one is accepted only if listed. */
  subprotocols: Object.freeze([]) as readonly string[],
  /** One connection per user: a newer one closes the older with 4009. Needs authenticate or jwt. */
  singleSession: false,
});

/** Native TLS from PEM files (reloadable) or from PEM text/buffers. */
export type TlsOptions =
  | { certFile: string; keyFile: string; cert?: never; key?: never }
  | { cert: string | Buffer; key: string | Buffer; certFile?: never; keyFile?: never };

export type MessageData = string | Buffer;

export interface ServerHooks<T = Record<string, unknown>> {
  /** A client connected. `req` is the upgrade request (headers, url with query). Throwing
   * closes the connection with 1011; call `conn.close(4001, 'unauthorized')` to refuse. */
  onConnect?(conn: Connection<T>, req: IncomingMessage): void | Promise<void>;
  /** A message arrived: a string for text frames, a Buffer for binary ones. Without this
   * hook every message is echoed back unchanged. Heartbeat frames never reach it. */
  onMessage?(conn: Connection<T>, data: MessageData): void | Promise<void>;
  /** The connection closed (by either side, or terminated). */
  onClose?(conn: Connection<T>, code: number, reason: string): void;
  /** An error on a connection (protocol violation, socket error) or in a hook. The
   * connection, if any, is being closed. Never fatal to the server. */
  onError?(err: Error, conn?: Connection<T>): void;
}

export interface ServerOptions<T = Record<string, unknown>> extends ServerHooks<T> {
  /** Interface to bind. @default all interfaces with `tls`, `"127.0.0.1"` without */
  host?: string;
  /** @default 8282 */
  port?: number;
  /** Path (or paths) accepting WebSocket upgrades; the first one is printed in the URL.
   * @default ["/wss", "/"] */
  path?: string | readonly string[];
  /** Serve TLS natively. Without it the server speaks plain ws (behind a proxy). */
  tls?: TlsOptions;
  /** CIDRs (or loopback/private/linklocal/none) of proxies whose X-Real-IP /
   * X-Forwarded-For are believed. @default ["loopback"] */
  trustProxy?: string | readonly string[];
  /** @default ["x-real-ip", "x-forwarded-for"] */
  ipHeaders?: readonly string[];
  /** @default 65536 */
  maxPayload?: number;
  /** @default 10000 */
  maxConnections?: number;
  /** @default 256 */
  maxConnectionsPerIp?: number;
  /** @default 1048576 */
  maxBufferedAmount?: number;
  /** @default 10000 */
  handshakeTimeout?: number;
  /** @default 25000 */
  heartbeatInterval?: number;
  /** @default 5000 */
  drainTimeout?: number;
  /** @default [] */
  allowedOrigins?: readonly string[];
  /** Serve files from this directory for plain GET/HEAD requests. @default none */
  staticDir?: string;
  /** Reload `tls.certFile`/`keyFile` when they change. @default true */
  watchCertificate?: boolean;
  /** TLS mode: answer plain HTTP on the TLS port with `400` naming wss:// (false: close it
   * silently, as Node does). @default true */
  plainHttpAnswer?: boolean;
  /** Frames sent to one connection within one event-loop turn (echoes, sends, broadcasts,
   * pongs, pings, a close) leave as one write: one TLS record and one syscall instead of one
   * per frame. Order, bufferedAmount and maxBufferedAmount are unchanged, and nothing waits
   * past the end of the turn. false: one write per frame, as bare ws does. @default true */
  coalesceWrites?: boolean;
  /** Where log entries go: false for none, or a function. @default JSON lines on stdout */
  logger?: false | ((entry: LogEntry) => void);
  /** @default false */
  quiet?: boolean;
  /** @default 1000 */
  maxPendingConnections?: number;
  /** @default 32 */
  maxPendingPerIp?: number;
  /** @default 64 */
  ipv6Prefix?: number;
  /** @default 1048576, or 2 × maxPayload if larger */
  maxUnfinishedBytes?: number;
  /** @default 67108864 */
  maxUnfinishedTotal?: number;
  /** @default 30000 */
  messageTimeout?: number;
  /** @default [] */
  subprotocols?: readonly string[];
  /** Decides on each upgrade request, before any 101: `{ id, data? }` admits the client as that
   * user (`conn.user`), `{ status: 401 | 403, reason }` refuses it with that HTTP status. */
  authenticate?: Authenticate;
  /** Built-in authenticate: verify a JWT (`Authorization: Bearer` or `?token=`), `sub` = user. */
  jwt?: JwtOptions;
  /** A newer connection of the same user closes the older ones with 4009. @default false */
  singleSession?: boolean;
  /** Speak wss-mp.v1 (docs/protocol.md) with clients that offer it. @default off */
  messaging?: boolean | MessagingOptions<T>;
  /** POST /login: wx.login code → code2Session → a JWT signed with `jwt.secret`. */
  wechatLogin?: WechatLoginOptions;
  /** Admin listener (metrics, probes, API): a port, "HOST:PORT" or { host, port }. @default off */
  admin?: number | string | { host?: string; port: number };
  /** Bearer key of the admin API (16+ characters). Without it the API is served on a loopback admin bind only. */
  adminKey?: string;
  /** Token buckets per wss-mp.v1 connection, per user, and handshakes per IP; false: none. @default RATE_LIMIT_DEFAULTS */
  rateLimit?: false | Partial<RateLimitOptions>;
}

/** Options after validation, with defaults applied. */
export interface ResolvedOptions<T> extends ServerHooks<T> {
  host: string | undefined;
  port: number;
  paths: string[];
  tls: TlsOptions | undefined;
  trustProxy: Cidr[];
  ipHeaders: string[];
  maxPayload: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  maxBufferedAmount: number;
  handshakeTimeout: number;
  heartbeatInterval: number;
  drainTimeout: number;
  allowedOrigins: Set<string>;
  staticDir: string | undefined;
  watchCertificate: boolean;
  plainHttpAnswer: boolean;
  coalesceWrites: boolean;
  logger: false | ((entry: LogEntry) => void) | undefined;
  quiet: boolean;
  maxPendingConnections: number;
  maxPendingPerIp: number;
  ipv6Prefix: number;
  maxUnfinishedBytes: number;
  maxUnfinishedTotal: number;
  messageTimeout: number;
  subprotocols: string[];
  authenticate: Authenticate | undefined;
  jwt: ResolvedJwt | undefined;
  singleSession: boolean;
  messaging: ResolvedMessaging<T> | undefined;
  wechatLogin: ReturnType<typeof resolveWechatLogin>;
  admin: AdminOptions | undefined;
  rateLimit: RateLimitOptions | undefined;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function int(name: string, v: unknown, min: number, max: number, accepted?: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new OptionError(name, accepted ?? `an integer ${min}–${max}`, v);
  }
  return v;
}

function normalizePath(name: string, p: unknown): string {
  if (typeof p !== 'string' || !p.startsWith('/') || /[?#\s]/.test(p)) {
    throw new OptionError(name, 'a path starting with "/" without query or fragment, e.g. "/wss"', p);
  }
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

export function resolveOptions<T>(o: ServerOptions<T> = {}): ResolvedOptions<T> {
  if (o === null || typeof o !== 'object') throw new OptionError('options', 'an object', o);
  const d = SERVER_DEFAULTS;
  const tlsOpt = o.tls;
  if (tlsOpt !== undefined) {
    const files = typeof tlsOpt.certFile === 'string' && typeof tlsOpt.keyFile === 'string';
    const pem = (typeof tlsOpt.cert === 'string' || Buffer.isBuffer(tlsOpt.cert)) &&
      (typeof tlsOpt.key === 'string' || Buffer.isBuffer(tlsOpt.key));
    if (files === pem) throw new OptionError('tls', '{ certFile, keyFile } or { cert, key } (PEM)', Object.keys(tlsOpt));
  }
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) {
    throw new OptionError('host', 'a host name or IP address', o.host);
  }
  const rawPaths = o.path === undefined ? d.path : typeof o.path === 'string' ? o.path.split(',') : o.path;
  if (!Array.isArray(rawPaths) || rawPaths.length === 0) throw new OptionError('path', 'one or more paths, e.g. "/wss"', o.path);
  const paths = [...new Set(rawPaths.map((p) => normalizePath('path', typeof p === 'string' ? p.trim() : p)))];

  const ipHeaders = (o.ipHeaders ?? d.ipHeaders).map((h) => {
    if (typeof h !== 'string' || !/^[a-z0-9-]+$/i.test(h)) throw new OptionError('ipHeaders', 'header names such as x-real-ip', h);
    return h.toLowerCase();
  });
  const origins = new Set<string>();
  for (const origin of o.allowedOrigins ?? d.allowedOrigins) {
    const n = typeof origin === 'string' ? normalizeOrigin(origin) : null;
    if (!n) throw new OptionError('allowedOrigins', 'origins such as https://example.com', origin);
    origins.add(n);
  }
  checkShapes(o);
  const trustProxy = parseTrustList(o.trustProxy ?? d.trustProxy);
  const maxPayload = int('maxPayload', o.maxPayload ?? d.maxPayload, 1, 2 ** 31 - 1, 'a size in bytes, at least 1');
  const subprotocols = resolveSubprotocols(o.subprotocols ?? d.subprotocols);
  const auth = resolveAuth(o);
  const heartbeatInterval = int('heartbeatInterval', o.heartbeatInterval ?? d.heartbeatInterval, 0, MAX_TIMER_MS,
    'milliseconds, 0 (off) or more');
  return {
    host: o.host ?? (tlsOpt ? undefined : d.plainHost),
    port: int('port', o.port ?? d.port, 0, 65535),
    paths,
    tls: tlsOpt,
    trustProxy,
    ipHeaders,
    maxPayload,
    maxConnections: int('maxConnections', o.maxConnections ?? d.maxConnections, 0, Number.MAX_SAFE_INTEGER,
      'an integer, 0 (unlimited) or more'),
    maxConnectionsPerIp: int('maxConnectionsPerIp', o.maxConnectionsPerIp ?? d.maxConnectionsPerIp, 0,
      Number.MAX_SAFE_INTEGER, 'an integer, 0 (unlimited) or more'),
    maxBufferedAmount: int('maxBufferedAmount', o.maxBufferedAmount ?? d.maxBufferedAmount, 1,
      Number.MAX_SAFE_INTEGER, 'a size in bytes, at least 1'),
    handshakeTimeout: int('handshakeTimeout', o.handshakeTimeout ?? d.handshakeTimeout, 1, MAX_TIMER_MS,
      'milliseconds, at least 1'),
    heartbeatInterval,
    drainTimeout: int('drainTimeout', o.drainTimeout ?? d.drainTimeout, 0, MAX_TIMER_MS, 'milliseconds, 0 or more'),
    allowedOrigins: origins,
    staticDir: o.staticDir,
    watchCertificate: o.watchCertificate ?? d.watchCertificate,
    plainHttpAnswer: o.plainHttpAnswer ?? d.plainHttpAnswer,
    coalesceWrites: o.coalesceWrites ?? d.coalesceWrites,
    logger: o.logger,
    quiet: o.quiet ?? d.quiet,
    ...resolveAttackLimits(o, maxPayload),
    subprotocols,
    onConnect: o.onConnect,
    onMessage: o.onMessage,
    onClose: o.onClose,
    onError: o.onError,
    ...auth,
    admin: resolveAdmin(o.admin, o.adminKey),
    rateLimit: resolveRateLimit(o.rateLimit),
  };
}

/** authenticate / jwt / singleSession / messaging / wechatLogin, checked together. */
function resolveAuth<T>(o: ServerOptions<T>) {
  if (o.authenticate !== undefined && typeof o.authenticate !== 'function') throw new OptionError('authenticate', 'a function(req)', o.authenticate);
  if (o.authenticate !== undefined && o.jwt !== undefined) throw new OptionError('jwt', 'either jwt or authenticate (call jwt yourself inside authenticate)', 'both');
  const jwt = resolveJwt(o.jwt);
  const authenticate = o.authenticate ?? (jwt ? jwtAuthenticator(jwt) : undefined);
  const singleSession = o.singleSession ?? SERVER_DEFAULTS.singleSession;
  if (singleSession && authenticate === undefined) throw new OptionError('singleSession', 'authenticate or jwt as well (sessions are per user)', true);
  return {
    authenticate,
    jwt,
    singleSession,
    messaging: resolveMessaging(o.messaging),
    wechatLogin: resolveWechatLogin(o.wechatLogin, jwt),
  };
}

/** Types of the options that are used as given (paths, hooks, switches). Throws OptionError. */
function checkShapes<T>(o: ServerOptions<T>): void {
  if (o.staticDir !== undefined && (typeof o.staticDir !== 'string' || o.staticDir === '')) {
    throw new OptionError('staticDir', 'a directory path', o.staticDir);
  }
  if (o.logger !== undefined && o.logger !== false && typeof o.logger !== 'function') {
    throw new OptionError('logger', 'false or a function(entry)', o.logger);
  }
  for (const hook of ['onConnect', 'onMessage', 'onClose', 'onError'] as const) {
    if (o[hook] !== undefined && typeof o[hook] !== 'function') throw new OptionError(hook, 'a function', o[hook]);
  }
  for (const flag of ['watchCertificate', 'plainHttpAnswer', 'coalesceWrites', 'quiet', 'singleSession'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw new OptionError(flag, 'true or false', o[flag]);
  }
}

/** RFC 6455 tokens only; the server accepts an offered subprotocol only when it is listed here. */
function resolveSubprotocols(subprotocols: unknown): string[] {
  if (!Array.isArray(subprotocols)) throw new OptionError('subprotocols', 'an array of subprotocol names', subprotocols);
  for (const p of subprotocols) {
    if (typeof p !== 'string' || !SUBPROTOCOL_TOKEN.test(p)) {
      throw new OptionError('subprotocols', 'subprotocol names (RFC 6455 tokens) such as "chat" or "v1.wss-mp"', p);
    }
  }
  return [...(subprotocols as string[])];
}

/** The limits against connections that never finish their handshake or their messages. */
function resolveAttackLimits<T>(o: ServerOptions<T>, maxPayload: number) {
  const d = SERVER_DEFAULTS;
  return {
    maxPendingConnections: int('maxPendingConnections', o.maxPendingConnections ?? d.maxPendingConnections, 0,
      Number.MAX_SAFE_INTEGER, 'an integer, 0 (unlimited) or more'),
    maxPendingPerIp: int('maxPendingPerIp', o.maxPendingPerIp ?? d.maxPendingPerIp, 0, Number.MAX_SAFE_INTEGER,
      'an integer, 0 (unlimited) or more'),
    ipv6Prefix: int('ipv6Prefix', o.ipv6Prefix ?? d.ipv6Prefix, 1, 128, 'a prefix length 1–128, e.g. 64 or 56'),
    maxUnfinishedBytes: int('maxUnfinishedBytes', o.maxUnfinishedBytes ?? Math.max(d.maxUnfinishedBytes, 2 * maxPayload), 1,
      Number.MAX_SAFE_INTEGER, 'a size in bytes, at least 1'),
    maxUnfinishedTotal: int('maxUnfinishedTotal', o.maxUnfinishedTotal ?? d.maxUnfinishedTotal, 1, Number.MAX_SAFE_INTEGER,
      'a size in bytes, at least 1'),
    messageTimeout: int('messageTimeout', o.messageTimeout ?? d.messageTimeout, 1, MAX_TIMER_MS, 'milliseconds, at least 1'),
  };
}
