/**
 * Builds the admin listener from the server's parts: the metrics registry, the readiness
 * checks and the API's view of the hub and the messaging engine.
 */
import type http from 'node:http';
import { WssMpServerError } from '../../common/errors';
import type { Logger } from '../../common/log';
import type { Certificate } from '../certificate';
import type { Hub } from '../hub';
import type { Messaging } from '../messaging/engine';
import { presenceOf } from '../messaging/presence';
import { AdminServer, type AdminTarget } from './admin';
import { isHealthReporter, type ReadyCheck } from './health';
import { createMetrics } from './metrics';
import type { AdminOptions } from './options';
import type { Stats } from './stats';

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

export async function startAdmin(o: AdminOptions, p: AdminParts): Promise<Admin> {
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
  const target: AdminTarget = {
    stats: p.stats,
    registry,
    checks,
    connections: hub.conns,
    connectionsOf: engine ? (user) => engine.users.connectionsOf(user) : undefined,
    users,
    channels,
    publish: messaging ? (ch, data, opts) => engine!.publish(ch, data, opts) : undefined,
    sendToUser: messaging ? (user, data, opts) => engine!.sendToUser(user, data, opts) : undefined,
    broadcast: (data) => plainBroadcast(hub, data),
    presence: (channel) => (engine ? engine.presence(hub.conns, channel) : Promise.resolve(presenceOf(channel === undefined ? hub.conns : []))),
  };
  const admin = new AdminServer(o, target, p.log);
  try {
    const addr = await admin.listen();
    const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    return { url: `http://${host}:${addr.port}`, close: () => admin.close() };
  } catch (err) {
    server.close();
    const e = err as NodeJS.ErrnoException;
    throw new WssMpServerError('ERR_LISTEN', `admin listener on ${o.host} port ${o.port}: ${e.code === 'EADDRINUSE' ? 'already in use' : e.message}`, { cause: err });
  }
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
