/**
 * Messaging on the server: users and presence for every connection, and `wss-mp.v1` for the
 * connections that negotiated it (welcome, requests, subscriptions with recovery, delivery).
 * The hub calls in through HubExtension; connections that did not negotiate the protocol
 * never reach `message` here, so the plain path pays nothing for it.
 */
import {
  CloseCode,
  MESSAGING_VERSION,
  MessagingErrorCode as E,
  USER_CHANNEL,
  isBadFrame,
  isValidChannel,
  parseClientFrame,
  type ClientFrame,
  type StreamPosition,
} from '@wss-mp/protocol';
import { WssMpServerError } from '../../common/errors';
import type { Connection } from '../connection';
import { MemoryBroker, USER_STREAM_PREFIX, type Broker, type HistoryResult, type Publication, type PublishOptions } from './broker';
import { Dedup } from './dedup';
import type { ResolvedMessaging } from './options';
import { Users, presenceOf, type Presence } from './presence';
import { Requests, errorAck, isThenable, type InFlight } from './requests';
import { scanRequest, type ScannedRequest } from './req-frame';
import type { Stats } from '../ops/stats';
import type { Bucket, MessageLimiter } from '../ops/rate-limit';

/** What the hub calls (undefined in the hub when neither messaging nor users are configured). */
export interface HubExtension {
  /** A connection was admitted; `protocol` is true when it negotiated wss-mp.v1. */
  opened(conn: Connection<any>, protocol: boolean): void;
  /** A message on a protocol connection (heartbeat frames are answered before this). */
  message(conn: Connection<any>, data: Buffer, isBinary: boolean): void;
  closed(conn: Connection<any>): void;
}

/** A subscription of one connection to one stream. */
interface Sub {
  conn: Connection<any>;
  /** The name the client used (`$user` for the personal stream). */
  ch: string;
  stream: string;
  /** Live publications held back while a recovery is in progress; null when live. */
  pending: Publication[] | null;
}

/** Per protocol connection: its subscriptions by channel name, and its requests in flight. */
export class Session implements InFlight {
  readonly subs = new Map<string, Sub>();
  /** Its rate-limit buckets (ops/rate-limit.ts); undefined when rate limits are off. */
  limit: Bucket | undefined = undefined;
  inFlight = 0;
  onIdle: (() => void) | undefined = undefined;
}

export type ReportError = (err: unknown, conn: Connection<any> | undefined, where: string) => void;

export interface EngineOptions<T> {
  messaging: ResolvedMessaging<T> | undefined;
  singleSession: boolean;
  /** Server heartbeat interval, ms (for `welcome.ping`). */
  heartbeatInterval: number;
  report: ReportError;
  /** Builds the shared broker when `messaging.redis` is set (kept out of here: one-way imports). */
  sharedBroker?: (m: ResolvedMessaging<T>) => Broker | undefined;
  /** Recoveries are counted here (ops/stats.ts). */
  stats?: Stats;
  /** Per-connection and per-user message limits (ops/rate-limit.ts). */
  limiter?: MessageLimiter;
}

export class Messaging<T = Record<string, unknown>> implements HubExtension {
  readonly users = new Users<Connection<T>>();
  readonly broker: Broker | undefined;
  /** Local subscriptions per stream. */
  private readonly streams = new Map<string, Set<Sub>>();
  private readonly requests: Requests<T> | undefined;
  private readonly m: ResolvedMessaging<T> | undefined;
  /** What scanRequest read from the frame being handled (one object reused: nothing allocated per request). */
  private readonly scanned: ScannedRequest = { id: '', data: undefined };

  constructor(private readonly o: EngineOptions<T>) {
    const m = (this.m = o.messaging);
    if (m !== undefined) {
      this.broker = m.broker ?? o.sharedBroker?.(m) ?? new MemoryBroker({ historySize: m.historySize, historyTtl: m.historyTtl });
      this.broker.onPublication((stream, pub) => this.deliver(stream, pub));
      this.requests = new Requests(m, new Dedup(m.dedupWindow, m.dedupMaxEntries), o.report);
    }
  }

  get enabled(): boolean {
    return this.m !== undefined;
  }

  opened(conn: Connection<T>, protocol: boolean): void {
    if (this.o.singleSession && conn.user !== null) {
      for (const old of this.users.connectionsOf(conn.user)) {
        old.endReason = 'replaced by a newer session';
        old.close(CloseCode.REPLACED, 'replaced by a newer session');
      }
    }
    this.users.add(conn);
    this.broker?.connection?.(conn.user, 1);
    if (!protocol || this.m === undefined) return;
    const session = (conn.session = new Session());
    const limiter = this.o.limiter;
    if (limiter !== undefined) {
      session.limit = limiter.connectionBucket();
      limiter.opened(conn.user);
    }
    conn.send(JSON.stringify({ t: 'welcome', v: MESSAGING_VERSION, cid: String(conn.id), user: conn.user, ping: this.o.heartbeatInterval }));
  }

  closed(conn: Connection<T>): void {
    this.users.remove(conn);
    this.broker?.connection?.(conn.user, -1);
    const s = conn.session as Session | undefined;
    if (s === undefined) return;
    if (s.limit !== undefined) this.o.limiter!.closed(conn.user);
    for (const sub of s.subs.values()) this.detach(sub);
    s.subs.clear();
  }

  message(conn: Connection<T>, data: Buffer, isBinary: boolean): void {
    const s = conn.session as Session | undefined;
    if (s === undefined) return;
    if (s.limit !== undefined) {
      const wait = this.o.limiter!.check(conn, s.limit, data.length);
      // Over a limit: not processed (nor remembered for deduplication, so that its resend is),
      // and answered with its id and when to resend it, unless that closed the connection.
      if (wait !== 0) return void (wait > 0 && conn.send(refusal(data, isBinary, wait)));
    }
    if (isBinary) return void conn.send(errorFrame('binary frames are not part of wss-mp.v1 (send JSON text)'));
    const q = this.scanned;
    if (scanRequest(data, q)) {
      const d = q.data;
      q.data = undefined; // not kept alive until the next request
      return this.requests!.handle(conn, q.id, d, true);
    }
    const f = parseClientFrame(data.toString());
    if (isBadFrame(f)) {
      conn.send(f.id === undefined ? errorFrame(f.bad) : errorAck(f.id, E.BAD_FRAME, f.bad));
      return;
    }
    this.dispatch(conn, s, f);
  }

  private dispatch(conn: Connection<T>, s: Session, f: ClientFrame): void {
    if (f.t === 'req') return this.requests!.handle(conn, f.id, f.data);
    if (f.t === 'unsub') {
      const sub = s.subs.get(f.ch);
      if (sub !== undefined) this.leave(s, sub);
      return void conn.send(JSON.stringify({ t: 'ack', id: f.id }));
    }
    const stream = this.clientStream(conn, f.ch);
    if (stream === undefined) {
      const why = f.ch === USER_CHANNEL ? 'anonymous connections have no $user stream' : 'channels starting with $ are server-only';
      return void conn.send(errorAck(f.id, E.FORBIDDEN, why));
    }
    if (!s.subs.has(f.ch) && s.subs.size >= this.m!.maxSubscriptions) {
      return void conn.send(errorAck(f.id, E.TOO_MANY_SUBSCRIPTIONS, `at most ${this.m!.maxSubscriptions} subscriptions per connection`));
    }
    const can = this.m!.canSubscribe;
    // $user is the connection's own stream, and a resubscription (gap recovery) was allowed once.
    if (can === undefined || f.ch === USER_CHANNEL || s.subs.has(f.ch)) return this.join(conn, s, f.id, f.ch, stream, f.pos);
    this.requests!.ask(conn, f.id, () => can(conn, f.ch), (ok) => {
      if (conn.session !== s || !conn.isOpen) return;
      if (ok === true) this.join(conn, s, f.id, f.ch, stream, f.pos);
      else conn.send(errorAck(f.id, E.FORBIDDEN, 'not allowed on this channel'));
    });
  }

  /** The stream a client's channel name maps to; undefined when the client may not name it. */
  private clientStream(conn: Connection<T>, ch: string): string | undefined {
    if (ch === USER_CHANNEL) return conn.user === null ? undefined : USER_STREAM_PREFIX + conn.user;
    return ch.charCodeAt(0) === 36 /* $ */ ? undefined : ch;
  }

  /** Subscribes (or resubscribes) and recovers from `pos`; the ack follows the replay. */
  private join(conn: Connection<T>, s: Session, id: string | undefined, ch: string, stream: string, pos: StreamPosition | undefined): void {
    let sub = s.subs.get(ch);
    if (sub === undefined) {
      sub = { conn, ch, stream, pending: [] };
      s.subs.set(ch, sub);
      this.attach(sub);
    } else sub.pending ??= [];
    let h: HistoryResult | Promise<HistoryResult>;
    try {
      h = this.broker!.history(stream, pos);
    } catch (err) {
      if (pos !== undefined) this.countRecovery(undefined);
      return this.historyFailed(s, sub, id, err);
    }
    if (!isThenable(h)) {
      if (pos !== undefined) this.countRecovery(h);
      return this.recovered(sub, id, h);
    }
    const live = sub;
    h.then((r) => {
      if (pos !== undefined) this.countRecovery(r);
      this.recovered(live, id, r);
    }, (err) => {
      if (pos !== undefined) this.countRecovery(undefined);
      this.historyFailed(s, live, id, err);
    });
  }

  /** A subscription that came with a position: recovered, a gap, or the broker failed (undefined). */
  private countRecovery(h: HistoryResult | undefined): void {
    const st = this.o.stats;
    if (st === undefined) return;
    if (h === undefined) st.recoveryFailed++;
    else if (h.recovered) st.recovered++;
    else st.notRecovered++;
  }

  /** Streams with local subscribers (the channels gauge). */
  get streamCount(): number {
    return this.streams.size;
  }

  private recovered(sub: Sub, id: string | undefined, h: HistoryResult): void {
    const conn = sub.conn;
    const s = conn.session as Session | undefined;
    if (s === undefined || s.subs.get(sub.ch) !== sub) return; // closed or unsubscribed meanwhile
    for (const p of h.publications) conn.sendFrame(p.frame, false);
    const top = h.top;
    if (id !== undefined) {
      conn.send(JSON.stringify({ t: 'ack', id, data: { ch: sub.ch, offset: top.offset, epoch: top.epoch, recovered: h.recovered } }));
    }
    const pending = sub.pending;
    sub.pending = null;
    if (pending === null) return;
    // What arrived while the history was read: only what the top did not already cover. A
    // publication in another epoch is sent too: the client sees the change and resubscribes.
    for (const p of pending) if (p.epoch !== top.epoch || p.offset > top.offset) conn.sendFrame(p.frame, false);
  }

  private historyFailed(s: Session, sub: Sub, id: string | undefined, err: unknown): void {
    this.o.report(err, sub.conn, 'broker.history');
    this.leave(s, sub);
    if (id !== undefined) sub.conn.send(errorAck(id, E.UNAVAILABLE, 'history unavailable; retry later'));
  }

  private attach(sub: Sub): void {
    let set = this.streams.get(sub.stream);
    if (set === undefined) {
      this.streams.set(sub.stream, (set = new Set()));
      this.broker!.subscribe(sub.stream);
    }
    set.add(sub);
    // Channel presence across nodes; a personal stream's subscribers are its user, counted overall.
    if (!sub.stream.startsWith(USER_STREAM_PREFIX)) this.broker!.member?.(sub.stream, sub.conn.user, 1);
  }

  private detach(sub: Sub): void {
    const set = this.streams.get(sub.stream);
    if (set === undefined || !set.delete(sub)) return;
    if (!sub.stream.startsWith(USER_STREAM_PREFIX)) this.broker!.member?.(sub.stream, sub.conn.user, -1);
    if (set.size === 0) {
      this.streams.delete(sub.stream);
      this.broker!.unsubscribe(sub.stream);
    }
  }

  private leave(s: Session, sub: Sub): void {
    s.subs.delete(sub.ch);
    this.detach(sub);
  }

  /** Broker → local subscribers: one encoded frame for all of them. */
  private deliver(stream: string, pub: Publication): void {
    const set = this.streams.get(stream);
    if (set === undefined) return;
    for (const sub of set) {
      if (sub.pending !== null) sub.pending.push(pub);
      else sub.conn.sendFrame(pub.frame, false);
    }
  }

  // ---- the server API ------------------------------------------------------------------

  private need(what: string): Broker {
    if (this.broker === undefined) throw new WssMpServerError('ERR_SERVER_STATE', `${what}: messaging is off (createServer({ messaging: true }))`);
    return this.broker;
  }

  async publish(channel: string, data: unknown, opts?: PublishOptions): Promise<StreamPosition> {
    const broker = this.need('publish');
    if (!isValidChannel(channel) || channel === USER_CHANNEL || channel.startsWith(USER_STREAM_PREFIX)) {
      throw new WssMpServerError('ERR_ARGUMENT', `publish: channel must be 1–128 chars and not $user (use sendToUser), got ${JSON.stringify(channel)}`);
    }
    checkKey('publish', opts);
    const p = await broker.publish(channel, data, opts);
    return { offset: p.offset, epoch: p.epoch };
  }

  async sendToUser(user: string, data: unknown, opts?: PublishOptions): Promise<StreamPosition> {
    const broker = this.need('sendToUser');
    if (typeof user !== 'string' || user === '') throw new WssMpServerError('ERR_ARGUMENT', 'sendToUser: user must be a non-empty string');
    checkKey('sendToUser', opts);
    const p = await broker.publish(USER_STREAM_PREFIX + user, data, opts);
    return { offset: p.offset, epoch: p.epoch };
  }

  /** Server-side join, from now on (no recovery, no ack); false for a non-protocol connection. */
  subscribe(conn: Connection<T>, channel: string): boolean {
    this.need('subscribe');
    const s = conn.session as Session | undefined;
    if (s === undefined || !conn.isOpen) return false;
    if (!isValidChannel(channel)) throw new WssMpServerError('ERR_ARGUMENT', `subscribe: channel must be 1–128 chars, got ${JSON.stringify(channel)}`);
    if (s.subs.has(channel)) return true;
    const stream = channel === USER_CHANNEL ? (conn.user === null ? undefined : USER_STREAM_PREFIX + conn.user) : channel;
    if (stream === undefined) return false;
    this.join(conn, s, undefined, channel, stream, undefined);
    return true;
  }

  /** Ends a subscription and tells the client (`unsub` frame with `code`). */
  unsubscribe(conn: Connection<T>, channel: string, code: string = E.FORBIDDEN, message?: string): boolean {
    this.need('unsubscribe');
    const s = conn.session as Session | undefined;
    const sub = s?.subs.get(channel);
    if (s === undefined || sub === undefined) return false;
    this.leave(s, sub);
    conn.send(JSON.stringify({ t: 'unsub', ch: channel, code, message }));
    return true;
  }

  /**
   * Users and connections overall, or subscribed to `channel`: on every node and worker when the
   * broker is shared (Redis, the --workers primary), else in this process.
   */
  presence(all: Iterable<Connection<T>>, channel?: string): Promise<Presence> {
    try {
      checkPresenceChannel(channel);
    } catch (err) {
      return Promise.reject(err);
    }
    const b = this.broker;
    return b?.presence ? b.presence(channel) : Promise.resolve(this.localPresence(all, channel));
  }

  close(): Promise<void> {
    return this.broker?.close?.() ?? Promise.resolve();
  }

  // ---- the drain (lifecycle.ts) ---------------------------------------------------------

  /** The server drains: from now on no request is started (answered UNAVAILABLE). */
  startDrain(): void {
    if (this.requests !== undefined) this.requests.draining = true;
  }

  /**
   * Calls `idle` once `conn` has answered every request it waits on (the acks are sent
   * first); false, and no call, when it waits on none.
   */
  whenIdle(conn: Connection<T>, idle: () => void): boolean {
    const s = conn.session as Session | undefined;
    if (s === undefined || s.inFlight === 0) return false;
    s.onIdle = idle;
    return true;
  }

  /** The drain's deadline passed while `conn` still waited on requests: report it. */
  drainTimedOut(conn: Connection<T>, timeoutMs: number): void {
    const s = conn.session as Session | undefined;
    if (s === undefined || s.inFlight === 0) return;
    s.onIdle = undefined;
    this.o.report(new Error(`${s.inFlight} request(s) not settled within drainTimeout (${timeoutMs} ms): ` +
      'the connection is cut unanswered and the client resends them to the next server, which may run them again'), conn, 'onRequest');
  }

  /** Users and connections on `channel` (subscribers in this process), or in this whole process. */
  localPresence(all: Iterable<Connection<T>>, channel?: string): Presence {
    checkPresenceChannel(channel);
    if (channel === undefined) return presenceOf(all);
    const set = this.streams.get(channel);
    return presenceOf(set === undefined ? [] : [...set].map((sub) => sub.conn));
  }
}

/** A channel name, never a personal stream: a user's presence is in the overall form. */
function checkPresenceChannel(channel: string | undefined): void {
  if (channel === undefined) return;
  if (!isValidChannel(channel) || channel === USER_CHANNEL || channel.startsWith(USER_STREAM_PREFIX)) {
    throw new WssMpServerError('ERR_ARGUMENT', `presence: channel must be 1–128 chars and not $user (a user's connections are in presence()), got ${JSON.stringify(channel)}`);
  }
}

/** Refused frames up to this size are parsed for their id when it is not where clients put it. */
const REFUSED_PARSE_MAX = 16 * 1024;
/** `{"t":"req","id":"…"`: the order the reference client writes (an id with escapes or beyond ASCII is parsed instead). */
const LEADING_ID = /^\{"t":"(?:req|sub|unsub)","id":"([\x20\x21\x23-\x5b\x5d-\x7e]{1,64})"/;

/**
 * The answer to a frame refused by the rate limit: `error` RATE_LIMITED with the frame's `id`
 * and `retryAfter` (docs/protocol.md §4.1). The id is read cheaply, so that a flood of large
 * frames is not parsed in full: from the frame's first 90 bytes, or by parsing a small frame; a
 * frame whose id cannot be read so gets the answer without one.
 */
function refusal(data: Buffer, isBinary: boolean, retryAfter: number): string {
  let id: string | undefined;
  if (!isBinary) {
    id = LEADING_ID.exec(data.toString('latin1', 0, 90))?.[1];
    if (id === undefined && data.length <= REFUSED_PARSE_MAX) {
      const f = parseClientFrame(data.toString());
      id = f.id;
    }
  }
  return JSON.stringify({ t: 'error', id, code: E.RATE_LIMITED, message: 'over the rate limit: not processed; resend it after retryAfter ms', retryAfter });
}

function errorFrame(message: string): string {
  return JSON.stringify({ t: 'error', code: E.BAD_FRAME, message });
}

/** An idempotency key is a short non-empty string (it becomes part of a Redis key). */
function checkKey(what: string, opts: PublishOptions | undefined): void {
  const k = opts?.idempotencyKey;
  if (k !== undefined && (typeof k !== 'string' || k === '' || k.length > 128)) {
    throw new WssMpServerError('ERR_ARGUMENT', `${what}: idempotencyKey must be a string of 1–128 chars, got ${JSON.stringify(k)}`);
  }
}
