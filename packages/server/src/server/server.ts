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
import type { PublishOptions } from './messaging/broker';
import { wechatLoginRoute } from './auth/wechat-login';
import { redisBrokerFor } from './messaging/redis-wiring';
import { Stats } from './ops/stats';
import { limitersFor, type Limiters } from './ops/rate-limit';
import { acceptGate, type AcceptGate } from './ops/accept-gate';
import { localTarget, startAdmin, type Admin, type AdminParts } from './ops/wire';
import { serveOps, type OpsPort } from './ops/worker-ops';

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
  /**
   * Publishes on `channel` (messaging): every subscriber gets it, and it is kept for recovery.
   * `idempotencyKey` makes a retry safe: the same key on the same channel within 5 minutes
   * settles with the first publication's position and publishes nothing.
   */
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<StreamPosition>;
  /** Publishes on the user's personal stream (`$user`): every connection of theirs subscribed to it. */
  sendToUser(userId: string, data: unknown, options?: PublishOptions): Promise<StreamPosition>;
  /** Subscribes a protocol connection to `channel` from now on (no ack; `$` channels allowed). False for a plain connection. */
  subscribe(conn: Connection<T>, channel: string): boolean;
  /** Ends a subscription and tells the client (`unsub` with `code`, default FORBIDDEN). */
  unsubscribe(conn: Connection<T>, channel: string, code?: string, message?: string): boolean;
  /**
   * Who is connected, overall or subscribed to `channel`: users (each once, with their connection
   * counts) and connections, across the deployment (every node sharing `messaging.redis`, every
   * `--workers` worker), this process otherwise. Rejects ERR_UNAVAILABLE while Redis is down.
   */
  presence(channel?: string): Promise<Presence>;
  /** The same as presence(), for this process's connections only; synchronous. */
  localPresence(channel?: string): Presence;
  /** The former name of presence() without a channel. */
  globalPresence(): Promise<Presence>;
  /** The admin listener's URL (http://host:port), once listening with `admin`. */
  readonly adminUrl: string | undefined;
  /** The counters behind /metrics (plain numbers; see docs/operations.md). */
  readonly stats: Stats;
}

export function createServer<T = Record<string, unknown>>(options: ServerOptions<T> = {}): WssMpServer<T> {
  return build(options, undefined);
}

/** A `--workers` worker: which one, of how many, and its channel to the primary. */
export interface WorkerRole {
  /** 1…count; a replacement takes the number of the worker it replaces. */
  number: number;
  count: number;
  port: OpsPort;
}

/**
 * The server of worker `role.number` of a `--workers` node (the CLI's, not public API):
 * connection ids unique across the node's workers, and with `admin`, no listener of its own:
 * the primary holds the node's one admin listener and asks each worker over IPC.
 */
export function createWorkerServer<T = Record<string, unknown>>(options: ServerOptions<T>, role: WorkerRole): WssMpServer<T> {
  return build(options, role);
}

function build<T>(options: ServerOptions<T>, role: WorkerRole | undefined): WssMpServer<T> {
  const o = resolveOptions(options);
  const log = new Logger(o.logger === undefined ? jsonLines() : o.logger, o.quiet);
  const cert = o.tls ? new Certificate(o.tls, log) : undefined;
  const route = o.wechatLogin ? wechatLoginRoute(o.wechatLogin, o.jwt!, log) : undefined;
  const server = createHttpFront({ ...o, route }, cert?.pair, log);
  cert?.serveOn(server as https.Server);
  const stats = Stats.observing(log);
  const limits = rateLimits(o, stats, log);
  // Connections that are not WebSockets yet: capped and given an absolute deadline; flooders
  // and handshake floods refused at accept.
  const pending = pendingCaps(o, log, acceptGate(limits, o.trustProxy, stats, log));
  guardHandshakes(server, pending);
  const report = reporter(o, log);
  const engine = o.messaging || o.authenticate ? new Messaging<T>({ messaging: o.messaging, singleSession: o.singleSession,
    heartbeatInterval: o.heartbeatInterval, report, sharedBroker: (m) => redisBrokerFor(m, log), stats, limiter: limits.messages }) : undefined;
  const hub = new Hub<T>({ ...o, extension: engine, stats, ids: role && { first: role.number, step: role.count } }, log);
  serveUpgrades(server, { ...o, handshakeLimiter: limits.handshakes, penalty: limits.penalty, stats }, hub, log);

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
      listening ??= bind(o, role, { stats, hub, engine, server, cert, log }).then(async (addr) => {
        url = publicUrl(!!o.tls, o.host, cert?.info, addr.port, o.paths[0]!);
        stopHeartbeat = startHeartbeat(hub.conns, o.heartbeatInterval);
        pending.start();
        started(o, log, cert, url, addr);
        // The admin listener failing to bind fails listen() and unbinds the main one (wire.ts).
        if (o.admin && !role) admin = await startAdmin(o.admin, { stats, hub, engine, server, cert, log });
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
    publish: (channel, data, opts) => needEngine(engine).publish(channel, data, opts),
    sendToUser: (user, data, opts) => needEngine(engine).sendToUser(user, data, opts),
    subscribe: (conn, channel) => needEngine(engine).subscribe(conn, channel),
    unsubscribe: (conn, channel, code, message) => needEngine(engine).unsubscribe(conn, channel, code, message),
    ...presenceApi(engine, hub.conns),
    get adminUrl() {
      return admin?.url;
    },
    stats,
  };
}

/**
 * Binds the server. A worker with `admin` answers the primary (worker-ops.ts) before it
 * listens: its readiness says "not listening" rather than nothing, and no connection it
 * accepts is missed by a node-wide call.
 */
async function bind(o: ResolvedOptions<any>, role: WorkerRole | undefined, parts: AdminParts): Promise<AddressInfo> {
  if (role && o.admin) serveOps(await localTarget(parts), role.port, parts.log);
  return listenOn(parts.server, o.port, o.host);
}

/** The rate limiters; a flood penalty is logged once, when it begins. */
function rateLimits(o: ResolvedOptions<any>, stats: Stats, log: Logger): Limiters {
  return limitersFor(o.rateLimit, stats, { ipv6Prefix: o.ipv6Prefix,
    started: (d) => log.warn('limit', { limit: 'flood-penalty', ...d, msg: `cut with 4029: new connections from this address refused for ${d.ms} ms` }) });
}

function pendingCaps(o: ResolvedOptions<any>, log: Logger, gate: AcceptGate | undefined): PendingConnections {
  return new PendingConnections({
    gate,
    maxPending: o.maxPendingConnections,
    maxPendingPerIp: o.maxPendingPerIp,
    deadlineMs: 2 * o.handshakeTimeout,
    ipv6Prefix: o.ipv6Prefix,
    trusted: o.trustProxy,
    report: (kind, d) => log.warn('limit', { limit: kind === 'refused' ? 'pending-connections' : 'handshake-deadline', ...d }),
  });
}

/** presence(), localPresence() and globalPresence() of the server. */
function presenceApi<T>(engine: Messaging<T> | undefined, conns: ReadonlySet<Connection<T>>): Pick<WssMpServer<T>, 'presence' | 'localPresence' | 'globalPresence'> {
  // Neither messaging nor authentication configured: connections, no users, no channels.
  const anonymous = (channel?: string): Presence => ({ users: [], connections: channel === undefined ? conns.size : 0, userConnections: {} });
  return {
    presence: (channel) => (engine ? engine.presence(conns, channel) : Promise.resolve(anonymous(channel))),
    localPresence: (channel) => (engine ? engine.localPresence(conns, channel) : anonymous(channel)),
    globalPresence: () => (engine ? engine.presence(conns) : Promise.resolve(anonymous())),
  };
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
