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
import type { Presence } from '../messaging/presence';
import { isLoopbackHost, type AdminOptions } from './options';

/** What /readyz answers: each check's result (and, on a --workers primary, each worker's). */
export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
  workers?: Record<string, boolean>;
}

/** Which connections /api/disconnect closes: one by id, or every one of a user. */
export type DisconnectTarget = { id: number } | { user: string };

/**
 * What the admin listener acts on: one server (wire.ts) or, under `--workers`, every worker of
 * the node through the primary (cluster-admin.ts). Methods throw ApiError for the caller's
 * mistakes and states (messaging off, no users); anything else is answered 500 and logged.
 */
export interface AdminTarget {
  /** Prometheus text. */
  metrics(): Promise<{ contentType: string; text: string }>;
  ready(): Promise<Readiness>;
  stats(): Promise<Record<string, unknown>>;
  /** `idempotencyKey`: a retry with the same key settles with the first position (broker.ts). */
  publish(channel: string, data: unknown, opts?: { idempotencyKey?: string }): Promise<{ offset: number; epoch: string }>;
  /** Publishes on the user's personal stream; `connections`: the ids of the user's connections. */
  send(user: string, data: unknown, opts?: { idempotencyKey?: string }): Promise<{ offset: number; epoch: string; connections: number[] }>;
  /** Closes the connections named; resolves with their ids. */
  disconnect(target: DisconnectTarget, code: number, reason: string): Promise<number[]>;
  presence(channel?: string): Promise<Presence>;
  /** Every open plain (not wss-mp.v1) connection gets a text frame; resolves with how many got it. */
  broadcast(data: string): Promise<number>;
}

/** An answer other than 200: its HTTP status and a stable `error` code for the body. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * Any error as the API answers it: ApiError as is; the engine's ERR_ARGUMENT (a bad channel
 * name…) is the caller's 400; ERR_UNAVAILABLE (Redis down, no worker) a 503 worth retrying;
 * anything else a 500 that does not leak its message (the caller logs it).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  if (e?.code === 'ERR_ARGUMENT') return new ApiError(400, 'BAD_REQUEST', String(e.message));
  if (e?.code === 'ERR_UNAVAILABLE') return new ApiError(503, 'UNAVAILABLE', String(e.message));
  return new ApiError(500, 'INTERNAL', 'internal error');
}

export function messagingOff(): ApiError {
  return new ApiError(409, 'MESSAGING_OFF', 'messaging is off on this server (createServer({ messaging: true }) or --messaging)');
}

export function noUsers(): ApiError {
  return new ApiError(409, 'NO_USERS', 'the server has no users (configure authenticate or jwt)');
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
        const e = toApiError(err);
        if (e.status === 500) this.log.error('error', { where: 'admin', error: err });
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
      const r = await this.t.ready();
      return json(res, r.ready ? 200 : 503, r);
    }
    if (path === '/metrics') {
      const m = await this.t.metrics();
      res.writeHead(200, { 'Content-Type': m.contentType, 'Content-Length': Buffer.byteLength(m.text) });
      return void res.end(m.text);
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
        return { body: await t.stats() };
      case '/api/presence': {
        want('GET');
        const channel = new URL(req.url ?? '/', 'http://x').searchParams.get('channel') ?? undefined;
        return { body: await t.presence(channel) };
      }
      case '/api/publish': {
        want('POST');
        const b = await this.body(req);
        const channel = str(b, 'channel');
        const pos = await t.publish(channel, field(b, 'data'), idempotency(b));
        return { body: { channel, offset: pos.offset, epoch: pos.epoch }, log: { channel } };
      }
      case '/api/send': {
        want('POST');
        const b = await this.body(req);
        const user = str(b, 'user');
        const r = await t.send(user, field(b, 'data'), idempotency(b));
        return { body: { user, offset: r.offset, epoch: r.epoch, connections: r.connections }, log: { user, ids: r.connections } };
      }
      case '/api/broadcast': {
        want('POST');
        const b = await this.body(req);
        const data = field(b, 'data');
        // Plain clients (the demo page, an echo client) get the text as is; anything else as JSON.
        const n = await t.broadcast(typeof data === 'string' ? data : JSON.stringify(data));
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
        const target: DisconnectTarget = typeof b.id === 'number' ? { id: b.id } : { user: str(b, 'user') };
        const ids = await t.disconnect(target, code, reason);
        return { body: { disconnected: ids }, log: { user: b.user, ids, code } };
      }
      default:
        throw new ApiError(404, 'NOT_FOUND', 'no such route (see docs/operations.md)');
    }
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
