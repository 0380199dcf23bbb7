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
 * Presence (NodePresence below): each node's connections and channel subscribers per user, in
 * hashes per node generation, counted while the node's heartbeat keeps it in the live set.
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
import { frameChannel, textBuffer, unavailable, type Broker, type HistoryResult, type Publication, type PublishOptions, IDEMPOTENCY_WINDOW_MS } from './broker';
import { BEAT_LUA, COUNT_LUA, HISTORY_LUA, PUBLISH_LUA } from './redis-scripts';
import { PresenceTally, type Presence } from './presence';
import { REDIS_DEFAULTS } from './options';

export const REDIS_LIMITS = Object.freeze({
  /** Stream keys idle this long (ms) expire; positions in them are then answered `recovered: false`. */
  keyTtl: 86_400_000,
  /**
   * Channel presence keys live this long (ms) unless refreshed (a third of it). Liveness is the
   * node heartbeat's (presenceTtl), which stops a dead node's entries counting; this only bounds
   * how long they take space, and keeps refreshing cheap: not one command per channel per beat.
   */
  presenceKeyTtl: 3_600_000,
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
  /** ms between presence heartbeats (REDIS_DEFAULTS.heartbeat). */
  heartbeat?: number;
  /** ms after its last heartbeat that a node stops counting (REDIS_DEFAULTS.presenceTtl). */
  presenceTtl?: number;
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

type Scripts = Redis & {
  wssPublish(meta: string, stream: string, idem: string, ...argv: (string | number)[]): Promise<[number, string, string, number]>;
  wssHistory(meta: string, stream: string, ...argv: (string | number)[]): Promise<[number, string, number, ...string[]]>;
  wssCount(key: string, ...argv: (string | number)[]): Promise<number>;
  wssBeat(nodes: string, node: string, ...argv: (string | number)[]): Promise<number>;
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
  private readonly tracked = new Map<string, Tracked>();
  private listener: (stream: string, pub: Publication) => void = () => {};
  private readonly log: NonNullable<RedisBrokerOptions['log']>;
  private up = false;
  private closed = false;
  private readonly presence_: NodePresence;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly o: RedisBrokerOptions) {
    const d = REDIS_LIMITS;
    this.prefix = o.prefix ?? REDIS_DEFAULTS.prefix;
    this.keyTtl = Math.max(o.keyTtl ?? d.keyTtl, o.historyTtl);
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
    this.cmd.defineCommand('wssPublish', { numberOfKeys: 3, lua: PUBLISH_LUA });
    this.cmd.defineCommand('wssHistory', { numberOfKeys: 2, lua: HISTORY_LUA });
    this.cmd.defineCommand('wssCount', { numberOfKeys: 1, lua: COUNT_LUA });
    this.cmd.defineCommand('wssBeat', { numberOfKeys: 2, lua: BEAT_LUA });
    this.presence_ = new NodePresence(this.cmd, this.nodeId, this.prefix, o.presenceTtl ?? REDIS_DEFAULTS.presenceTtl);
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
    this.heartbeat = setInterval(() => this.up && this.presence_.beat(), o.heartbeat ?? REDIS_DEFAULTS.heartbeat);
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

  async publish(stream: string, data: unknown, opts?: PublishOptions): Promise<Publication> {
    if (!this.up) throw unavailable('publish');
    const key = opts?.idempotencyKey;
    let r: [number, string, string, number];
    try {
      r = await this.cmd.wssPublish(this.meta(stream), this.streamKey(stream), `${this.prefix}{${stream}}:i:${key ?? ''}`, newEpoch(),
        JSON.stringify(frameChannel(stream)), data === undefined ? 'null' : JSON.stringify(data), this.o.historySize, this.o.historyTtl,
        this.channel(stream), this.keyTtl, Date.now() + REDIS_LIMITS.publishDeadline, key === undefined ? 0 : IDEMPOTENCY_WINDOW_MS);
    } catch (err) {
      throw unavailable('publish', err);
    }
    // A retry of a publication Redis made already: delivered then (pub/sub), not again now.
    if (Number(r[3]) === 1) return { offset: Number(r[0]), epoch: r[1], frame: textBuffer(r[2]), repeated: true };
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
    if (t !== undefined) await within(t.ready, REDIS_LIMITS.subscribeTimeout, 'subscribe');
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
        setTimeout(() => this.tracked.get(stream) === t && t.queue !== null && void this.fill(stream, t), REDIS_LIMITS.fillRetry).unref();
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
    // Whatever happened while away (Redis restarted, changes not written), the node's presence
    // is written anew under a new generation that replaces the old one at once.
    this.presence_.rewrite();
    this.resync();
  }

  private lost(): void {
    if (!this.up) return;
    this.up = false;
    if (!this.closed) this.log('error', 'redis', { msg: 'connection lost: publications refused (ERR_UNAVAILABLE) until Redis is back; local traffic continues' });
  }

  // ---- presence across nodes (NodePresence below) -----------------------------------------

  connection(user: string | null, delta: 1 | -1): void {
    this.presence_.change(undefined, user, delta, this.up);
  }

  member(stream: string, user: string | null, delta: 1 | -1): void {
    this.presence_.change(stream, user, delta, this.up);
  }

  /** Users and connections on every live node, overall or subscribed to `channel`. */
  async presence(channel?: string): Promise<Presence> {
    if (!this.up) throw unavailable('presence');
    try {
      return await this.presence_.read(channel);
    } catch (err) {
      throw unavailable('presence', err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    // Drained: gone from presence at once, not after presenceTtl.
    if (this.up) await this.presence_.remove().catch(() => {});
    this.up = false;
    this.cmd.disconnect();
    this.sub.disconnect();
  }
}

const CONNS = '#conns';

/**
 * This node's presence in Redis. Keys (P = prefix, G = this node's current generation):
 *   P nodes              sorted set: G → the ms (Redis clock) after which G no longer counts
 *   P node:G             hash: `#conns` (connections) and `u:<user>` (their connections), ttl presenceTtl
 *   P{channel}:pr:G      the same for the channel's subscribers on this node, ttl presenceKeyTtl
 * A reader takes the live generations from `P nodes` and sums their hashes: a SIGKILLed node
 * stops counting presenceTtl after its last heartbeat, whatever its keys still hold.
 *
 * Changes go to Redis as they happen, from connect, close, subscribe and unsubscribe (never from
 * the message path): summed per key over one event-loop turn, one script call per key, not awaited. When Redis and this node may disagree (a
 * reconnect, a failed write, a heartbeat that finds the node already expired) the node writes
 * its whole state under a new generation and retires the old one in the same heartbeat, so a
 * reader sees one or the other, never a mix; the old keys expire on their own.
 */
class NodePresence {
  private gen: string;
  private seq = 0;
  /** Earlier generations not yet confirmed removed from `P nodes`. */
  private readonly retired = new Set<string>();
  /** Needs a rewrite: a write failed or was skipped while Redis was away. */
  private dirty = true;
  private readonly overall = new Map<string, number>();
  private readonly channels = new Map<string, Map<string, number>>();
  private readonly keyTtl: number;
  private refreshedAt = Date.now();
  /** Changes not yet written: key → its ttl and field → net delta. */
  private readonly pending = new Map<string, { ttl: number; fields: Map<string, number> }>();
  private flushing = false;

  /** One handler for every write's failure (not a closure per write). */
  private readonly failed = (): void => {
    this.dirty = true;
  };

  constructor(private readonly cmd: Scripts, private readonly nodeId: string, private readonly prefix: string, private readonly ttl: number) {
    this.gen = this.next();
    this.keyTtl = Math.max(REDIS_LIMITS.presenceKeyTtl, 4 * ttl);
  }

  private next(): string {
    return `${this.nodeId}:${++this.seq}`;
  }

  private get nodes(): string {
    return `${this.prefix}nodes`;
  }

  private nodeKey(gen: string): string {
    return `${this.prefix}node:${gen}`;
  }

  private channelKey(channel: string, gen: string): string {
    return `${this.prefix}{${channel}}:pr:${gen}`;
  }

  change(channel: string | undefined, user: string | null, delta: 1 | -1, up: boolean): void {
    let counts = this.overall;
    if (channel !== undefined) {
      counts = this.channels.get(channel) ?? new Map();
      this.channels.set(channel, counts);
    }
    const field = user === null ? '' : `u:${user}`;
    bump(counts, CONNS, delta);
    if (field !== '') bump(counts, field, delta);
    if (channel !== undefined && counts.size === 0) this.channels.delete(channel);
    // Not written: the next rewrite carries it.
    if (!up || this.dirty) return void (this.dirty = true);
    const key = channel === undefined ? this.nodeKey(this.gen) : this.channelKey(channel, this.gen);
    let d = this.pending.get(key);
    if (d === undefined) this.pending.set(key, (d = { ttl: channel === undefined ? this.ttl : this.keyTtl, fields: new Map() }));
    bump(d.fields, CONNS, delta, true);
    if (field !== '') bump(d.fields, field, delta, true);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(this.flush);
    }
  }

  /**
   * The changes of one event-loop turn, one script call per key: a reconnect storm of 1,000
   * clients subscribing to one channel is one write to its hash, not 1,000.
   */
  private readonly flush = (): void => {
    this.flushing = false;
    for (const [key, d] of this.pending) {
      const argv: (string | number)[] = [d.ttl, d.fields.get(CONNS) ?? 0];
      for (const [f, n] of d.fields) if (f !== CONNS && n !== 0) argv.push(f, n);
      if (argv[1] !== 0 || argv.length > 2) this.cmd.wssCount(key, ...argv).catch(this.failed);
    }
    this.pending.clear();
  };

  /** Every heartbeat: stay live (or rewrite), and now and then extend the channel keys' ttl. */
  beat(): void {
    if (this.dirty) return this.rewrite();
    const gen = this.gen;
    this.cmd.wssBeat(this.nodes, this.nodeKey(gen), gen, this.ttl).then((live) => {
      // Expired meanwhile (a pause longer than the ttl): readers may have missed changes.
      if (live !== 1 && gen === this.gen) this.rewrite();
    }, this.failed);
    if (Date.now() - this.refreshedAt < this.keyTtl / 3 || this.channels.size === 0) return;
    this.refreshedAt = Date.now();
    const p = this.cmd.pipeline();
    for (const ch of this.channels.keys()) p.pexpire(this.channelKey(ch, gen), this.keyTtl);
    p.exec().catch(this.failed);
  }

  /** Writes the whole state under a new generation, then swaps it for the old ones in one script. */
  rewrite(): void {
    this.dirty = false;
    // Already in the state written below.
    this.pending.clear();
    const old = this.gen;
    this.retired.add(old);
    const gen = (this.gen = this.next());
    const retired = [...this.retired];
    const p = this.cmd.pipeline();
    if (this.overall.size > 0) p.hset(this.nodeKey(gen), this.overall).pexpire(this.nodeKey(gen), this.ttl);
    for (const [ch, counts] of this.channels) p.hset(this.channelKey(ch, gen), counts).pexpire(this.channelKey(ch, gen), this.keyTtl);
    (p as unknown as Scripts).wssBeat(this.nodes, this.nodeKey(gen), gen, this.ttl, ...retired);
    // Only once the swap made them unread; keys of channels left meanwhile expire on their own.
    for (const r of retired) {
      p.del(this.nodeKey(r));
      for (const ch of this.channels.keys()) p.del(this.channelKey(ch, r));
    }
    this.refreshedAt = Date.now();
    p.exec().then((results) => {
      if (results === null || results.some(([err]) => err !== null)) this.dirty = true;
      else for (const r of retired) this.retired.delete(r);
    }, () => (this.dirty = true));
  }

  /** Sums the live generations' hashes: overall, or of one channel. */
  async read(channel: string | undefined): Promise<Presence> {
    const head = await this.cmd.pipeline().time().zrange(this.nodes, 0, -1, 'WITHSCORES').exec();
    if (head === null || head.some(([err]) => err !== null)) throw head?.find(([err]) => err !== null)?.[0] ?? new Error('pipeline discarded');
    const [s, us] = head[0]![1] as [string, string];
    const now = Number(s) * 1000 + Math.floor(Number(us) / 1000);
    const z = head[1]![1] as string[];
    const p = this.cmd.pipeline();
    for (let i = 0; i < z.length; i += 2) {
      if (Number(z[i + 1]) > now) p.hgetall(channel === undefined ? this.nodeKey(z[i]!) : this.channelKey(channel, z[i]!));
    }
    const t = new PresenceTally();
    for (const [err, h] of (await p.exec()) ?? []) {
      if (err !== null) throw err;
      for (const [k, v] of Object.entries(h as Record<string, string>)) {
        if (k === CONNS) t.connections += Number(v);
        else if (k.startsWith('u:')) t.user(k.slice(2), Number(v));
      }
    }
    return t.result();
  }

  /** Leaves at once (a drained node). */
  async remove(): Promise<void> {
    const gens = [this.gen, ...this.retired];
    const m = this.cmd.multi().zrem(this.nodes, ...gens);
    for (const g of gens) {
      m.del(this.nodeKey(g));
      for (const ch of this.channels.keys()) m.del(this.channelKey(ch, g));
    }
    await m.exec();
  }
}

/** Adds `delta` to a count; a count that reaches 0 (below 0 too, unless `signed`) is removed. */
function bump(counts: Map<string, number>, field: string, delta: number, signed = false): void {
  const n = (counts.get(field) ?? 0) + delta;
  if (signed ? n === 0 : n <= 0) counts.delete(field);
  else counts.set(field, n);
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
