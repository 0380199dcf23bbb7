/**
 * Options of the messaging protocol (`messaging: true | {…}` in createServer). Every default
 * lives in MESSAGING_DEFAULTS, which a test compares with the README's messaging table.
 */
import { OptionError } from '../../common/errors';
import type { Connection } from '../connection';
import type { Broker } from './broker';

export const MESSAGING_DEFAULTS = Object.freeze({
  /** Publications kept per stream (channel or user), for recovery. */
  historySize: 1000,
  /** Publications older than this (ms) are dropped from the history. */
  historyTtl: 600_000,
  /**
   * How long a request id is remembered as done (ms): a resend within it is answered, not
   * reprocessed. At least this long; up to twice (answers are forgotten a generation at a time).
   */
  dedupWindow: 600_000,
  /** The newest this many done request ids are always remembered; up to twice as many are held. */
  dedupMaxEntries: 100_000,
  /** A request (or canSubscribe) not settled within this (ms) is answered TIMEOUT. */
  requestTimeout: 10_000,
  /** Subscriptions per connection. */
  maxSubscriptions: 128,
});

/**
 * Defaults of `messaging.redis` when given as an object (a test compares them with the README's
 * redis table). Presence: every node refreshes its liveness in Redis every `heartbeat`; a node
 * silent for `presenceTtl` (SIGKILLed, partitioned, frozen) no longer counts anywhere.
 */
export const REDIS_DEFAULTS = Object.freeze({
  /** Prefix of every key and pub/sub channel (several deployments can share one Redis). */
  prefix: 'wss-mp:',
  /** ms between a node's presence heartbeats. */
  heartbeat: 5_000,
  /** ms after its last heartbeat that a node's connections and subscribers stop counting. */
  presenceTtl: 15_000,
});

export interface MessagingOptions<T = Record<string, unknown>> {
  /** @default 1000 */
  historySize?: number;
  /** @default 600000 */
  historyTtl?: number;
  /** @default 600000 */
  dedupWindow?: number;
  /** @default 100000 */
  dedupMaxEntries?: number;
  /** @default 10000 */
  requestTimeout?: number;
  /** @default 128 */
  maxSubscriptions?: number;
  /** A `req` from a client: resolve with the reply data (any JSON). Default: echo `data`.
   * `request.id` is the client's idempotency key: key your effect by it (e.g. a unique column)
   * to stay exactly-once across a server crash, which the in-process deduplication cannot see. */
  onRequest?(conn: Connection<T>, data: unknown, request: { id: string }): unknown;
  /** May this connection subscribe to `channel`? Default: yes, for every channel not starting with `$`. */
  canSubscribe?(conn: Connection<T>, channel: string): boolean | Promise<boolean>;
  /** Where streams live. Default: in this process's memory (history lost on restart: new epochs). */
  broker?: Broker;
  /**
   * Share streams, fan-out and presence with every node on this Redis (redis://… or rediss://…),
   * or `{ url, prefix }`. Ignored when `broker` is given.
   */
  redis?: string | RedisOptions;
}

export interface RedisOptions {
  url: string;
  /** Prefix of every key and channel. @default "wss-mp:" */
  prefix?: string;
  /** ms between presence heartbeats. @default 5000 */
  heartbeat?: number;
  /** ms after which a silent node's presence entries stop counting; at least 2 × heartbeat. @default 15000 */
  presenceTtl?: number;
}

export type ResolvedRedis = Required<RedisOptions>;

export interface ResolvedMessaging<T> {
  historySize: number;
  historyTtl: number;
  dedupWindow: number;
  dedupMaxEntries: number;
  requestTimeout: number;
  maxSubscriptions: number;
  onRequest: ((conn: Connection<T>, data: unknown, request: { id: string }) => unknown) | undefined;
  canSubscribe: ((conn: Connection<T>, channel: string) => boolean | Promise<boolean>) | undefined;
  broker: Broker | undefined;
  redis: ResolvedRedis | undefined;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function int(name: string, v: unknown, min: number, max: number, accepted: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new OptionError(`messaging.${name}`, accepted, v);
  return v;
}

/** undefined/false: messaging off. Throws OptionError naming the option. */
export function resolveMessaging<T>(m: boolean | MessagingOptions<T> | undefined): ResolvedMessaging<T> | undefined {
  if (m === undefined || m === false) return undefined;
  if (m !== true && (m === null || typeof m !== 'object')) throw new OptionError('messaging', 'true, false or an options object', m);
  const o: MessagingOptions<T> = m === true ? {} : m;
  const d = MESSAGING_DEFAULTS;
  for (const hook of ['onRequest', 'canSubscribe'] as const) {
    if (o[hook] !== undefined && typeof o[hook] !== 'function') throw new OptionError(`messaging.${hook}`, 'a function', o[hook]);
  }
  const b = o.broker;
  if (b !== undefined && (typeof b !== 'object' || b === null || typeof b.publish !== 'function' || typeof b.history !== 'function')) {
    throw new OptionError('messaging.broker', 'a Broker (publish, history, subscribe, unsubscribe, onPublication)', b);
  }
  return {
    historySize: int('historySize', o.historySize ?? d.historySize, 0, 10_000_000, 'an integer 0–10000000'),
    historyTtl: int('historyTtl', o.historyTtl ?? d.historyTtl, 1, MAX_TIMER_MS, 'milliseconds, at least 1'),
    dedupWindow: int('dedupWindow', o.dedupWindow ?? d.dedupWindow, 0, MAX_TIMER_MS, 'milliseconds, 0 or more'),
    dedupMaxEntries: int('dedupMaxEntries', o.dedupMaxEntries ?? d.dedupMaxEntries, 1, 100_000_000, 'an integer, at least 1'),
    requestTimeout: int('requestTimeout', o.requestTimeout ?? d.requestTimeout, 1, MAX_TIMER_MS, 'milliseconds, at least 1'),
    maxSubscriptions: int('maxSubscriptions', o.maxSubscriptions ?? d.maxSubscriptions, 1, 1_000_000, 'an integer, at least 1'),
    onRequest: o.onRequest,
    canSubscribe: o.canSubscribe,
    broker: b,
    redis: resolveRedis(o.redis),
  };
}

function resolveRedis(r: unknown): ResolvedRedis | undefined {
  if (r === undefined) return undefined;
  const accepted = 'a redis:// or rediss:// URL, or { url, prefix?, heartbeat?, presenceTtl? }';
  const o = typeof r === 'string' ? { url: r } : r;
  if (o === null || typeof o !== 'object') throw new OptionError('messaging.redis', accepted, r);
  const d = REDIS_DEFAULTS;
  const { url, prefix = d.prefix, heartbeat = d.heartbeat, presenceTtl = d.presenceTtl } = o as RedisOptions;
  if (typeof url !== 'string' || !/^rediss?:\/\/./.test(url)) throw new OptionError('messaging.redis', accepted, r);
  if (typeof prefix !== 'string' || prefix === '') throw new OptionError('messaging.redis.prefix', 'a non-empty string', prefix);
  // Below 100 ms the heartbeats alone would keep Redis busy; a TTL under two heartbeats would
  // declare a node dead after one late beat (a GC pause, a loaded machine).
  int('redis.heartbeat', heartbeat, 100, MAX_TIMER_MS, 'milliseconds, at least 100');
  int('redis.presenceTtl', presenceTtl, 2 * heartbeat, MAX_TIMER_MS, `milliseconds, at least 2 × heartbeat (${2 * heartbeat})`);
  return { url, prefix, heartbeat, presenceTtl };
}
