/**
 * createServer(): the Workerman-like server, as wiring. The parts, each in its own module:
 * http-front (the http(s) server and what it answers outside upgrades), upgrade + admission
 * (who may connect), hub (connections, hooks, broadcast), heartbeat, certificate (reload and
 * watching) and lifecycle (listen, drain).
 */
import { existsSync } from 'node:fs';
import type http from 'node:http';
import type https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Connection } from './connection';
import { WssMpServerError } from '../common/errors';
import { Logger, jsonLines } from '../common/log';
import type { CertificateInfo } from '../common/tls';
import { Certificate, reloadWithoutTls } from './certificate';
import { startHeartbeat } from './heartbeat';
import { createHttpFront } from './http-front';
import { Hub, type BroadcastOptions } from './hub';
import { PendingConnections, guardHandshakes } from './pending-caps';
import { drain, listenOn, publicUrl, type DrainWait } from './lifecycle';
import { resolveOptions, type ResolvedOptions, type ServerOptions } from './options';
import { serveUpgrades } from './upgrade';
import { Messaging } from './messaging/engine';
import type { StreamPosition } from '@wss-mp/protocol';
import type { Presence } from './messaging/presence';
import { wechatLoginRoute } from './auth/wechat-login';
import { redisBrokerFor } from './messaging/redis-wiring';
import { Stats } from './ops/stats';
import { limitersFor } from './ops/rate-limit';
import { startAdmin, type Admin } from './ops/wire';

export type { BroadcastOptions } from './hub';

export interface WssMpServer<T = Record<string, unknown>> {
  /** The URL clients should use, once listening (e.g. wss://localhost:8282/wss). */
  readonly url: string | undefined;
  /** Open connections. */
  readonly connections: ReadonlySet<Connection<T>>;
  /** The leaf certificate being served (TLS mode). */
  readonly certificate: CertificateInfo | undefined;
  /** The underlying http or https server. */
  readonly httpServer: http.Server | https.Server;
  /** Starts listening; resolves with the URL clients should use. */
  listen(): Promise<string>;
  /**
   * Drains and stops: refuses new connections, sends 1001 to every client, terminates those
   * still open after `drainTimeout`, then closes the listener. Idempotent.
   */
  close(): Promise<void>;
  /** Sends to every open connection; returns how many it was sent to. */
  broadcast(data: string | Buffer | ArrayBuffer | ArrayBufferView, options?: BroadcastOptions): number;
  /**
   * Re-reads certFile/keyFile and, if valid, serves them to new handshakes (open connections
   * keep theirs). On failure logs the error, keeps the old pair and resolves false. A pair
   * that is expired, not yet valid, or does not cover the names the current one covers is a
   * failure too, unless `force` (then it is served, with a warning naming the problems).
   */
  reloadCertificate(trigger?: string, options?: { force?: boolean }): boolean;
  address(): AddressInfo | null;
  /** Publishes on `channel` (messaging): every subscriber gets it, and it is kept for recovery. */
  publish(channel: string, data: unknown): Promise<StreamPosition>;
  /** Publishes on the user's personal stream (`$user`): every connection of theirs subscribed to it. */
  sendToUser(userId: string, data: unknown): Promise<StreamPosition>;
  /** Subscribes a protocol connection to `channel` from now on (no ack; `$` channels allowed). False for a plain connection. */
  subscribe(conn: Connection<T>, channel: string): boolean;
  /** Ends a subscription and tells the client (`unsub` with `code`, default FORBIDDEN). */
  unsubscribe(conn: Connection<T>, channel: string, code?: string, message?: string): boolean;
  /** Who is connected: authenticated users (each once) and connections; on one channel (this node's subscribers) or overall. */
  presence(channel?: string): Presence;
  /** Users and connections on every node sharing this Redis (`messaging.redis`); this node's otherwise. Rejects ERR_UNAVAILABLE while Redis is down. */
  globalPresence(): Promise<Presence>;
  /** The admin listener's URL (http://host:port), once listening with `admin`. */
  readonly adminUrl: string | undefined;
  /** The counters behind /metrics (plain numbers; see docs/operations.md). */
  readonly stats: Stats;
}

export function createServer<T = Record<string, unknown>>(options: ServerOptions<T> = {}): WssMpServer<T> {
  const o = resolveOptions(options);
  const log = new Logger(o.logger === undefined ? jsonLines() : o.logger, o.quiet);
  const cert = o.tls ? new Certificate(o.tls, log) : undefined;
  const route = o.wechatLogin ? wechatLoginRoute(o.wechatLogin, o.jwt!, log) : undefined;
  const server = createHttpFront({ ...o, route }, cert?.pair, log);
  cert?.serveOn(server as https.Server);
  // Connections that are not WebSockets yet: capped and given an absolute deadline.
  const pending = pendingCaps(o, log);
  guardHandshakes(server, pending);
  const report = reporter(o, log);
  const stats = Stats.observing(log);
  const limits = limitersFor(o.rateLimit, stats);
  const engine = o.messaging || o.authenticate ? new Messaging<T>({ messaging: o.messaging, singleSession: o.singleSession,
    heartbeatInterval: o.heartbeatInterval, report, sharedBroker: (m) => redisBrokerFor(m, log), stats, limiter: limits.messages }) : undefined;
  const hub = new Hub<T>({ ...o, extension: engine, stats }, log);
  serveUpgrades(server, { ...o, handshakeLimiter: limits.handshakes }, hub, log);

  let url: string | undefined;
  let listening: Promise<string> | undefined;
  let closing: Promise<void> | undefined;
  let stopHeartbeat: (() => void) | undefined;
  let admin: Admin | undefined;

  return {
    get url() {
      return url;
    },
    get certificate() {
      return cert?.info;
    },
    connections: hub.conns,
    httpServer: server,
    listen() {
      if (closing) return Promise.reject(new WssMpServerError('ERR_SERVER_STATE', 'listen() after close()'));
      listening ??= listenOn(server, o.port, o.host).then(async (addr) => {
        url = publicUrl(!!o.tls, o.host, cert?.info, addr.port, o.paths[0]!);
        stopHeartbeat = startHeartbeat(hub.conns, o.heartbeatInterval);
        pending.start();
        started(o, log, cert, url, addr);
        // The admin listener failing to bind fails listen() and unbinds the main one (wire.ts).
        if (o.admin) admin = await startAdmin(o.admin, { stats, hub, engine, server, cert, log });
        if (closing) await admin?.close(); // close() ran while the admin listener was binding
        return url;
      });
      return listening;
    },
    close() {
      closing ??= (async () => {
        hub.draining = true;
        stopHeartbeat?.();
        cert?.unwatch();
        // Not WebSockets yet (mid-TLS-handshake, no request): nothing to drain, and Node's
        // closeAllConnections() does not see a socket before its TLS handshake completes.
        pending.stop();
        pending.destroyAll();
        hub.budget.stop();
        const terminated = await drain(server, hub.conns, o.drainTimeout, log, drainWait(engine));
        await engine?.close();
        // Last: /readyz answers 503 throughout the drain, for the load balancer.
        await admin?.close();
        log.info('stopped', { terminated });
      })();
      return closing;
    },
    broadcast: (data, opts) => hub.broadcast(data, opts),
    reloadCertificate: (trigger = 'api', opts) => (cert ? cert.reload(trigger, opts) : reloadWithoutTls(log, trigger)),
    address: () => server.address() as AddressInfo | null,
    publish: (channel, data) => needEngine(engine).publish(channel, data),
    sendToUser: (user, data) => needEngine(engine).sendToUser(user, data),
    subscribe: (conn, channel) => needEngine(engine).subscribe(conn, channel),
    unsubscribe: (conn, channel, code, message) => needEngine(engine).unsubscribe(conn, channel, code, message),
    presence: (channel) => (engine ? engine.presence(hub.conns, channel) : { users: [], connections: hub.conns.size }),
    globalPresence: () => needEngine(engine).globalPresence(hub.conns),
    get adminUrl() {
      return admin?.url;
    },
    stats,
  };
}

function pendingCaps(o: ResolvedOptions<any>, log: Logger): PendingConnections {
  return new PendingConnections({
    maxPending: o.maxPendingConnections,
    maxPendingPerIp: o.maxPendingPerIp,
    deadlineMs: 2 * o.handshakeTimeout,
    ipv6Prefix: o.ipv6Prefix,
    trusted: o.trustProxy,
    report: (kind, d) => log.warn('limit', { limit: kind === 'refused' ? 'pending-connections' : 'handshake-deadline', ...d }),
  });
}

/** With messaging: no request starts from now on, and the drain waits for those in flight. */
function drainWait<T>(engine: Messaging<T> | undefined): DrainWait | undefined {
  if (!engine?.enabled) return undefined;
  engine.startDrain();
  return { whenIdle: (c, idle) => engine.whenIdle(c, idle), timedOut: (c, ms) => engine.drainTimedOut(c, ms) };
}

function needEngine<T>(engine: Messaging<T> | undefined): Messaging<T> {
  if (engine === undefined) throw new WssMpServerError('ERR_SERVER_STATE', 'messaging is off (createServer({ messaging: true }))');
  return engine;
}

/** Errors of messaging callbacks: logged and passed to onError, the connection stays open. */
function reporter<T>(o: ResolvedOptions<T>, log: Logger) {
  return (err: unknown, conn: Connection<any> | undefined, where: string) => {
    const e = err instanceof Error ? err : new Error(String(err));
    log.error('error', { where, id: conn?.id, ip: conn?.ip, path: conn?.path, error: e });
    try {
      o.onError?.(e, conn);
    } catch (again) {
      log.error('error', { where: 'onError', id: conn?.id, error: again });
    }
  };
}

/** Once bound: announce the certificate, start watching it, hint at a missing static dir, log the URL. */
function started(o: ResolvedOptions<any>, log: Logger, cert: Certificate | undefined, url: string, addr: AddressInfo): void {
  if (cert) {
    cert.announce();
    if (o.watchCertificate) cert.watch();
  }
  if (o.staticDir && !existsSync(o.staticDir)) {
    log.warn('hint', { msg: `static directory ${o.staticDir} does not exist (yet): plain requests get 404 until it does` });
  }
  log.info('listening', {
    msg: `listening on ${url}`,
    url,
    address: addr.address,
    port: addr.port,
    paths: o.paths,
    tls: !!o.tls,
    static: o.staticDir,
  });
}
