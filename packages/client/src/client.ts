import { MAX_CLOSE_REASON_BYTES, isClientSendableCloseCode, utf8ByteLength, type CloseCode } from '@wss-mp/protocol';
import { createBackoff } from './backoff';
import { openConnection, type Connection, type ConnectionHandlers } from './connection';
import { SocketError, type SocketErrorCode } from './errors';
import { createEmitter } from './events';
import { createHeartbeat } from './heartbeat';
import { watchLifecycle } from './lifecycle';
import { resolveOptions, toEndpoint, type ClientOptions } from './options';
import type { Data, Driver, Endpoint } from './platform/types';
import { createQueue } from './queue';

/**
 * idle → connecting → open → (waiting → connecting)* ; paused while the app is hidden;
 * closed after close(), a terminal close code or maxRetries. reconnect() leaves any state.
 */
export type State = 'idle' | 'connecting' | 'open' | 'waiting' | 'paused' | 'closed';

export interface ClientEvents {
  /** A socket opened. `reconnected` is false only for the first open of this client. */
  open: { url: string; header: Record<string, string> | undefined; reconnected: boolean };
  /** A frame from the server (heartbeat answers are not emitted). */
  message: { data: Data };
  /** A socket ended (once per socket, opened or not). */
  close: { code: number; reason: string; willReconnect: boolean };
  error: SocketError;
  state: { from: State; to: State };
  /** A retry is scheduled: `attempt` is the retry number (1-based), `delay` its wait in ms. */
  reconnecting: { attempt: number; delay: number };
}

export interface Stats {
  /** Connect attempts started (the first one included). */
  attempts: number;
  /** Opens after the first one. */
  reconnects: number;
  /** Last heartbeat round trip in ms, null before the first answer. */
  rtt: number | null;
  /** Messages handed to an open socket (heartbeats excluded). */
  sent: number;
  /** Messages received (heartbeat answers excluded). */
  received: number;
  /** Messages lost: queue overflow, refused by the platform, or sent after destroy(). */
  dropped: number;
  /** Messages waiting in the queue now. */
  queued: number;
  /** Consecutive failed attempts now (what maxRetries counts). */
  failures: number;
}

export type SendResult = 'sent' | 'queued' | 'dropped';

export interface Client {
  readonly state: State;
  /** A fresh snapshot on every read. */
  readonly stats: Stats;
  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof ClientEvents>(type: K, listener: (event: ClientEvents[K]) => void): () => void;
  /** Sends now if open, else queues (see queueSize / queueOverflow). Binary leaves as an exact-length copy. */
  send(data: string | ArrayBuffer | ArrayBufferView): SendResult;
  /** Stops for good (until reconnect()). Code 1000 or 3000–4999, reason ≤ 123 UTF-8 bytes. */
  close(code?: number, reason?: string): void;
  /** Starts a fresh cycle now, from any state: cuts a wait, closes an open socket with `code`. */
  reconnect(code?: number, reason?: string): void;
  /** Removes and returns the queued messages, oldest first. */
  drain(): Data[];
  /** close(), then removes every listener, lifecycle/network hook and queued message. Final. */
  destroy(): void;
}

const noop = () => {};

// Codes from the shared registry, as literals so the bundle does not carry the whole table;
// the annotations make the compiler check each against the registry.
const NORMAL: typeof CloseCode.NORMAL = 1000;
const HEARTBEAT_TIMEOUT: typeof CloseCode.HEARTBEAT_TIMEOUT = 4500;
const CONNECT_TIMEOUT: typeof CloseCode.CONNECT_TIMEOUT = 4501;
const RECONNECT: typeof CloseCode.RECONNECT = 4502;
const APP_HIDDEN: typeof CloseCode.APP_HIDDEN = 4503;
const toStr = Object.prototype.toString;

function toData(d: unknown): Data {
  if (typeof d === 'string') return d;
  // Tag check, not instanceof: buffers may come from another realm (vm, iframe, worker glue).
  if (toStr.call(d) === '[object ArrayBuffer]') return (d as ArrayBuffer).slice(0);
  // Copy exactly the viewed bytes: view.buffer may be a larger pool.
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice().buffer;
  throw new SocketError('ERR_ARGUMENT', 'send() takes a string, ArrayBuffer or ArrayBuffer view');
}

function checkClose(code: number, reason: string) {
  if (!isClientSendableCloseCode(code) || typeof reason !== 'string' || utf8ByteLength(reason) > MAX_CLOSE_REASON_BYTES) {
    throw new SocketError('ERR_ARGUMENT', `close code must be 1000 or 3000-4999 and reason a string of <= 123 UTF-8 bytes; got ${code}, ${reason}`);
  }
}

/** The platform-free client: `driver` is chosen by the entry point (wx, web, alipay) or `platform`. */
export function createCore(driver: Driver, options: ClientOptions): Client {
  const o = resolveOptions(options);
  const clock = o.clock;
  // A throwing listener must not break the loop; rethrow on a fresh stack for the host to see.
  const em = createEmitter<ClientEvents>((e) =>
    clock.setTimeout(() => {
      throw e;
    }, 0),
  );
  const err = (code: SocketErrorCode, message: string, cause?: unknown) => em.emit('error', new SocketError(code, message, cause));
  const stats = { attempts: 0, reconnects: 0, rtt: null as number | null, sent: 0, received: 0, dropped: 0 };
  const backoff = createBackoff(o, o.random);
  const queue = createQueue(o.queueSize, o.queueOverflow, () => {
    stats.dropped++;
    err('ERR_QUEUE_FULL', 'queue full: a message was dropped');
  });

  let state: State = 'idle';
  /** The socket the client listens to (connecting or open). */
  let conn: Connection | undefined;
  /** The most recent socket, possibly retired but not yet gone. */
  let last: Connection | undefined;
  let endpoint: Endpoint;
  /** Bumped whenever the loop changes course; async steps of an older course stop. */
  let gen = 0;
  let timer: unknown;
  let ids = 0;
  let opens = 0;
  let hidden = false;
  /** Why the client is closed: 1 close(), 2 terminal code, 3 retries exhausted. */
  let stopped = 0;
  let destroyed = false;

  const setState = (to: State) => {
    const from = state;
    if (from !== to) {
      state = to;
      em.emit('state', { from, to });
    }
  };
  const clear = () => {
    clock.clearTimeout(timer);
    timer = undefined;
  };
  const write = (c: Connection, data: Data) => {
    stats.sent++;
    c.send(data, (cause) => {
      stats.dropped++;
      err('ERR_SEND', 'send failed: a message was lost', cause);
    });
  };
  /** Retires the current socket ourselves; true if there was one (its close event is ours to emit). */
  const drop = (code: number, reason: string) => {
    const c = conn;
    conn = undefined;
    hb.stop();
    if (c) c.close(code, reason);
    return !!c;
  };

  /** After an end the client did not ask for: stop, pause, give up or schedule the next attempt. */
  const after = (code: number, reason: string, socket: boolean, policy: boolean) => {
    gen++;
    clear();
    hb.stop();
    backoff.closed(clock.now());
    let delay = -1;
    let will = false;
    if (policy && !o.shouldReconnect(code, reason)) {
      stopped = 2;
      setState('closed');
    } else if (hidden) {
      will = true;
      setState('paused');
    } else if (backoff.failures >= o.maxRetries) {
      stopped = 3;
      setState('closed');
    } else {
      will = true;
      delay = backoff.next();
      setState('waiting');
      timer = clock.setTimeout(connect, delay);
    }
    if (socket) em.emit('close', { code, reason, willReconnect: will });
    if (stopped === 3) err('ERR_RETRIES_EXHAUSTED', 'retries exhausted');
    if (delay >= 0) em.emit('reconnecting', { attempt: backoff.failures, delay });
  };

  const handlers: ConnectionHandlers = {
    open(c, header) {
      if (c !== conn) return;
      clear();
      backoff.opened(clock.now());
      const reconnected = opens++ > 0;
      if (reconnected) stats.reconnects++;
      setState('open');
      if (!hidden) hb.start();
      em.emit('open', { url: endpoint.url, header, reconnected });
      // After the open listeners, so a message they send (auth) goes first.
      while (c === conn && queue.items.length) write(c, queue.items.shift()!);
    },
    message(c, data) {
      if (c !== conn) return;
      const pong = o.isPong(data);
      hb.seen(pong);
      if (!pong) {
        stats.received++;
        em.emit('message', { data });
      }
    },
    error(c, cause) {
      if (c === conn) err(state === 'open' ? 'ERR_SOCKET' : 'ERR_CONNECT', 'socket error', cause);
    },
    close(c, code, reason) {
      if (c !== conn) return;
      conn = undefined;
      after(code, reason, true, true);
    },
  };

  const hb = createHeartbeat(
    clock,
    o.heartbeatInterval,
    o.heartbeatTimeout,
    () => conn && conn.send(typeof o.pingMessage === 'function' ? o.pingMessage() : o.pingMessage, noop),
    () => {
      err('ERR_HEARTBEAT_TIMEOUT', 'heartbeat timeout');
      after(HEARTBEAT_TIMEOUT, 'heartbeat timeout', drop(HEARTBEAT_TIMEOUT, 'heartbeat timeout'), false);
    },
    (ms) => {
      stats.rtt = ms;
    },
  );

  const connect = () => {
    const g = ++gen;
    clear();
    stopped = 0;
    setState('connecting');
    stats.attempts++;
    timer = clock.setTimeout(() => {
      err('ERR_CONNECT_TIMEOUT', 'connect timeout');
      after(CONNECT_TIMEOUT, 'connect timeout', drop(CONNECT_TIMEOUT, 'connect timeout'), false);
    }, o.connectTimeout);
    const prev = last;
    // A fresh endpoint per attempt; a throw or rejection is one failed attempt, never a dead loop.
    new Promise((resolve) => resolve(typeof o.url === 'function' ? o.url() : o.url))
      .then(toEndpoint)
      .then(
        (ep) => {
          const go = () => {
            if (g !== gen) return;
            endpoint = ep;
            last = conn = openConnection(++ids, driver, ep, clock, o.closeTimeout, handlers);
          };
          // Never two sockets: the previous one must be gone (or given up on) first.
          if (prev) prev.whenGone(go);
          else go();
        },
        (e) => {
          if (g !== gen) return;
          err('ERR_ENDPOINT', 'url option failed: ' + (e && e.message), e);
          after(0, '', false, false);
        },
      );
  };

  /** Leaves any state for `to` after retiring the current socket with our own code. */
  const interrupt = (code: number, reason: string, to: State | 0, will: boolean) => {
    gen++;
    clear();
    const had = drop(code, reason);
    if (to) setState(to);
    else connect();
    if (had) em.emit('close', { code, reason, willReconnect: will });
  };

  const restart = () => {
    backoff.reset();
    connect();
  };

  const offLifecycle = o.lifecycle
    ? watchLifecycle(driver, {
        hide() {
          hidden = true;
          hb.stop();
          // Burn no attempts in the background: the platform fails them and may freeze timers.
          if (state === 'connecting' || state === 'waiting' || (state === 'open' && o.closeOnHide)) {
            interrupt(APP_HIDDEN, 'app hidden', 'paused', true);
          }
        },
        show() {
          hidden = false;
          if (state === 'open') hb.probe();
          else if (state === 'paused' || state === 'waiting' || stopped === 3) restart();
        },
        network(online) {
          if (!online) return;
          if (state === 'open') hb.probe();
          else if (!hidden && state === 'waiting') connect();
          else if (!hidden && stopped === 3) restart();
        },
      })
    : noop;

  if (o.autoConnect) clock.setTimeout(() => state === 'idle' && !destroyed && connect(), 0);

  const client: Client = {
    get state() {
      return state;
    },
    get stats() {
      return Object.assign({ queued: queue.items.length, failures: backoff.failures }, stats);
    },
    on: em.on,
    send(data) {
      const d = toData(data);
      if (destroyed) {
        stats.dropped++;
        return 'dropped';
      }
      if (state === 'open' && conn) {
        write(conn, d);
        return 'sent';
      }
      return queue.push(d);
    },
    close(code = NORMAL, reason = '') {
      checkClose(code, reason);
      if (destroyed) return;
      stopped = 1;
      interrupt(code, reason, 'closed', false);
    },
    reconnect(code = RECONNECT, reason = 'reconnect') {
      checkClose(code, reason);
      if (destroyed) return;
      backoff.reset();
      interrupt(code, reason, 0, true);
    },
    drain: () => queue.items.splice(0),
    destroy() {
      if (destroyed) return;
      client.close();
      destroyed = true;
      offLifecycle();
      em.clear();
      queue.items.length = 0;
    },
  };
  return client;
}
