/**
 * The connection hub: the set of open connections, per-IP counts, the listeners every socket
 * shares, the user hooks (contained: a throw or a rejection is reported, never fatal) and
 * broadcast.
 */
import type http from 'node:http';
import { WebSocket } from 'ws';
import { CloseCode, MESSAGING_SUBPROTOCOL, PING_FRAME, PONG_FRAME } from '@wss-mp/protocol';
import type { Logger } from '../common/log';
import { Connection } from './connection';
import { admitOpen, type Caps } from './admission';
import { MessageBudget } from './message-budget';
import { ipCapKey } from './trust-proxy';
import type { HubExtension } from './messaging/engine';
import type { MessageData, ServerHooks } from './options';
import { Stats } from './ops/stats';

export interface BroadcastOptions {
  /** Skip this connection (typically the sender). */
  except?: Connection<any>;
}

/**
 * ws's WebSocket with a slot for its Connection (through ws's documented `WebSocket` option),
 * so that one set of listeners serves every connection, finding it as `this.conn`. A closure
 * per listener and connection would stay allocated for the connection's lifetime.
 */
export class ServerSocket extends WebSocket {
  conn: Connection<any> | undefined = undefined;
}

export interface HubOptions<T> extends ServerHooks<T>, Caps {
  maxBufferedAmount: number;
  /** Frames of one event-loop turn to a connection leave as one write (cork.ts). */
  coalesceWrites: boolean;
  /** Per-IP caps count IPv6 clients by this prefix length (ipCapKey). */
  ipv6Prefix: number;
  /** Bounds on what unfinished (fragmented) messages pin: message-budget.ts. */
  maxUnfinishedBytes: number;
  maxUnfinishedTotal: number;
  messageTimeout: number;
  /** Users and the messaging protocol; undefined when neither is configured. */
  extension?: HubExtension;
  /** Counters for the metrics (plain fields: the message path only adds to them). */
  stats?: Stats;
  /**
   * Connection ids: first, first + step, first + 2 × step… Worker k of N numbers k, k + N…, so
   * an id names one connection on the whole node (admin API, log lines). Default 1 and 1.
   */
  ids?: { first: number; step: number };
}

/** Who `authenticate` said the client is. */
export interface AuthUser {
  id: string;
  data?: unknown;
}

const PING_BUF = Buffer.from(PING_FRAME);
const PONG_BUF = Buffer.from(PONG_FRAME);
const PING_LEN = PING_BUF.length;
const ignore = () => {};
/** `conn.headers` when no hook can read them: not kept (see Hub.open). */
const NO_HEADERS: http.IncomingHttpHeaders = Object.freeze({});
/** How long a connection refused over a cap gets to finish the close handshake. */
export const REFUSE_GRACE_MS = 1_000;

let kStatusCode: symbol | undefined;
/** ws tags its protocol errors with a private `status-code` symbol; find it once. */
function statusCodeSymbol(err: Error): symbol {
  kStatusCode ??= Object.getOwnPropertySymbols(err).find((s) => s.description === 'status-code');
  return kStatusCode ?? Symbol('none');
}

/** The four listeners every socket of one hub shares (`this` is the socket). */
interface SharedListeners {
  message(this: WebSocket, data: Buffer, isBinary: boolean): void;
  /** `message` for connections that negotiated wss-mp.v1. */
  protocol(this: WebSocket, data: Buffer, isBinary: boolean): void;
  alive(this: WebSocket): void;
  error(this: WebSocket, err: Error & { code?: string }): void;
  close(this: WebSocket, code: number, reasonBuf: Buffer): void;
}

export class Hub<T = Record<string, unknown>> {
  readonly conns = new Set<Connection<T>>();
  /** Set by close(): refuse whatever still finishes its handshake. */
  draining = false;
  private readonly perIp = new Map<string, number>();
  private nextId: number;
  private readonly idStep: number;
  /** Request headers stay reachable as conn.headers only when a hook could read them; the
   * echo server (the CLI) drops them with the request, like a bare ws server does. */
  private readonly keepHeaders: boolean;
  private readonly listeners: SharedListeners;
  private readonly onSlowConsumer: (conn: Connection<any>) => void;

  /** Memory held by unfinished messages, per connection and in total, and their timeout. */
  readonly budget: MessageBudget;
  readonly stats: Stats;

  constructor(
    private readonly o: HubOptions<T>,
    private readonly log: Logger,
  ) {
    this.keepHeaders = !!(o.onConnect || o.onMessage || o.onClose || o.onError);
    this.nextId = o.ids?.first ?? 1;
    this.idStep = o.ids?.step ?? 1;
    this.stats = o.stats ?? new Stats();
    this.listeners = sharedListeners(this, o, log);
    const max = o.maxBufferedAmount;
    this.budget = new MessageBudget({
      perConnection: o.maxUnfinishedBytes,
      total: o.maxUnfinishedTotal,
      timeoutMs: o.messageTimeout,
      onTimeout: (ws) => {
        const conn = (ws as ServerSocket).conn;
        if (conn) {
          conn.endReason = `message not completed within ${o.messageTimeout} ms`;
          conn.sentCode = CloseCode.POLICY_VIOLATION; // the log shows what the client was sent
        }
        this.refuse(ws, CloseCode.POLICY_VIOLATION, 'message not completed in time');
      },
    });
    this.onSlowConsumer = (conn) => {
      const why = `slow consumer: more than ${max} bytes unsent (messages and the reads they hold)`;
      if (conn.session === undefined) return conn.terminate(why);
      // A protocol client recovers from history: tell it why (4008), behind what is queued,
      // and cut it if it has not read that far within the grace period.
      conn.endReason = why;
      this.refuse(conn.socket, CloseCode.SLOW_CONSUMER, 'slow consumer');
    };
  }

  /** A WebSocket just finished its handshake: admit it into the hub, or refuse it. */
  open(ws: ServerSocket, req: http.IncomingMessage, ip: string, peer: string, path: string, origin: string | undefined,
    user?: AuthUser): void {
    // IPv6 clients count by prefix (ipCapKey): one subscriber holds a whole /64.
    const key = ipCapKey(ip, this.o.ipv6Prefix);
    const count = this.perIp.get(key) ?? 0;
    const refusal = admitOpen(this.o, this.draining, this.conns.size, count);
    if (refusal !== undefined) {
      ws.on('error', ignore);
      if (refusal.level === 'none') return void ws.close(refusal.code, refusal.reason);
      this.log.warn('reject', { ip, path, code: refusal.code, reason: refusal.reason });
      return this.refuse(ws, refusal.code, refusal.reason);
    }
    this.perIp.set(key, count + 1);
    const id = this.nextId;
    this.nextId += this.idStep;
    const url = req.url;
    const conn = new Connection<T>(ws, {
      id,
      ip,
      remoteAddress: peer,
      path,
      url: url === undefined || url === path ? path : url,
      headers: this.keepHeaders ? req.headers : NO_HEADERS,
      maxBufferedAmount: this.o.maxBufferedAmount,
      onSlowConsumer: this.onSlowConsumer,
      raw: this.o.coalesceWrites ? req.socket : null,
      stats: this.stats,
    });
    this.conns.add(conn);
    ws.conn = conn;
    this.budget.install(ws);
    if (user !== undefined) {
      conn.user = user.id;
      conn.userData = user.data;
    }
    const l = this.listeners;
    const ext = this.o.extension;
    const protocol = ext !== undefined && ws.protocol === MESSAGING_SUBPROTOCOL;
    ws.on('message', protocol ? l.protocol : l.message);
    ws.on('pong', l.alive);
    ws.on('ping', l.alive);
    ws.on('error', l.error);
    ws.on('close', l.close);

    this.log.info('connection', { id: conn.id, ip, path, origin, peer: peer !== ip ? peer : undefined, user: conn.user ?? undefined,
      protocol: protocol ? MESSAGING_SUBPROTOCOL : undefined });
    // Before onConnect: the welcome is the first frame of a protocol connection.
    ext?.opened(conn, protocol);
    if (this.o.onConnect) callHook(this, 'onConnect', conn, this.o.onConnect, req);
  }

  /** Closes with `code`, and terminates if the peer has not finished closing after a grace period. */
  refuse(ws: WebSocket, code: number, reason: string): void {
    ws.close(code, reason);
    const t = setTimeout(() => ws.terminate(), REFUSE_GRACE_MS);
    t.unref();
    ws.once('close', () => clearTimeout(t));
  }

  /** @internal a connection's socket closed: forget it. */
  remove(conn: Connection<T>): void {
    this.conns.delete(conn);
    this.budget.forget(conn.socket);
    const key = ipCapKey(conn.ip, this.o.ipv6Prefix);
    const left = (this.perIp.get(key) ?? 1) - 1;
    if (left > 0) this.perIp.set(key, left);
    else this.perIp.delete(key);
  }

  broadcast(data: string | Buffer | ArrayBuffer | ArrayBufferView, opts: BroadcastOptions = {}): number {
    const binary = typeof data !== 'string';
    // Encode a string once, not once per connection (ws sends a Buffer as text when asked).
    const payload = binary ? data : Buffer.from(data);
    let n = 0;
    for (const c of this.conns) {
      if (c === opts.except) continue;
      if (c.sendFrame(payload, binary)) n++;
    }
    return n;
  }

  /** Reports a hook's throw or rejection, and closes its connection with 1011 (but not from
   * onClose or onError, which run while it closes already). */
  hookError(err: unknown, conn: Connection<T> | undefined, hook: string): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.log.error('error', { where: hook, id: conn?.id, ip: conn?.ip, path: conn?.path, error: e });
    if (hook !== 'onError' && this.o.onError) {
      try {
        this.o.onError(e, conn);
      } catch (again) {
        this.log.error('error', { where: 'onError', id: conn?.id, error: again });
      }
    }
    if (conn && conn.isOpen && hook !== 'onClose' && hook !== 'onError') {
      conn.endReason = `${hook} threw`;
      conn.close(CloseCode.INTERNAL_ERROR, 'internal error');
    }
  }
}

/** Runs a hook on (conn, arg); takes the arguments rather than a closure so that the
 * message path allocates nothing of its own. */
function callHook<T, A>(
  hub: Hub<T>,
  name: 'onConnect' | 'onMessage',
  conn: Connection<T>,
  hook: (conn: Connection<T>, arg: A) => void | Promise<void>,
  arg: A,
): void {
  try {
    const r = hook(conn, arg);
    if (r && typeof (r as Promise<void>).then === 'function') {
      (r as Promise<void>).then(undefined, (err) => hub.hookError(err, conn, name));
    }
  } catch (err) {
    hub.hookError(err, conn, name);
  }
}

/**
 * What every inbound frame does first, plain or protocol: a sign of life, counted; a heartbeat
 * ping is answered here and never reaches a hook. True when the frame was that ping.
 */
function arrived(conn: Connection<any>, stats: { messagesIn: number; bytesIn: number }, data: Buffer, isBinary: boolean): boolean {
  conn.alive = true;
  stats.messagesIn++;
  stats.bytesIn += data.length;
  if (isBinary || data.length !== PING_LEN || !data.equals(PING_BUF)) return false;
  conn.sendFrame(PONG_BUF, false);
  return true;
}

/** One set of listeners per hub, shared by all its sockets: `this` is the socket. */
function sharedListeners<T>(hub: Hub<T>, o: HubOptions<T>, log: Logger): SharedListeners {
  const { onMessage, onError, onClose, extension } = o;
  const stats = hub.stats;
  return {
    protocol(this: WebSocket, data: Buffer, isBinary: boolean): void {
      const conn = (this as ServerSocket).conn as Connection<T>;
      if (arrived(conn, stats, data, isBinary)) return;
      extension!.message(conn, data, isBinary);
    },
    /** The hot path: no allocation beyond what ws does (the echo sends the received buffer). */
    message(this: WebSocket, data: Buffer, isBinary: boolean): void {
      const conn = (this as ServerSocket).conn as Connection<T>;
      if (arrived(conn, stats, data, isBinary)) return;
      if (onMessage === undefined) {
        conn.sendFrame(data, isBinary);
        return;
      }
      callHook<T, MessageData>(hub, 'onMessage', conn, onMessage, isBinary ? data : data.toString());
    },
    /** pong and ping: any sign of life counts for the heartbeat. */
    alive(this: WebSocket): void {
      (this as ServerSocket).conn!.alive = true;
    },
    error(this: WebSocket, err: Error & { code?: string }): void {
      const conn = (this as ServerSocket).conn as Connection<T>;
      conn.error = err.code ?? err.message;
      // ws closes with the status its error carries (1009 too big, 1007 bad UTF-8, 1002…)
      // and then reports 1006 locally; log the code the client was sent.
      const status = (err as unknown as Record<symbol, unknown>)[statusCodeSymbol(err)];
      if (typeof status === 'number') conn.sentCode = status;
      if (onError) {
        try {
          onError(err, conn);
        } catch (again) {
          hub.hookError(again, conn, 'onError');
        }
      }
    },
    /** ws emits `close` exactly once: `on`, not `once` (which wraps the listener per socket). */
    close(this: WebSocket, code: number, reasonBuf: Buffer): void {
      const conn = (this as ServerSocket).conn as Connection<T>;
      hub.remove(conn);
      extension?.closed(conn);
      const reason = reasonBuf.toString();
      log.info('close', {
        id: conn.id,
        ip: conn.ip,
        path: conn.path,
        code: conn.sentCode ?? code,
        reason: reason || undefined,
        by: conn.endReason,
        error: conn.error,
        durationMs: Date.now() - conn.openedAt,
      });
      if (onClose) {
        try {
          onClose(conn, code, reason);
        } catch (err) {
          hub.hookError(err, conn, 'onClose');
        }
      }
    },
  };
}
