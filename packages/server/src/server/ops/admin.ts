/**
 * The admin listener: a separate plain-HTTP server (loopback by default) for Prometheus
 * (/metrics), probes (/healthz, /readyz) and the application backend's API (/api/…: publish,
 * send to a user, disconnect, presence, stats).
 *
 * Who may call /api: with `adminKey`, whoever sends `Authorization: Bearer <key>` (compared in
 * constant time); without one, only a loopback bind serves it (anyone who can reach a loopback
 * port already runs on this machine). /metrics and the probes need no key: they reveal counts,
 * never content, and Prometheus and kubelets do not carry secrets easily.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isWireCloseCode } from '@wss-mp/protocol';
import type { Logger } from '../../common/log';
import { pathOnly } from '../../common/log';
import { normalizeIp } from '../trust-proxy';
import type { Connection } from '../connection';
import type { Presence } from '../messaging/presence';
import { runChecks, type ReadyCheck } from './health';
import { isLoopbackHost, type AdminOptions } from './options';
import type { Stats } from './stats';
import type { Metrics } from './metrics';

/** What the admin API acts on: the server, seen through a narrow interface. */
export interface AdminTarget {
  stats: Stats;
  registry: Metrics;
  checks: readonly ReadyCheck[];
  connections: ReadonlySet<Connection<any>>;
  /** Connections of one user; undefined when the server has no users (no authenticate/jwt). */
  connectionsOf?(user: string): Iterable<Connection<any>>;
  users(): number;
  channels(): number;
  /** Undefined when messaging is off. */
  publish?(channel: string, data: unknown, opts?: { idempotencyKey?: string }): Promise<{ offset: number; epoch: string }>;
  sendToUser?(user: string, data: unknown, opts?: { idempotencyKey?: string }): Promise<{ offset: number; epoch: string }>;
  /** Across the deployment when the broker is shared (Redis, --workers); rejects while it is unreachable. */
  presence(channel?: string): Promise<Presence>;
  /** Every open plain (not wss-mp.v1) connection gets a text frame; returns how many got it. */
  broadcast(data: string): number;
}

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export class AdminServer {
  readonly server: http.Server;
  private readonly keyHash: Buffer | undefined;
  private readonly apiAllowed: boolean;
  private nextRequest = 1;

  constructor(private readonly o: AdminOptions, private readonly t: AdminTarget, private readonly log: Logger) {
    // Hashing both sides first makes the compare constant-time in the key's length too
    // (timingSafeEqual needs equal lengths, and an early length check would leak it).
    this.keyHash = o.key === undefined ? undefined : sha256(o.key);
    this.apiAllowed = o.key !== undefined || isLoopbackHost(o.host);
    this.server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
      res.on('error', () => {});
      this.handle(req, res).catch((err) => {
        const e = err instanceof ApiError ? err : new ApiError(500, 'INTERNAL', 'internal error');
        if (!(err instanceof ApiError)) this.log.error('error', { where: 'admin', error: err });
        json(res, e.status, { error: e.code, message: e.message });
      });
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        this.server.on('error', (err) => this.log.error('error', { where: 'admin', error: err }));
        const addr = this.server.address() as AddressInfo;
        this.log.info('admin', { msg: `admin listener on http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`,
          address: addr.address, port: addr.port, api: this.apiAllowed ? (this.keyHash ? 'key' : 'loopback') : 'off (no adminKey)' });
        if (!this.apiAllowed) this.log.warn('hint', { msg: 'admin API off: bound beyond loopback without adminKey (metrics and probes still served)' });
        resolve(addr);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = pathOnly(req.url);
    const method = req.method ?? 'GET';
    if (path === '/healthz') return text(res, 200, 'ok\n');
    if (path === '/readyz') {
      const r = await runChecks(this.t.checks);
      return json(res, r.ready ? 200 : 503, r);
    }
    if (path === '/metrics') {
      const body = await this.t.registry.metrics();
      res.writeHead(200, { 'Content-Type': this.t.registry.contentType, 'Content-Length': Buffer.byteLength(body) });
      return void res.end(body);
    }
    if (!path.startsWith('/api/')) throw new ApiError(404, 'NOT_FOUND', 'no such route (see docs/operations.md)');
    const rid = `a${this.nextRequest++}`;
    const ip = normalizeIp(req.socket.remoteAddress ?? 'unknown');
    if (!this.apiAllowed) throw new ApiError(403, 'API_OFF', 'the admin API needs adminKey when the admin listener is not on loopback');
    if (this.keyHash !== undefined && !this.authorized(req.headers.authorization)) {
      // Never the key, nor what was sent instead of it.
      this.log.warn('admin', { rid, ip, method, path, status: 401, reason: req.headers.authorization ? 'wrong key' : 'no key' });
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new ApiError(401, 'UNAUTHORIZED', 'Authorization: Bearer <admin key> required');
    }
    const answer = await this.route(method, path, req);
    this.log.info('admin', { rid, ip, method, path, status: 200, ...answer.log });
    json(res, 200, { rid, ...answer.body });
  }

  private authorized(header: string | undefined): boolean {
    if (header === undefined || !header.startsWith('Bearer ')) return false;
    return timingSafeEqual(sha256(Buffer.from(header.slice(7).trim())), this.keyHash!);
  }

  private async route(method: string, path: string, req: http.IncomingMessage): Promise<{ body: object; log?: object }> {
    const t = this.t;
    const want = (m: string) => {
      if (method !== m) throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${path} takes ${m}`);
    };
    switch (path) {
      case '/api/stats':
        want('GET');
        return { body: { connections: t.connections.size, users: t.users(), channels: t.channels(), ...t.stats.snapshot(), deployment: await this.deployment() } };
      case '/api/presence': {
        want('GET');
        const channel = new URL(req.url ?? '/', 'http://x').searchParams.get('channel') ?? undefined;
        return { body: await call(() => t.presence(channel)) };
      }
      case '/api/publish': {
        want('POST');
        const b = await this.body(req);
        const channel = str(b, 'channel');
        if (t.publish === undefined) throw messagingOff();
        const pos = await call(() => t.publish!(channel, field(b, 'data'), idempotency(b)));
        return { body: { channel, offset: pos.offset, epoch: pos.epoch }, log: { channel } };
      }
      case '/api/send': {
        want('POST');
        const b = await this.body(req);
        const user = str(b, 'user');
        if (t.sendToUser === undefined) throw messagingOff();
        const pos = await call(() => t.sendToUser!(user, field(b, 'data'), idempotency(b)));
        const ids = [...(t.connectionsOf?.(user) ?? [])].map((c) => c.id);
        return { body: { user, offset: pos.offset, epoch: pos.epoch, connections: ids }, log: { user, ids } };
      }
      case '/api/broadcast': {
        want('POST');
        const b = await this.body(req);
        const data = field(b, 'data');
        // Plain clients (the demo page, an echo client) get the text as is; anything else as JSON.
        const n = t.broadcast(typeof data === 'string' ? data : JSON.stringify(data));
        return { body: { sent: n }, log: { sent: n } };
      }
      case '/api/disconnect': {
        want('POST');
        const b = await this.body(req);
        const code = b.code === undefined ? 1000 : b.code;
        if (typeof code !== 'number' || !isWireCloseCode(code) || (code > 1000 && code < 3000 && code !== 1001 && code !== 1008
          && code !== 1011 && code !== 1012 && code !== 1013)) {
          throw new ApiError(400, 'BAD_REQUEST', 'code: 1000, 1001, 1008, 1011–1013 or 3000–4999');
        }
        const reason = b.reason === undefined ? 'disconnected by the server' : b.reason;
        if (typeof reason !== 'string' || Buffer.byteLength(reason) > 123) throw new ApiError(400, 'BAD_REQUEST', 'reason: a string of at most 123 bytes');
        const targets = this.targets(b);
        for (const c of targets) {
          c.endReason = 'admin API';
          c.close(code, reason);
        }
        const ids = targets.map((c) => c.id);
        return { body: { disconnected: ids }, log: { user: b.user, ids, code } };
      }
      default:
        throw new ApiError(404, 'NOT_FOUND', 'no such route (see docs/operations.md)');
    }
  }

  /**
   * Connections and users across the deployment (every node and worker sharing the broker), or
   * null while the broker cannot answer: the process's own numbers still come, an outage is
   * when they matter most.
   */
  private async deployment(): Promise<{ connections: number; users: number } | null> {
    try {
      const p = await this.t.presence();
      return { connections: p.connections, users: p.users.length };
    } catch {
      return null;
    }
  }

  /** `{ user }` (every connection of theirs on this node) or `{ id }` (one connection). */
  private targets(b: Record<string, unknown>): Connection<any>[] {
    if (typeof b.id === 'number') return [...this.t.connections].filter((c) => c.id === b.id);
    const user = str(b, 'user');
    if (this.t.connectionsOf === undefined) throw new ApiError(409, 'NO_USERS', 'the server has no users (configure authenticate or jwt)');
    return [...this.t.connectionsOf(user)];
  }

  private body(req: http.IncomingMessage): Promise<Record<string, unknown>> {
    const max = this.o.maxBody;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) {
          reject(new ApiError(413, 'TOO_LARGE', `request body over ${max} bytes`));
          req.destroy();
        } else chunks.push(c);
      });
      req.on('error', reject);
      req.on('end', () => {
        try {
          const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
          if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
          resolve(v as Record<string, unknown>);
        } catch {
          reject(new ApiError(400, 'BAD_REQUEST', 'the body must be a JSON object'));
        }
      });
    });
  }
}

function sha256(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest();
}

function str(b: Record<string, unknown>, name: string): string {
  const v = b[name];
  if (typeof v !== 'string' || v === '') throw new ApiError(400, 'BAD_REQUEST', `${name}: a non-empty string`);
  return v;
}

function field(b: Record<string, unknown>, name: string): unknown {
  if (!(name in b)) throw new ApiError(400, 'BAD_REQUEST', `${name}: required (any JSON)`);
  return b[name];
}

/** The optional `idempotencyKey` of a publish or send: a retry with the same key is not made twice. */
function idempotency(b: Record<string, unknown>): { idempotencyKey?: string } | undefined {
  if (!('idempotencyKey' in b)) return undefined;
  const k = b.idempotencyKey;
  if (typeof k !== 'string' || k === '' || k.length > 128) throw new ApiError(400, 'BAD_REQUEST', 'idempotencyKey: a string of 1–128 chars');
  return { idempotencyKey: k };
}

function messagingOff(): ApiError {
  return new ApiError(409, 'MESSAGING_OFF', 'messaging is off on this server (createServer({ messaging: true }) or --messaging)');
}

/** A publish the engine refused (bad channel name…) is the caller's 400; anything else is ours. */
async function call<R>(f: () => Promise<R>): Promise<R> {
  try {
    return await f();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e?.code === 'ERR_ARGUMENT') throw new ApiError(400, 'BAD_REQUEST', String(e.message));
    if (e?.code === 'ERR_UNAVAILABLE') throw new ApiError(503, 'UNAVAILABLE', String(e.message));
    throw err;
  }
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.destroy();
  const s = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(s), 'Cache-Control': 'no-store' });
  res.end(s);
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
