/**
 * Builds the admin listener from the server's parts: the metrics registry, the readiness
 * checks and the API's view of the hub and the messaging engine (LocalTarget). Under
 * `--workers` a worker builds the same LocalTarget but serves it to the primary over IPC
 * (worker-ops.ts) instead of listening itself.
 */
import type http from 'node:http';
import { WssMpServerError } from '../../common/errors';
import type { Logger } from '../../common/log';
import type { Certificate } from '../certificate';
import type { Connection } from '../connection';
import type { Hub } from '../hub';
import type { Messaging } from '../messaging/engine';
import { presenceOf } from '../messaging/presence';
import { AdminServer, messagingOff, noUsers, type AdminTarget, type DisconnectTarget } from './admin';
import { isHealthReporter, runChecks, type ReadyCheck } from './health';
import { createMetrics, type MetricJson } from './metrics';
import type { AdminOptions } from './options';
import type { Stats, StatsSnapshot } from './stats';

export interface Admin {
  url: string;
  close(): Promise<void>;
}

export interface AdminParts {
  stats: Stats;
  hub: Hub<any>;
  engine: Messaging<any> | undefined;
  server: http.Server;
  cert: Certificate | undefined;
  log: Logger;
}

/** The gauges /api/stats puts next to the counters. */
export interface StatsBody extends StatsSnapshot {
  connections: number;
  users: number;
  channels: number;
}

/** What a worker reports to the primary for /metrics and /api/stats. */
export interface WorkerReport {
  prom: MetricJson[];
  stats: StatsBody;
}

/** One server's admin target, plus what the --workers primary asks a worker for. */
export interface LocalTarget extends AdminTarget {
  report(): Promise<WorkerReport>;
  /** Ids of the user's connections on this server. */
  connectionIds(user: string): number[];
}

export async function localTarget(p: AdminParts): Promise<LocalTarget> {
  const { hub, engine, server, cert } = p;
  const checks: ReadyCheck[] = [
    { name: 'listening', check: () => server.listening },
    { name: 'not_draining', check: () => !hub.draining },
  ];
  // Loaded and not expired: a server handing out an expired leaf is up but useless to clients.
  if (cert) checks.push({ name: 'certificate', check: () => Date.parse(cert.info.validTo) > Date.now() });
  const broker = engine?.broker;
  if (isHealthReporter(broker)) checks.push({ name: 'broker', check: () => broker.healthy() });
  // The gauge reads the synchronous checks only: a scrape must not wait on the broker.
  const readyCheck = () => server.listening && !hub.draining;
  const users = () => engine?.users.size ?? 0;
  const channels = () => engine?.streamCount ?? 0;
  const registry = await createMetrics({ stats: p.stats, connections: () => hub.conns.size, users, channels, ready: readyCheck });
  const messaging = engine?.enabled === true;
  const statsBody = (): StatsBody => ({ connections: hub.conns.size, users: users(), channels: channels(), ...p.stats.snapshot() });
  const connectionIds = (user: string) => (engine ? [...engine.users.connectionsOf(user)].map((c) => c.id) : []);
  return {
    metrics: async () => ({ contentType: registry.contentType, text: await registry.metrics() }),
    ready: () => runChecks(checks),
    stats: async () => ({ ...statsBody(), deployment: await deployment(engine, hub) }),
    report: async () => ({ prom: await registry.json(), stats: statsBody() }),
    connectionIds,
    async publish(channel, data, opts) {
      if (!messaging) throw messagingOff();
      return engine!.publish(channel, data, opts);
    },
    async send(user, data, opts) {
      if (!messaging) throw messagingOff();
      const pos = await engine!.sendToUser(user, data, opts);
      return { offset: pos.offset, epoch: pos.epoch, connections: connectionIds(user) };
    },
    async broadcast(data) {
      return plainBroadcast(hub, data);
    },
    async presence(channel) {
      return engine ? engine.presence(hub.conns, channel) : presenceOf(channel === undefined ? hub.conns : []);
    },
    async disconnect(target, code, reason) {
      const conns = targets(hub, engine, target);
      for (const c of conns) {
        c.endReason = 'admin API';
        c.close(code, reason);
      }
      return conns.map((c) => c.id);
    },
  };
}

/**
 * Connections and users across the deployment (every node and worker sharing the broker), or
 * null while the broker cannot answer: the node's own numbers still come, an outage is when
 * they matter most.
 */
async function deployment(engine: AdminParts['engine'], hub: AdminParts['hub']): Promise<{ connections: number; users: number } | null> {
  try {
    const p = engine ? await engine.presence(hub.conns) : presenceOf(hub.conns);
    return { connections: p.connections, users: p.users.length };
  } catch {
    return null;
  }
}

export async function startAdmin(o: AdminOptions, p: AdminParts): Promise<Admin> {
  const admin = new AdminServer(o, await localTarget(p), p.log);
  try {
    return await listenAdmin(admin);
  } catch (err) {
    p.server.close();
    throw adminListenError(o, err);
  }
}

/** Binds the admin listener; resolves with its URL and how to close it. */
export async function listenAdmin(admin: AdminServer): Promise<Admin> {
  const addr = await admin.listen();
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return { url: `http://${host}:${addr.port}`, close: () => admin.close() };
}

export function adminListenError(o: AdminOptions, err: unknown): WssMpServerError {
  const e = err as NodeJS.ErrnoException;
  return new WssMpServerError('ERR_LISTEN', `admin listener on ${o.host} port ${o.port}: ${e.code === 'EADDRINUSE' ? 'already in use' : e.message}`, { cause: err });
}

/** `{ user }`: every connection of theirs on this server; `{ id }`: that one connection. */
function targets(hub: Hub<any>, engine: Messaging<any> | undefined, t: DisconnectTarget): Connection<any>[] {
  if ('id' in t) return [...hub.conns].filter((c) => c.id === t.id);
  if (engine === undefined) throw noUsers();
  return [...engine.users.connectionsOf(t.user)];
}

/**
 * Every connection that is not wss-mp.v1: those take JSON frames only (use publish for them),
 * and a text they cannot parse would be a protocol error to their client.
 */
function plainBroadcast(hub: Hub<any>, data: string): number {
  const payload = Buffer.from(data); // encoded once, not once per connection
  let n = 0;
  for (const c of hub.conns) if (c.session === undefined && c.sendFrame(payload, false)) n++;
  return n;
}
