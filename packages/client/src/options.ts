import { PING_FRAME, PONG_FRAME, CLIENT_HEARTBEAT_INTERVAL_MS, CLIENT_HEARTBEAT_TIMEOUT_MS, MAX_MESSAGE_BYTES, isTerminalCloseCode } from '@wss-mp/protocol';
import { SocketError } from './errors';
import type { Overflow } from './queue';
import type { Data, Endpoint, Platform } from './platform/types';

/**
 * What the `url` option may produce: a URL, or a URL with handshake headers, subprotocols and
 * the platform's own connectSocket options (passed through as given; WeChat: `tcpNoDelay`
 * ≥ 2.4.0, `perMessageDeflate` ≥ 2.8.0, `timeout` ≥ 2.10.0, `forceCellularNetwork` ≥ 2.29.0).
 */
export type EndpointInput =
  | string
  | {
      url: string;
      header?: Record<string, string>;
      protocols?: string[] | string;
      tcpNoDelay?: boolean;
      perMessageDeflate?: boolean;
      /** The platform's own handshake timeout in ms (WeChat); the client's is `connectTimeout`. */
      timeout?: number;
      forceCellularNetwork?: boolean;
    };

/** Static, or a (possibly async) provider called before every attempt (fresh tokens, failover). */
export type UrlOption = EndpointInput | PromiseLike<EndpointInput> | (() => EndpointInput | PromiseLike<EndpointInput>);

/** Timers and time, injectable for tests. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export interface ClientOptions {
  /** Endpoint, or a function (sync or async) returning one, called before every attempt. */
  url: UrlOption;
  /** A `wx`-like namespace: wx, qq, tt, swan, uni, Taro, or an adapter (webPlatform(), alipayPlatform(my)). Default: the entry's. */
  platform?: Platform;
  /** ms an attempt may take from its start (endpoint, previous socket's close, handshake) before it is abandoned. @default 10000 */
  connectTimeout?: number;
  /** ms: the n-th retry (from 0) waits rand(0, min(backoffMax, backoffBase · 2^n)). @default 2000 */
  backoffBase?: number;
  /** ms cap of the backoff window. @default 30000 */
  backoffMax?: number;
  /** ms a connection must stay open before the failure count resets. @default 5000 */
  minUptime?: number;
  /** Failed attempts in a row before giving up (state `closed`, reconnect() restarts); 1 (or 0) = never retry. @default Infinity */
  maxRetries?: number;
  /** ms of inbound silence before a ping is sent; 0 disables the heartbeat. @default 25000 */
  heartbeatInterval?: number;
  /** ms after that with still nothing inbound before the link is closed and reopened; 0 = keepalive only. @default 10000 */
  heartbeatTimeout?: number;
  /** The heartbeat frame. @default '{"type":"ping"}' */
  pingMessage?: Data;
  /** Recognises the server's answer; matching frames are not emitted as messages. @default defaultIsPong */
  isPong?: (data: Data) => boolean;
  /** Sent back when the server pings first (a frame equal to `pingMessage` that is not the echo of ours); '' = no answer. @default '{"type":"pong"}' */
  pongMessage?: Data;
  /** Largest message send() accepts (bytes, UTF-8 for text); bigger ones are 'dropped' with ERR_MESSAGE_TOO_BIG. @default 65536 */
  maxMessageSize?: number;
  /** Messages kept while not open. @default 100 */
  queueSize?: number;
  /** What a full queue does with one more message. @default 'drop-oldest' */
  queueOverflow?: Overflow;
  /** Policy for closes the client did not ask for. @default defaultShouldReconnect */
  shouldReconnect?: (code: number, reason: string) => boolean;
  /** Listen to app show/hide and network status. @default true */
  lifecycle?: boolean;
  /** Injected clock (tests). Default: host timers and Date.now. */
  clock?: Clock;
  /** Injected randomness in [0, 1) (tests). Default: Math.random. */
  random?: () => number;
}

/** Host timers and Date.now, looked up when called (never at import). */
const hostClock: Clock = {
  now: Date.now, // a static method: no `this` needed
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/**
 * Pong test: wss-mp-server's `{"type":"pong"}`. (Our own ping echoed back by a plain echo server
 * is recognised by the client itself: a frame equal to `pingMessage` while a ping is out.)
 */
export function defaultIsPong(data: Data): boolean {
  return data === PONG_FRAME;
}

/** Reconnect after everything except the terminal codes of the shared registry (4001, 4003, 4009, 3500–3999). */
export function defaultShouldReconnect(code: number, _reason: string): boolean {
  return !isTerminalCloseCode(code);
}

/** Every default, documented one-to-one in README.md (a test compares them). */
export const CLIENT_DEFAULTS = {
  connectTimeout: 10000,
  backoffBase: 2000,
  backoffMax: 30000,
  minUptime: 5000,
  maxRetries: Infinity,
  heartbeatInterval: CLIENT_HEARTBEAT_INTERVAL_MS,
  heartbeatTimeout: CLIENT_HEARTBEAT_TIMEOUT_MS,
  pingMessage: PING_FRAME as Data,
  isPong: defaultIsPong,
  pongMessage: PONG_FRAME as Data,
  maxMessageSize: MAX_MESSAGE_BYTES,
  queueSize: 100,
  queueOverflow: 'drop-oldest' as Overflow,
  shouldReconnect: defaultShouldReconnect,
  lifecycle: true,
  clock: hostClock as Clock,
  random: Math.random as () => number,
};

export type ResolvedOptions = typeof CLIENT_DEFAULTS & { url: UrlOption };

const bad = (name: string, accepts: string, got: unknown): never => {
  throw new SocketError('ERR_OPTION', `option "${name}" must be ${accepts}; got ${got}`);
};

/** Validates `input` and fills in defaults. Throws SocketError ERR_OPTION naming the option. */
export function resolveOptions(input: ClientOptions = {} as ClientOptions): ResolvedOptions {
  const o: any = Object.assign({}, CLIENT_DEFAULTS);
  for (const k in input) {
    const v = (input as any)[k];
    if (v === undefined) continue;
    if (k !== 'url' && k !== 'platform') {
      const t = typeof (CLIENT_DEFAULTS as any)[k];
      if (
        !(k in CLIENT_DEFAULTS) ||
        (t !== 'string' && typeof v !== t) ||
        (t === 'number' && (!(v >= 0) || (v === Infinity && k !== 'maxRetries' && k !== 'maxMessageSize'))) ||
        (k === 'queueOverflow' && v !== 'drop-oldest' && v !== 'reject')
      ) {
        bad(k, !(k in CLIENT_DEFAULTS) ? 'a known option' : k === 'queueOverflow' ? '"drop-oldest" or "reject"' : `of type ${t}${t === 'number' ? ' >= 0' : ''}`, v);
      }
    }
    o[k] = v;
  }
  const url = input.url;
  if (typeof url !== 'function' && !(url && typeof (url as PromiseLike<unknown>).then === 'function')) toEndpoint(url);
  return o;
}

/** Normalises what `url` gave; throws ERR_OPTION (the client reports it per attempt as ERR_ENDPOINT). */
export function toEndpoint(v: unknown): Endpoint {
  const e = (typeof v === 'string' ? { url: v } : v) as EndpointInput & object;
  if (!e || !/^wss?:\/\//i.test(e.url)) bad('url', 'a ws(s):// URL, {url} or a function', v);
  const p = e.protocols;
  // A copy (it becomes this attempt's connectSocket option): platform options pass through.
  return Object.assign({}, e, { protocols: typeof p === 'string' ? [p] : p });
}
