import { MAX_CLOSE_REASON_BYTES, isClientSendableCloseCode, type CloseCode } from '@wss-mp/protocol';
import { createBackoff } from './backoff';
import { openConnection, type Connection } from './connection';
import { SocketError, type SocketErrorCode } from './errors';
import { createEmitter } from './events';
import { createHeartbeat } from './heartbeat';
import { watchLifecycle } from './lifecycle';
import { CLIENT_DEFAULTS, resolveOptions, toEndpoint, type ClientOptions } from './options';
import type { Data, Platform } from './platform/types';
import { createQueue } from './queue';

/**
 * idle → connecting → open → (waiting → connecting)* ; paused while the app is hidden;
 * closed after close(), a terminal close code or maxRetries. reconnect() leaves any state.
 */
export type State = 'idle' | 'connecting' | 'open' | 'waiting' | 'paused' | 'closed';

export interface ClientEvents {
  /** A socket opened. `header`: handshake response headers where the platform gives them;
   * `reconnected` is false only for the first open of this client. */
  open: { header: Record<string, string> | undefined; reconnected: boolean };
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
  /** Sockets requested from the platform (connectSocket calls; the first one included). */
  attempts: number;
  /** Opens after the first one. */
  reconnects: number;
  /** Last heartbeat round trip in ms, null before the first answer. */
  rtt: number | null;
  /** Messages handed to an open socket (heartbeats excluded). */
  sent: number;
  /** Messages received (heartbeat answers excluded). */
  received: number;
  /** Messages lost: queue overflow, too big, refused by the platform, or sent after destroy(). */
  dropped: number;
  /** Messages waiting in the queue now. */
  queued: number;
}

export type SendResult = 'sent' | 'queued' | 'dropped';

export interface Client {
  readonly state: State;
  /** A fresh snapshot on every read. */
  readonly stats: Stats;
  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof ClientEvents>(type: K, listener: (event: ClientEvents[K]) => void): () => void;
  /**
   * Sends now if open, else queues (see queueSize / queueOverflow); queues too while the network
   * is reported lost. Binary leaves as an exact-length copy. Larger than maxMessageSize: 'dropped'.
   * Throws ERR_ARGUMENT for anything but a string, ArrayBuffer or ArrayBuffer view.
   */
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
type Policy = (a: any, b?: any) => boolean;

// Codes from the shared registry, as literals so the bundle does not carry the whole table;
// the annotations make the compiler check each against the registry.
const NORMAL: typeof CloseCode.NORMAL = 1000;
const HEARTBEAT_TIMEOUT: typeof CloseCode.HEARTBEAT_TIMEOUT = 4500;
const CONNECT_TIMEOUT: typeof CloseCode.CONNECT_TIMEOUT = 4501;
const RECONNECT: typeof CloseCode.RECONNECT = 4502;
const APP_HIDDEN: typeof CloseCode.APP_HIDDEN = 4503;
const NETWORK_LOST: typeof CloseCode.NETWORK_LOST = 4504;

const badArg = (m: string) => new SocketError('ERR_ARGUMENT', m);

function toData(d: string | ArrayBuffer | ArrayBufferView): Data {
  if (typeof d === 'string') return d;
  // Copies: a queued message must not change if the caller reuses its buffer, and a view's
  // .buffer may be a larger pool, so only the viewed bytes are taken. The tag test (not
  // instanceof) accepts buffers from another realm (a mini program's page vs its npm module).
  if (ArrayBuffer.isView(d)) return d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer;
  // Duck-typed rather than instanceof: a buffer from another realm must pass too.
  if (d && (d as ArrayBuffer).slice && (d as ArrayBuffer).byteLength >= 0) return (d as ArrayBuffer).slice(0);
  throw badArg('send data: a string, ArrayBuffer or ArrayBuffer view');
}

/**
 * UTF-8 size of a string, without allocating (send() hot path) and smaller than the shared
 * exact version (size budget): each half of a surrogate pair counts 2, so a pair is 4; a lone
 * surrogate counts 2 where the platform will send 3 (U+FFFD), an error of one byte each.
 */
function utf8Size(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127) n += c < 2048 || (c >> 11) === 27 ? 1 : 2;
  }
  return n;
}

function checkClose(code: number, reason: string) {
  // UTF-8 length without TextEncoder (absent in mini programs); a lone surrogate throws.
  let bytes = 999;
  try {
    bytes = encodeURIComponent(reason).replace(/%../g, '_').length;
  } catch (_e) {
    // stays too long
  }
  if (!isClientSendableCloseCode(code) || typeof reason !== 'string' || bytes > MAX_CLOSE_REASON_BYTES) {
    throw badArg('close code: 1000 or 3000-4999; reason: <= 123 UTF-8 bytes');
  }
}

/**
 * The platform-free client. `platform` is option "platform" or the entry point's default
 * (global wx, webPlatform(), alipayPlatform(my)); without connectSocket it is ERR_PLATFORM.
 */
export function createCore(platform: Platform | undefined | false, options: ClientOptions): Client {
  if (!platform || !platform.connectSocket) throw new SocketError('ERR_PLATFORM', 'no connectSocket: pass option "platform"');
  const o = resolveOptions(options);
  const clock = o.clock;
  // A throwing listener must not break the loop: it is reported as ERR_CALLBACK. One thrown by
  // an error listener is rethrown on a fresh stack instead (reporting it there would loop), so
  // the host's error handler still sees it.
  const em = createEmitter<ClientEvents>((e, type) =>
    type === 'error'
      ? clock.setTimeout(() => {
          throw e;
        }, 0)
      : err('ERR_CALLBACK', e),
  );
  const emit = em.emit;
  // The message carries the host's words (WeChat's errMsg, an Error's message) when there are some.
  const err = (code: SocketErrorCode, cause?: any) => emit('error', new SocketError(code, cause && (cause.errMsg || cause.message), cause));
  /**
   * Runs a user policy (shouldReconnect, isPong). A throw is reported as ERR_CALLBACK and the
   * documented default decides instead, so a bad policy can never leave the loop half-way.
   */
  const ask = (fn: Policy, fallback: Policy, a: any, b?: any): boolean => {
    try {
      return fn(a, b);
    } catch (e) {
      err('ERR_CALLBACK', e);
      return fallback(a, b);
    }
  };
  const stats = { attempts: 0, reconnects: 0, rtt: null as number | null, sent: 0, received: 0, dropped: 0 };
  const backoff = createBackoff(o, o.random);
  const queue = createQueue(o.queueSize, o.queueOverflow, () => {
    stats.dropped++;
    err('ERR_QUEUE_FULL');
  });

  let state: State = 'idle';
  /** The socket the client listens to (connecting or open); set whenever state is 'open'. */
  let conn: Connection | undefined;
  /** The most recent socket, possibly retired but not yet gone: the next one waits for it. */
  let last: Connection | undefined;
  /** Bumped whenever the loop changes course; async steps of an older course stop. */
  let gen = 0;
  let timer: unknown;
  let opens = 0;
  let hidden = false;
  /** Why the client is closed: 1 close(), 2 terminal close code, 3 retries exhausted. */
  let stopped = 0;
  let destroyed = false;
  /** The network was reported lost while open: sends queue, the link is probed. */
  let suspect = false;

  const setState = (to: State) => {
    const from = state;
    if (from !== to) {
      state = to;
      emit('state', { from, to });
    }
  };
  const write = (c: Connection, data: Data) => {
    stats.sent++;
    c.send(data, (cause) => {
      stats.dropped++;
      err('ERR_SEND', cause);
    });
  };
  // Oldest first; stops if a listener (ERR_SEND is asynchronous, but still) changed the course.
  const flush = () => {
    const c = conn;
    while (c && c === conn && !suspect && queue.items.length) write(c, queue.items.shift()!);
  };

  /**
   * Ends the current course; the socket we listen to (if any) is retired with code/reason and
   * its close event emitted. `to`: the next state, 0 = connect at once, or undefined for an end
   * we did not choose: then the close-code policy (if `policy`), the app state and the retry
   * budget decide between closed, paused and a backoff wait.
   */
  const end = (code: number, reason: string, to?: State | 0, policy?: boolean) => {
    const c = conn;
    const wasAttempt = state === 'connecting';
    conn = undefined;
    suspect = false;
    // User code runs below (the policy, listeners) and may call close() or reconnect(): each
    // step after it goes on only if this course still stands.
    const g = ++gen;
    clock.clearTimeout(timer);
    hb.stop();
    if (c) c.close(code, reason);
    let delay = -1;
    if (to === undefined) {
      backoff.closed(clock.now());
      if (wasAttempt) backoff.failed();
      const again = !policy || ask(o.shouldReconnect, CLIENT_DEFAULTS.shouldReconnect, code, reason);
      if (g !== gen) to = state;
      else if (!again) {
        stopped = 2;
        to = 'closed';
      } else if (hidden) to = 'paused';
      else if (backoff.fails >= o.maxRetries) {
        stopped = 3;
        to = 'closed';
      } else {
        delay = backoff.next();
        timer = clock.setTimeout(connect, delay);
        to = 'waiting';
      }
    }
    if (to === 0) connect();
    else if (g === gen) setState(to);
    const attempt = backoff.retries;
    if (c) emit('close', { code, reason, willReconnect: state !== 'closed' });
    if (g !== gen) return; // taken over (or connecting again: nothing left to announce)
    if (stopped === 3) err('ERR_RETRIES_EXHAUSTED');
    if (delay >= 0) emit('reconnecting', { attempt, delay });
  };

  const onOpen = (header: Record<string, string> | undefined) => {
    const g = gen;
    clock.clearTimeout(timer);
    backoff.opened(clock.now());
    if (opens++) stats.reconnects++;
    setState('open');
    if (g !== gen) return; // a state listener closed or reconnected
    if (!hidden) hb.start();
    emit('open', { header, reconnected: opens > 1 });
    // After the open listeners, so a message they send (auth) goes first.
    flush();
  };
  const onMessage = (data: Data) => {
    // 1: an answer to our ping; 2: the server's own ping (equal to ours, none of ours is out);
    // 0: a message. Only an outstanding ping can come back as an echo.
    const kind = data === o.pingMessage ? (hb.out() ? 1 : 2) : ask(o.isPong, CLIENT_DEFAULTS.isPong, data) ? 1 : 0;
    hb.seen(kind === 1);
    if (suspect) {
      // Something arrived after the network was reported lost: the link works after all.
      suspect = false;
      flush();
    }
    if (kind === 2) {
      if (o.pongMessage && conn) conn.send(o.pongMessage, noop);
    } else if (!kind) {
      stats.received++;
      emit('message', { data });
    }
  };
  const onError = (cause: unknown) => err('ERR_SOCKET', cause);
  const onClose = (code: number, reason: string) => end(code, reason, undefined, true);

  const hb = createHeartbeat(
    clock,
    o.heartbeatInterval,
    o.heartbeatTimeout,
    () => conn!.send(o.pingMessage, noop),
    () => {
      err('ERR_HEARTBEAT_TIMEOUT');
      end(HEARTBEAT_TIMEOUT, '');
    },
    stats,
  );

  const connect = () => {
    const g = ++gen;
    clock.clearTimeout(timer);
    stopped = 0;
    setState('connecting');
    if (g !== gen) return; // a state listener closed or reconnected
    timer = clock.setTimeout(() => {
      err('ERR_CONNECT_TIMEOUT');
      end(CONNECT_TIMEOUT, '');
    }, o.connectTimeout);
    // A fresh endpoint per attempt; a throw or rejection is one failed attempt, never a dead loop.
    new Promise((resolve) => resolve(typeof o.url === 'function' ? o.url() : o.url)).then(toEndpoint).then(
      (ep) => {
        const go = () => {
          if (g !== gen) return;
          // Counted here: an attempt abandoned before this point never reached the platform.
          stats.attempts++;
          try {
            last = conn = openConnection(platform, ep, clock, onOpen, onMessage, onError, onClose);
          } catch (e) {
            // A connectSocket that throws (bad URL on some platforms) is one failed attempt.
            err('ERR_SOCKET', e);
            end(0, '');
          }
        };
        // Never two sockets: the previous one must be gone (or given up on) first.
        if (last) last.whenGone(go);
        else go();
      },
      (e) => {
        if (g !== gen) return;
        err('ERR_ENDPOINT', e);
        end(0, '');
      },
    );
  };

  /** App shown or network back: verify an open link, or connect now with a fresh backoff. */
  const wake = () => {
    if (state === 'open') hb.probe();
    else if (state === 'paused' || state === 'waiting' || stopped === 3) {
      backoff.reset();
      connect();
    }
  };

  const offLifecycle = o.lifecycle
    ? watchLifecycle(
        platform,
        () => {
          hidden = false;
          wake();
        },
        () => {
          hidden = true;
          hb.stop();
          // Burn no attempts in the background: the platform fails them and may freeze timers.
          if (state === 'connecting' || state === 'waiting') end(APP_HIDDEN, '', 'paused');
        },
        (res) => {
          if (!res.isConnected) {
            // The open link is suspect: queue rather than answer 'sent' for frames that may go
            // nowhere, and verify it (ping now, verdict after heartbeatTimeout).
            if (state === 'open' && !suspect) {
              suspect = true;
              hb.probe();
            }
          } else if (!hidden) {
            // Back: a link that saw nothing since the loss is replaced at once (the old route,
            // often the old IP, is gone); anything else is verified or reconnected now.
            if (suspect) {
              backoff.reset();
              end(NETWORK_LOST, '', 0);
            } else wake();
          }
        },
      )
    : noop;

  // Start on the next tick, so listeners added right after creation see every event.
  clock.setTimeout(() => state === 'idle' && connect(), 0);

  const client: Client = {
    get state() {
      return state;
    },
    get stats() {
      return Object.assign({ queued: queue.items.length }, stats);
    },
    on: em.on,
    send(data) {
      const d = toData(data);
      const size = typeof d === 'string' ? (d.length * 3 > o.maxMessageSize ? utf8Size(d) : 0) : d.byteLength;
      if (destroyed || size > o.maxMessageSize) {
        stats.dropped++;
        // Refused here: the server would close with 1009 and take the next messages with it.
        if (!destroyed) err('ERR_MESSAGE_TOO_BIG');
        return 'dropped';
      }
      // `conn` too: inside end() a listener may send while the state still reads 'open'.
      if (state !== 'open' || suspect || !conn) return queue.push(d);
      write(conn!, d);
      return 'sent';
    },
    close(code = NORMAL, reason = '') {
      checkClose(code, reason);
      if (destroyed) return;
      stopped = 1;
      end(code, reason, 'closed');
    },
    reconnect(code = RECONNECT, reason = '') {
      checkClose(code, reason);
      if (destroyed) return;
      backoff.reset();
      end(code, reason, 0);
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
