/**
 * The Redis broker: streams shared by every node connected to one Redis. History lives in Redis
 * Streams, written with the offset and epoch by one Lua script (redis-scripts.ts); fan-out is
 * Redis pub/sub, one channel per stream, and a node subscribes only to the streams it has local
 * subscribers for (a user's personal stream only where that user is connected and subscribed,
 * so sendToUser reaches only the nodes holding the user).
 *
 * Pub/sub is fire-and-forget: a message missed during a Redis blip is never redelivered. So
 * every node tracks the last offset it delivered per stream; a publication further ahead, or a
 * reconnect, makes it read the missing offsets from the stream before delivering anything newer.
 *
 * Client: ioredis. It resubscribes by itself after a reconnect, runs scripts by SHA with a
 * fallback to EVAL (defineCommand), ships its own types and has few dependencies.
 *
 * While Redis is unreachable, publications and history reads fail at once with
 * ERR_UNAVAILABLE (no offline queue: a publication must never be accepted and then silently
 * lost), local traffic that needs no stream keeps working, and state changes are logged once
 * per transition.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { StreamPosition } from '@wss-mp/protocol';
import { frameChannel, textBuffer, unavailable, type Broker, type HistoryResult, type Publication } from './broker';
import { COUNT_LUA, HISTORY_LUA, PUBLISH_LUA } from './redis-scripts';
import type { Presence } from './presence';

export const REDIS_DEFAULTS = Object.freeze({
  /** Prefix of every key and pub/sub channel (several deployments can share one Redis). */
  prefix: 'wss-mp:',
  /** Stream keys idle this long (ms) expire; positions in them are then answered `recovered: false`. */
  keyTtl: 86_400_000,
  /** How often (ms) a node refreshes its presence entry; it expires after 3 missed refreshes. */
  nodeHeartbeat: 5_000,
  /** A history read waiting for its pub/sub subscription fails after this (ms). */
  subscribeTimeout: 5_000,
  /**
   * A command unanswered this long (ms) fails with ERR_UNAVAILABLE (a Redis that hangs, e.g.
   * SIGSTOPped, keeps its sockets open). Redis may still run it later: a publication is then
   * refused by its deadline (publishDeadline).
   */
  commandTimeout: 5_000,
  /**
   * A publication Redis reaches this long (ms, by Redis's clock) after the node sent it is not
   * made (PUBLISH_LUA's deadline): well inside the command timeout, so a publication refused on
   * timeout is never made afterwards; the rest of the timeout covers the reply's way back and
   * the clock skew between node and Redis.
   */
  publishDeadline: 2_500,
  /** A gap fill that failed (Redis unreachable or frozen) is tried again after this (ms). */
  fillRetry: 1_000,
});

export interface RedisBrokerOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// for TLS. */
  url: string;
  historySize: number;
  historyTtl: number;
  prefix?: string;
  keyTtl?: number;
  nodeHeartbeat?: number;
  /** Where state changes go (connected, lost, gap filled). */
  log?: (level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown>) => void;
}

/** Per stream with local subscribers: the last offset delivered here, for gap detection. */
interface Tracked {
  /** Resolves once Redis confirmed the pub/sub subscription. */
  ready: Promise<void>;
  epoch: string | undefined;
  last: number;
  /** Publications that arrived while a gap is being filled; null when none is. */
  queue: Publication[] | null;
  /** A fill is reading from Redis; `refill`: another was asked for meanwhile (a reconnect). */
  filling: boolean;
  refill: boolean;
}

const EMPTY: readonly Publication[] = Object.freeze([]);
const CONNS = '#conns';

type Scripts = Redis & {
  wssPublish(meta: string, stream: string, ...argv: (string | number)[]): Promise<[number, string, string]>;
  wssHistory(meta: string, stream: string, ...argv: (string | number)[]): Promise<[number, string, number, ...string[]]>;
  wssCount(key: string, field: string, delta: number): Promise<number>;
};

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

export class RedisBroker implements Broker {
  readonly nodeId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly cmd: Scripts;
  private readonly sub: Redis;
  private readonly prefix: string;
  private readonly keyTtl: number;
  private readonly nodeTtl: number;
  private readonly tracked = new Map<string, Tracked>();
  /** This node's users and connection count, rewritten into Redis after every (re)connect. */
  private readonly counts = new Map<string, number>();
  private listener: (stream: string, pub: Publication) => void = () => {};
  private readonly log: NonNullable<RedisBrokerOptions['log']>;
  private heartbeat: NodeJS.Timeout | undefined;
  private up = false;
  private closed = false;

  constructor(private readonly o: RedisBrokerOptions) {
    const d = REDIS_DEFAULTS;
    this.prefix = o.prefix ?? d.prefix;
    this.keyTtl = Math.max(o.keyTtl ?? d.keyTtl, o.historyTtl);
    this.nodeTtl = 3 * (o.nodeHeartbeat ?? d.nodeHeartbeat);
    this.log = o.log ?? (() => {});
    const common = {
      lazyConnect: false,
      // Never give up reconnecting; back off to 2 s.
      retryStrategy: (times: number) => Math.min(times * 100, 2000),
      maxRetriesPerRequest: 1,
    };
    // No resending of commands in flight when the connection dropped: Redis may have run a
    // publication whose reply was lost, and ioredis would run it a second time (a duplicate at
    // a new offset, for one publish() call). Rejected instead (ERR_UNAVAILABLE): the caller decides.
    this.cmd = new Redis(o.url, { ...common, enableOfflineQueue: false, autoResendUnfulfilledCommands: false, commandTimeout: d.commandTimeout,
      connectionName: `wss-mp:${this.nodeId}` }) as Scripts;
    this.cmd.defineCommand('wssPublish', { numberOfKeys: 2, lua: PUBLISH_LUA });
    this.cmd.defineCommand('wssHistory', { numberOfKeys: 2, lua: HISTORY_LUA });
    this.cmd.defineCommand('wssCount', { numberOfKeys: 1, lua: COUNT_LUA });
    // The subscriber queues its SUBSCRIBEs while disconnected and replays them (autoResubscribe).
    this.sub = new Redis(o.url, { ...common, enableOfflineQueue: true, autoResubscribe: true, connectionName: `wss-mp-sub:${this.nodeId}` });
    this.sub.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    this.cmd.on('ready', () => this.connected());
    this.cmd.on('close', () => this.lost());
    // ioredis emits 'error' on every failed attempt; the state change is logged once in lost().
    this.cmd.on('error', () => {});
    this.sub.on('error', () => {});
    this.sub.on('ready', () => {
      // Reconnected: the PING answers after the resubscriptions ioredis sends on 'ready', so by
      // then pub/sub is live again, and what was published meanwhile is read from the streams.
      setImmediate(() => this.sub.ping().then(() => this.up && this.resync(), () => {}));
    });
    this.heartbeat = setInterval(() => this.beat(), o.nodeHeartbeat ?? d.nodeHeartbeat);
    this.heartbeat.unref();
  }

  /** True while the command connection to Redis is up. */
  get available(): boolean {
    return this.up;
  }

  /** HealthReporter (ops/health.ts): /readyz is 503 while Redis is unreachable, since
   * publications are refused then and recovery cannot read history. */
  healthy(): boolean {
    return this.up;
  }

  onPublication(listener: (stream: string, pub: Publication) => void): void {
    this.listener = listener;
  }

  private meta(stream: string): string {
    return `${this.prefix}{${stream}}:m`;
  }

  private streamKey(stream: string): string {
    return `${this.prefix}{${stream}}:s`;
  }

  private channel(stream: string): string {
    return `${this.prefix}p:${stream}`;
  }

  async publish(stream: string, data: unknown): Promise<Publication> {
    if (!this.up) throw unavailable('publish');
    let r: [number, string, string];
    try {
      r = await this.cmd.wssPublish(this.meta(stream), this.streamKey(stream), newEpoch(), JSON.stringify(frameChannel(stream)),
        data === undefined ? 'null' : JSON.stringify(data), this.o.historySize, this.o.historyTtl, this.channel(stream), this.keyTtl,
        Date.now() + REDIS_DEFAULTS.publishDeadline);
    } catch (err) {
      throw unavailable('publish', err);
    }
    const pub: Publication = { offset: Number(r[0]), epoch: r[1], frame: textBuffer(r[2]) };
    // Local subscribers before this settles (the Broker contract); the pub/sub echo is a duplicate.
    const t = this.tracked.get(stream);
    if (t !== undefined) this.accept(stream, t, pub);
    return pub;
  }

  async history(stream: string, since: StreamPosition | undefined): Promise<HistoryResult> {
    if (!this.up) throw unavailable('history');
    const t = this.tracked.get(stream);
    // Read after the subscription is live, so nothing falls between the history and live delivery.
    if (t !== undefined) await within(t.ready, REDIS_DEFAULTS.subscribeTimeout, 'subscribe');
    const h = await this.read(stream, since);
    if (t !== undefined && this.tracked.get(stream) === t && t.epoch === undefined) {
      t.epoch = h.top.epoch;
      t.last = h.top.offset;
    }
    return h;
  }

  private async read(stream: string, since: StreamPosition | undefined): Promise<HistoryResult> {
    let r: [number, string, number, ...string[]];
    try {
      r = await this.cmd.wssHistory(this.meta(stream), this.streamKey(stream), since?.epoch ?? '', since?.offset ?? 0,
        this.o.historyTtl, newEpoch(), this.keyTtl);
    } catch (err) {
      throw unavailable('history', err);
    }
    const top = { offset: Number(r[0]), epoch: r[1] };
    if (Number(r[2]) !== 1) return { top, recovered: false, publications: EMPTY };
    if (r.length === 3) return { top, recovered: true, publications: EMPTY };
    const publications: Publication[] = [];
    for (let i = 3; i < r.length; i++) publications.push({ offset: since!.offset + i - 2, epoch: top.epoch, frame: textBuffer(r[i] as string) });
    return { top, recovered: true, publications };
  }

  subscribe(stream: string): void {
    const t: Tracked = { ready: Promise.resolve(), epoch: undefined, last: 0, queue: null, filling: false, refill: false };
    t.ready = this.sub.subscribe(this.channel(stream)).then(() => {});
    t.ready.catch(() => {}); // awaited (and reported) by history(); resubscribed on reconnect
    this.tracked.set(stream, t);
  }

  unsubscribe(stream: string): void {
    this.tracked.delete(stream);
    this.sub.unsubscribe(this.channel(stream)).catch(() => {});
  }

  private onMessage(channel: string, message: string): void {
    const stream = channel.slice(this.prefix.length + 2);
    const t = this.tracked.get(stream);
    if (t === undefined) return;
    const a = message.indexOf(':');
    const b = message.indexOf(':', a + 1);
    if (a < 0 || b < 0) return;
    this.accept(stream, t, { offset: Number(message.slice(0, a)), epoch: message.slice(a + 1, b), frame: textBuffer(message.slice(b + 1)) });
  }

  /** In order, once each: duplicates dropped, a gap filled from the stream first. */
  private accept(stream: string, t: Tracked, pub: Publication): void {
    if (t.queue !== null) return void t.queue.push(pub);
    if (t.epoch === undefined || pub.epoch !== t.epoch) {
      // First publication seen here, or a new epoch (Redis lost the stream): the clients see
      // the epoch change themselves and resubscribe, which answers them recovered: false.
      t.epoch = pub.epoch;
      t.last = pub.offset;
      return this.listener(stream, pub);
    }
    if (pub.offset <= t.last) return;
    if (pub.offset === t.last + 1) {
      t.last = pub.offset;
      return this.listener(stream, pub);
    }
    t.queue = [pub];
    void this.fill(stream, t);
  }

  /** Delivers what this node missed after t.last, then whatever queued meanwhile. */
  private async fill(stream: string, t: Tracked): Promise<void> {
    t.queue ??= [];
    if (t.filling) return void (t.refill = true);
    t.filling = true;
    let h: HistoryResult;
    try {
      h = await this.read(stream, { epoch: t.epoch!, offset: t.last });
    } catch {
      t.filling = false;
      // Still queued, and tried again later: a Redis that froze (SIGSTOP, a stalled disk) keeps
      // its connections, so no reconnect will call resync(), and until a fill succeeds every
      // publication for this stream waits in the queue.
      if (!this.closed && this.tracked.get(stream) === t) {
        setTimeout(() => this.tracked.get(stream) === t && t.queue !== null && void this.fill(stream, t), REDIS_DEFAULTS.fillRetry).unref();
      }
      return;
    }
    t.filling = false;
    if (this.tracked.get(stream) !== t) return;
    const from = t.last;
    if (h.recovered) {
      for (const p of h.publications) {
        if (p.offset <= t.last) continue;
        t.last = p.offset;
        this.listener(stream, p);
      }
    } else {
      // Trimmed away or another epoch: the clients' own position check turns it into a visible
      // resubscription (recovered: false), never a silent gap.
      this.log('warn', 'redis', { stream, msg: 'a gap could not be filled from the history (trimmed or epoch changed)', from, top: h.top.offset });
      t.epoch = undefined;
    }
    if (h.recovered && t.last > from) this.log('info', 'redis', { stream, msg: 'gap filled from the stream', from, to: t.last });
    const queued = t.queue ?? [];
    t.queue = null;
    for (const p of queued) this.accept(stream, t, p);
    if (t.refill) {
      t.refill = false;
      if (t.epoch !== undefined) void this.fill(stream, t);
    }
  }

  private resync(): void {
    for (const [stream, t] of this.tracked) if (t.epoch !== undefined) void this.fill(stream, t);
  }

  private connected(): void {
    if (this.closed) return;
    this.up = true;
    this.log('info', 'redis', { msg: 'connected', node: this.nodeId });
    this.beat(true);
    this.resync();
  }

  private lost(): void {
    if (!this.up) return;
    this.up = false;
    if (!this.closed) this.log('error', 'redis', { msg: 'connection lost: publications refused (ERR_UNAVAILABLE) until Redis is back; local traffic continues' });
  }

  // ---- presence across nodes ------------------------------------------------------------

  private nodeKey(node: string): string {
    return `${this.prefix}node:${node}`;
  }

  /** A connection of `user` (null: anonymous) opened (+1) or closed (-1) on this node. */
  connection(user: string | null, delta: 1 | -1): void {
    this.bump(CONNS, delta);
    if (user !== null) this.bump(`u:${user}`, delta);
  }

  private bump(field: string, delta: number): void {
    const n = (this.counts.get(field) ?? 0) + delta;
    if (n <= 0) this.counts.delete(field);
    else this.counts.set(field, n);
    // Not up: the full rewrite after the reconnect carries it.
    if (this.up) this.cmd.wssCount(this.nodeKey(this.nodeId), field, delta).catch(() => {});
  }

  /** Refreshes this node's entry (and rewrites it whole after a reconnect). */
  private beat(rewrite = false): void {
    if (!this.up || this.closed) return;
    const key = this.nodeKey(this.nodeId);
    const m = this.cmd.multi();
    if (rewrite) {
      m.del(key);
      if (this.counts.size > 0) m.hset(key, Object.fromEntries(this.counts));
    }
    m.pexpire(key, this.nodeTtl).zadd(`${this.prefix}nodes`, Date.now() + this.nodeTtl, this.nodeId);
    m.exec().catch(() => {});
  }

  /** Users and connections on every live node. */
  async presence(): Promise<Presence> {
    if (!this.up) throw unavailable('presence');
    try {
      const nodesKey = `${this.prefix}nodes`;
      await this.cmd.zremrangebyscore(nodesKey, '-inf', Date.now());
      const nodes = await this.cmd.zrange(nodesKey, 0, -1);
      const p = this.cmd.pipeline();
      for (const n of nodes) p.hgetall(this.nodeKey(n));
      const users = new Set<string>();
      let connections = 0;
      for (const [, h] of (await p.exec()) ?? []) {
        for (const [k, v] of Object.entries((h ?? {}) as Record<string, string>)) {
          if (k === CONNS) connections += Number(v);
          else if (k.startsWith('u:')) users.add(k.slice(2));
        }
      }
      return { users: [...users], connections };
    } catch (err) {
      throw unavailable('presence', err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    if (this.up) {
      await this.cmd.multi().del(this.nodeKey(this.nodeId)).zrem(`${this.prefix}nodes`, this.nodeId).exec().catch(() => {});
    }
    this.up = false;
    this.cmd.disconnect();
    this.sub.disconnect();
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(what)), ms);
    }),
  ]);
}
