import type { Client } from '../client';
import type { SocketError } from '../errors';
import type { createEmitter as CreateEmitter } from '../events';
import type { CLIENT_DEFAULTS, ClientOptions, EndpointInput } from '../options';
import type { Platform } from '../platform/types';
import { MessagingError, type MessagingErrorCode } from './errors';
import { splitOptions, SUBPROTOCOL, type MessagingOptions } from './options';
import { defaultStorage } from './storage';

/** A client's place in a channel's stream (docs/protocol.md §3). */
export interface Position {
  offset: number;
  epoch: string;
}

/** `recovered: false`: publications after `previous` may be lost; reload state, then go on from `position`. */
export interface ResyncInfo {
  channel: string;
  position: Position;
  /** The position the client asked to recover from. */
  previous: Position;
}

export interface SubscriptionHandlers {
  /** Each publication exactly once and in order (offset = previous + 1 in the same epoch). */
  onPublication(data: any, ctx: Position): void;
  /** The server could not prove nothing was lost (also emitted as the client's `resync` event). */
  onResync?(info: ResyncInfo): void;
  /** The server refused or ended the subscription (ERR_REMOTE, `remoteCode` FORBIDDEN…); it is over. */
  onError?(error: MessagingError): void;
}

export interface Subscription {
  readonly channel: string;
  /** The last delivered (or acknowledged) position; null before the first ack of a new channel. */
  readonly position: Position | null;
  /** Stops delivery at once and forgets the stored position. */
  unsubscribe(): void;
}

export interface ServerError {
  code: string;
  message: string;
}

export interface MessagingEvents {
  /** The server's first frame on a connection: protocol frames flow from here on. */
  welcome: { cid: string; user: string | null; ping: number };
  /** A subscription could not be recovered (the subscription's onResync got the same). */
  resync: ResyncInfo;
  /** The ack of a request whose promise is gone (sent by a previous app run, or timed out). */
  reply: { id: string; data?: unknown; error?: ServerError };
  /** A one-off `msg` frame from the server (not recoverable). */
  message: { data: unknown };
  /** The core's errors (SocketError) and the messaging layer's (MessagingError). */
  error: SocketError | MessagingError;
}

export interface MessagingClient {
  /** The underlying core client: state, stats, open/close/state events. Do not send() on it. */
  readonly client: Client;
  /** Requests stored and not yet acknowledged (this run's and a previous run's). */
  readonly pending: number;
  /** Resolves with the server's ack data; rejects ERR_REMOTE, ERR_TIMEOUT, ERR_CLOSED, ERR_ARGUMENT. */
  request<T = unknown>(data: unknown, options?: { timeout?: number }): Promise<T>;
  /** Throws ERR_ARGUMENT for a bad or already subscribed channel. */
  subscribe(channel: string, handlers: SubscriptionHandlers): Subscription;
  on<K extends keyof MessagingEvents>(type: K, listener: (event: MessagingEvents[K]) => void): () => void;
  /** Closes the socket (the core's close()); requests and subscriptions stay for client.reconnect(). */
  close(code?: number, reason?: string): void;
  /** Final: closes, rejects pending promises with ERR_CLOSED (the requests stay stored), removes listeners. */
  destroy(): void;
}

interface Req {
  id: string;
  data: unknown;
  res?: (v: any) => void;
  rej?: (e: MessagingError) => void;
  timer?: unknown;
  /** 0: sent, unanswered. Otherwise not sent yet: refused by the rate limit, resend at this clock
   * time; 1: held (behind those, or the window is full). */
  due?: number;
}

interface Sub {
  ch: string;
  h: SubscriptionHandlers;
  pos: Position | null;
  /** id of the `sub` frame awaiting its ack. */
  sid?: string;
  api: Subscription;
}


/**
 * The messaging client on top of a core client (`createClient` and `createEmitter` of the
 * entry: so the WeChat build reuses miniprogram_dist/index.js instead of carrying a second copy
 * of the core).
 */
export function createMessaging(
  createClient: (o: ClientOptions) => Client,
  createEmitter: typeof CreateEmitter,
  defaults: typeof CLIENT_DEFAULTS,
  platform: Platform | undefined | false,
  input: MessagingOptions,
): MessagingClient {
  const [core, m] = splitOptions(input || ({} as MessagingOptions));
  const token = m.token;
  const userUrl = core.url;
  const userPolicy = core.shouldReconnect || defaults.shouldReconnect;
  const clock = core.clock || defaults.clock;
  const random = core.random || defaults.random;

  const em = createEmitter<MessagingEvents>((e, type) =>
    type === 'error'
      ? clock.setTimeout(() => {
          throw e;
        }, 0)
      : fail('ERR_CALLBACK', e),
  );
  const emit = em.emit;
  function fail(code: MessagingErrorCode, cause?: any, message?: string) {
    emit('error', new MessagingError(code, message || (cause && cause.message), cause));
  }
  const remoteError = (e: ServerError) => new MessagingError('ERR_REMOTE', e.message, e, e.code);
  /** Runs an app callback: a throw is reported, never propagated into the loop. */
  const call = (fn: ((a: any, b?: any) => void) | undefined, a: any, b?: any) => {
    try {
      if (fn) fn(a, b);
    } catch (e) {
      fail('ERR_CALLBACK', e);
    }
  };

  // ---- storage: every failure is reported (later, so listeners added after creation see it) ----
  const store = m.storage || defaultStorage(platform);
  const storageError = (e: unknown) => clock.setTimeout(() => fail('ERR_STORAGE', e), 0);
  const load = (name: string): any => {
    try {
      const s = store.getItem(m.storageKey + ':' + name);
      // Anything but a non-empty string is not ours (WeChat answers '' for a missing key).
      return typeof s === 'string' && s ? JSON.parse(s) : null;
    } catch (e) {
      storageError(e);
      return null;
    }
  };
  const save = (name: string, v: unknown) => {
    try {
      store.setItem(m.storageKey + ':' + name, JSON.stringify(v));
    } catch (e) {
      storageError(e);
    }
  };

  // Request ids: a random prefix kept for the lifetime of the storage, plus a counter stored with
  // the requests, so an id is never reused across app runs (the server deduplicates by id).
  let prefix: string = load('client');
  if (typeof prefix !== 'string') {
    prefix = (random().toString(36).slice(2) + random().toString(36).slice(2) + '00000000').slice(0, 12);
    save('client', prefix);
  }
  const saved = load('requests');
  let n = saved && saved.n >= 0 ? saved.n : 0;
  /** Unacknowledged requests, oldest first (a Map iterates in insertion order). */
  const reqs = new Map<string, Req>();
  if (saved && Array.isArray(saved.q)) {
    for (const e of saved.q) if (e && typeof e[0] === 'string') reqs.set(e[0], { id: e[0], data: e[1] });
  }
  const saveReqs = () => {
    const q: unknown[] = [];
    reqs.forEach((r) => q.push([r.id, r.data]));
    save('requests', { n, q });
  };
  let positions: Record<string, Position> = load('positions');
  if (!positions || typeof positions !== 'object') positions = {};
  const savePositions = () => save('positions', positions);

  const subs = new Map<string, Sub>();
  let sn = 0;
  /** 1: welcome seen on this socket; -1: the server does not speak the protocol here; 0: not known yet. */
  let proto = 0;
  let ready = false;
  let destroyed = false;
  /** Refusal status seen in the current attempt's error, refusals in a row, "ask the token function afresh". */
  let refused = 0;
  let authFails = 0;
  let stale = false;

  // ---- the endpoint of every attempt: our subprotocol and the token ----
  /** A value, or what a function of ours gives for it, as a promise. */
  const val = (v: any, a?: unknown): Promise<any> => Promise.resolve(typeof v === 'function' ? v(a) : v);
  const endpoint = () => {
    const fresh = stale;
    stale = false;
    return val(userUrl).then((e: EndpointInput) => {
      const ep: Exclude<EndpointInput, string> = Object.assign({}, typeof e === 'string' ? { url: e } : e);
      const list = ([] as string[]).concat(ep.protocols || []);
      if (list.indexOf(SUBPROTOCOL) < 0) list.unshift(SUBPROTOCOL);
      ep.protocols = list;
      if (!token) return ep;
      return val(token, { refused: fresh }).then((t) => {
        if (typeof t !== 'string' || !t) throw new MessagingError('ERR_OPTION', 'token: a non-empty string');
        // Browsers cannot set handshake headers: the query is the only way there (protocol.md §1).
        if (platform && platform.noHeaders) ep.url += (/\?/.test(ep.url) ? '&' : '?') + 'token=' + encodeURIComponent(t);
        else ep.header = Object.assign({}, ep.header, { Authorization: 'Bearer ' + t });
        return ep;
      });
    });
  };

  /**
   * Close policy: a refusal (HTTP 401/403 read from the platform's error, or close 4001/4003) is
   * retried only with a token function, `authRetries` times in a row, asking it for a fresh
   * token; otherwise ERR_AUTH and the client stays closed. Everything else: the user's policy.
   */
  const policy = (code: number, reason: string) => {
    const status = refused || ((code === 4001 || code === 4003) && code - 3600);
    refused = 0;
    if (!status) return userPolicy(code, reason);
    if (typeof token === 'function' && authFails < m.authRetries) {
      authFails++;
      stale = true;
      return true;
    }
    fail('ERR_AUTH', undefined, 'token refused: ' + status);
    return false;
  };

  const opts = Object.assign({}, core, { url: endpoint, shouldReconnect: policy });
  if (platform) opts.platform = platform;
  const client = createClient(opts);

  const send = (frame: object) => client.send(JSON.stringify(frame));
  /** Forgets an answered (or impossible) request. */
  const done = (r: Req) => {
    reqs.delete(r.id);
    saveReqs();
    clock.clearTimeout(r.timer);
  };
  /** 'dropped' = over maxMessageSize in UTF-8 (the core said so with ERR_MESSAGE_TOO_BIG): it can never go. */
  const sendReq = (r: Req) => {
    r.due = 0;
    // (Only while ready: never after destroy().)
    if (send({ t: 'req', id: r.id, data: r.data }) === 'dropped') {
      done(r);
      if (r.rej) r.rej(new MessagingError('ERR_ARGUMENT', 'over maxMessageSize'));
    }
  };
  const sendSub = (s: Sub) => {
    s.sid = 's' + ++sn;
    // JSON leaves out an undefined pos: a new channel starts from now.
    send({ t: 'sub', id: s.sid, ch: s.ch, pos: s.pos || undefined });
  };
  const setPos = (s: Sub, p: Position) => {
    positions[s.ch] = s.pos = p;
    savePositions();
  };
  const unsubFrame = (ch: string) => send({ t: 'unsub', id: 'u' + ++sn, ch });
  /** Ends a subscription (true) unless it already was. */
  const drop = (s: Sub) => {
    if (subs.get(s.ch) !== s) return;
    subs.delete(s.ch);
    delete positions[s.ch];
    savePositions();
    return true;
  };
  const endSub = (s: Sub, e: MessagingError) => drop(s) && call(s.h.onError, e);
  /** Recover a gap: unsub + sub from our position (the replay fills it, or the ack says resync). */
  const resubscribe = (s: Sub) => {
    if (!ready || s.sid) return; // after the next welcome, or the pending ack decides
    unsubFrame(s.ch);
    sendSub(s);
  };

  const onSubAck = (s: Sub, f: any) => {
    s.sid = undefined;
    if (f.error) {
      // UNAVAILABLE: the server cannot take it now; subscribed again after the next welcome.
      if (f.error.code !== 'UNAVAILABLE') endSub(s, remoteError(f.error));
      return;
    }
    const d = f.data || {};
    const top = { offset: d.offset, epoch: d.epoch };
    const prev = s.pos;
    if (!prev) return setPos(s, top);
    // Not recovered, or "recovered" without the replay reaching the top (a server bug): never a
    // silent gap, never a resubscribe loop: announce a resync.
    if (!d.recovered || prev.epoch !== top.epoch || prev.offset < top.offset) {
      setPos(s, top);
      // Read-only for the app (it is the position the client now goes on from).
      const info: ResyncInfo = { channel: s.ch, position: top, previous: prev };
      call(s.h.onResync, info);
      emit('resync', info);
    }
  };

  const onPub = (f: any) => {
    const s = subs.get(f.ch);
    const p = s && s.pos;
    if (!p) return; // not subscribed, or before the first ack of a new channel (live ones follow it)
    if (f.epoch === p.epoch && f.offset === p.offset + 1) {
      const q = (s.pos = { offset: f.offset, epoch: f.epoch });
      // Delivered, then stored: an app killed in between sees it again (at-least-once across a
      // crash, with the offset to tell), never loses it.
      call(s.h.onPublication, f.data, { offset: f.offset, epoch: f.epoch });
      if (subs.get(s.ch) === s) setPos(s, q);
    } else if (f.epoch !== p.epoch || f.offset > p.offset + 1) resubscribe(s);
    // else: a duplicate (offset <= last), dropped
  };

  const onAck = (f: any) => {
    const r = reqs.get(f.id);
    if (r) {
      // UNAVAILABLE: not processed; kept and resent after the next welcome.
      if (f.error && f.error.code === 'UNAVAILABLE') return;
      done(r);
      tick || flush();
      if (r.res) f.error ? r.rej!(remoteError(f.error)) : r.res(f.data);
      else emit('reply', f); // the ack frame itself: {id, data} or {id, error}
      return;
    }
    subs.forEach((s) => s.sid === f.id && onSubAck(s, f));
  };

  // Rate limits (protocol.md §4): a refused request is resent at the time the server named, and
  // new requests wait behind the refused ones until the last of those has gone, so that none
  // takes the tokens the server set aside for the resends (the server closes a connection that
  // keeps sending into refusals). One timer, the next due time in the order requests were made.
  // And at most 64 requests are unanswered at once (MAX_UNACKED_REQUESTS, protocol.md §4.1; a
  // literal: the bundle's budget): a backlog (an app back from the background) goes as answers
  // come, never as one burst the server would have to refuse.
  let tick: any = 0;
  const flush = () => {
    const now = clock.now();
    let room = 64;
    tick = 0;
    reqs.forEach((r) => r.due || room--); // sent, unanswered (while ready, due is never undefined)
    reqs.forEach((r) => {
      if (r.due && ready) tick || r.due > now ? (tick = tick || clock.setTimeout(flush, r.due - now)) : room-- > 0 && sendReq(r);
    });
  };
  /** An `error` frame with an id: that frame was not processed; resend it after retryAfter ms. */
  const limited = (f: any) => {
    const wait = f.retryAfter > 0 ? f.retryAfter : 500 + 1000 * random();
    const r = reqs.get(f.id);
    if (r) {
      r.due = clock.now() + wait;
      // (With a timer set, its flush sets the next: a due time it passed over goes late, never early.)
      if (!tick) flush();
    }
    subs.forEach((s) => s.sid === f.id && ((s.sid = undefined), clock.setTimeout(() => ready && !s.sid && subs.get(s.ch) === s && sendSub(s), wait)));
  };

  const onWelcome = (f: any) => {
    proto = 1;
    ready = true;
    authFails = 0;
    // A new connection, a new bucket: everything goes now.
    clock.clearTimeout(tick); // (flush() resets it)
    // Subscriptions first (with their positions), then every unacknowledged request, oldest first.
    subs.forEach(sendSub);
    // (All held first: what was sent on the last connection is not in flight on this one.)
    reqs.forEach((r) => (r.due = 1));
    flush();
    emit('welcome', f); // the frame itself: {cid, user, ping}
  };

  const notProtocol = (why: string) => {
    if (proto) return;
    proto = -1;
    fail('ERR_PROTOCOL', undefined, why);
  };

  client.on('open', (e) => {
    ready = false;
    proto = 0;
    refused = 0;
    // Frames queued for an earlier socket: protocol frames go only after the welcome (resent then).
    client.drain();
    // The 101's headers where the host gives them (WeChat ≥ 2.0.0): no subprotocol = plain server.
    // Header names in any case (hosts keep the server's spelling, lower-case or canonicalise it).
    const h = e.header;
    if (h && !/"sec-websocket-protocol":"wss-mp\.v1"/i.test(JSON.stringify(h))) notProtocol('no ' + SUBPROTOCOL);
  });
  client.on('close', () => {
    ready = false;
  });
  client.on('message', (e) => {
    let f: any;
    try {
      f = JSON.parse(e.data as string);
    } catch (_x) {
      // not JSON (or binary): not a protocol frame
    }
    const t = f && f.t;
    if (t === 'welcome') return onWelcome(f);
    if (!t || !ready) return notProtocol('no welcome');
    if (t === 'ack') onAck(f);
    else if (t === 'pub') onPub(f);
    else if (t === 'msg') emit('message', f); // {data}
    else if (t === 'unsub') {
      const s = subs.get(f.ch);
      if (s) endSub(s, remoteError(f));
    } else if (t === 'error') f.id ? limited(f) : emit('error', remoteError(f));
  });
  client.on('error', (e) => {
    if (e.code === 'ERR_SOCKET') {
      // A refused handshake: the ws shim and some hosts name the status in the error text;
      // browsers and others do not (then it looks like any failed attempt and is retried).
      const c = e.cause as any;
      const s = /\b(40[13])\b/.exec(String(c && (c.errMsg || c.message)));
      if (s) refused = +s[1];
    }
    // One frame of ours was dropped from a full queue: a new connection resends everything.
    if (e.code === 'ERR_QUEUE_FULL' && ready) client.reconnect();
    emit('error', e);
  });

  return {
    client,
    get pending() {
      return reqs.size;
    },
    request(data, options) {
      return new Promise((res, rej) => {
        if (destroyed) throw new MessagingError('ERR_CLOSED');
        const timeout = options && options.timeout !== undefined ? options.timeout : m.requestTimeout;
        if (!(timeout >= 0)) throw new MessagingError('ERR_ARGUMENT', 'timeout: a number >= 0');
        const id = prefix + '-' + (n + 1).toString(36);
        const v = data === undefined ? null : data;
        try {
          JSON.stringify(v);
        } catch (e) {
          throw new MessagingError('ERR_ARGUMENT', 'data: JSON', e);
        }
        n++;
        const r: Req = { id, data: v, res, rej };
        reqs.set(id, r);
        saveReqs();
        if (timeout) {
          r.timer = clock.setTimeout(() => {
            r.res = r.rej = undefined;
            rej(new MessagingError('ERR_TIMEOUT', 'no ack yet'));
          }, timeout);
        }
        // Held, and sent now if the window has room (before the welcome: sent after it).
        r.due = 1;
        if (ready) tick || flush();
      });
    },
    subscribe(channel, handlers) {
      if (typeof channel !== 'string' || !channel || channel.length > 128 || subs.has(channel) || !handlers || typeof handlers.onPublication !== 'function') {
        throw new MessagingError('ERR_ARGUMENT', 'channel: 1-128 chars, once; onPublication');
      }
      const p = positions[channel];
      const s: Sub = {
        ch: channel,
        h: handlers,
        pos: p || null, // stored by us; a damaged one gets BAD_FRAME, which ends the subscription
        api: {
          channel,
          // Position objects are replaced, never changed: this one is a snapshot.
          get position() {
            return s.pos;
          },
          unsubscribe() {
            if (drop(s) && ready) unsubFrame(channel);
          },
        },
      };
      subs.set(channel, s);
      if (ready) sendSub(s);
      return s.api;
    },
    on: em.on,
    close: client.close,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      // (A retry timer still set finds nothing to do: not ready.)
      ready = false;
      client.destroy();
      reqs.forEach((r) => {
        clock.clearTimeout(r.timer);
        if (r.rej) r.rej(new MessagingError('ERR_CLOSED', 'destroyed'));
      });
      // (Not Map#clear: the WeChat build mangles `clear` for the core's emitter. Nothing reads
      // the maps after this: the core client is gone and every entry point checks `destroyed`.)
      em.clear();
    },
  };
}
