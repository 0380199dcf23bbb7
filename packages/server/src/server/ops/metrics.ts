/**
 * The Prometheus view of Stats, built only when the admin listener is on. Every metric reads
 * the server's plain counters in a collect callback at scrape time: nothing is looked up or
 * allocated per message or per connection. Label sets are fixed (stats.ts), so a scrape's size
 * does not grow with clients, channels or users.
 *
 * prom-client is loaded on demand (createMetrics is async): a server without `admin` never
 * loads it.
 */
import type { Registry } from 'prom-client';
import { CLOSE_CODE_LABELS, HANDSHAKE_FAILURES, type Stats } from './stats';

/** What the metrics read besides Stats: gauges of the live state. */
export interface MetricsSources {
  stats: Stats;
  connections(): number;
  users(): number;
  channels(): number;
  ready(): boolean;
}

/** Every metric name this module exports (the Grafana dashboard test checks its queries against a real scrape). */
export const METRIC_PREFIX = 'wss_mp_';

/**
 * One metric as prom-client's getMetricsAsJSON() gives it (what a worker sends to the primary;
 * `type` is the text name, "counter", "gauge", "histogram"; `aggregator` how the cluster adds it up).
 */
export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[];
}

/** What /metrics serves: this server's metrics, then the process's. */
export interface Metrics {
  contentType: string;
  metrics(): Promise<string>;
  /** The same as JSON, for the --workers primary to add up (cluster-admin.ts). */
  json(): Promise<MetricJson[]>;
}

/**
 * Process metrics and nodejs_eventloop_lag_* (perf_hooks.monitorEventLoopDelay): once per
 * process, since they describe the process, and prom-client starts an event-loop monitor and
 * a GC observer for them that it never stops. Every server's /metrics appends them.
 */
let processRegistry: Promise<Registry> | undefined;
export function processMetrics(): Promise<Registry> {
  processRegistry ??= import('prom-client').then((prom) => {
    const register = new prom.Registry();
    prom.collectDefaultMetrics({ register });
    return register;
  });
  return processRegistry;
}

export async function createMetrics(src: MetricsSources): Promise<Metrics> {
  const prom = await import('prom-client');
  const register = new prom.Registry();
  const proc = await processMetrics();
  const s = src.stats;
  const gauge = (name: string, help: string, read: () => number) =>
    new prom.Gauge({ name: METRIC_PREFIX + name, help, registers: [register], collect() { this.set(read()); } });
  // Counters mirror a plain field: set to its value at scrape time (reset, then inc by it).
  const counter = (name: string, help: string, read: () => number) =>
    new prom.Counter({ name: METRIC_PREFIX + name, help, registers: [register], collect() { this.reset(); this.inc(read()); } });
  const labelled = <L extends string>(name: string, help: string, label: L, values: readonly string[], read: (i: number) => number) =>
    new prom.Counter({
      name: METRIC_PREFIX + name,
      help,
      labelNames: [label],
      registers: [register],
      collect() {
        this.reset();
        for (let i = 0; i < values.length; i++) this.labels(values[i]!).inc(read(i));
      },
    });

  gauge('connections', 'Open WebSocket connections', src.connections);
  gauge('users', 'Distinct authenticated users connected', src.users);
  gauge('channels', 'Streams (channels and personal streams) with local subscribers', src.channels);
  gauge('ready', '1 while /readyz answers 200', () => (src.ready() ? 1 : 0));
  counter('messages_received_total', 'Messages received from clients (heartbeat frames included)', () => s.messagesIn);
  counter('messages_sent_total', 'Messages sent to clients', () => s.messagesOut);
  counter('received_bytes_total', 'Payload bytes received from clients', () => s.bytesIn);
  counter('sent_bytes_total', 'Payload bytes sent to clients', () => s.bytesOut);
  counter('handshakes_total', 'WebSocket handshakes completed (connections opened)', () => s.handshakes);
  labelled('handshake_failures_total', 'Handshakes refused or failed, by reason', 'reason', HANDSHAKE_FAILURES, (i) => s.failures[i]!);
  const codes = [...CLOSE_CODE_LABELS.map(String), 'other'];
  labelled('disconnects_total', 'Connections closed, by the close code sent or received ("other" for codes not listed)', 'code',
    codes, (i) => s.closes[i]!);
  const recoveries = [() => s.recovered, () => s.notRecovered, () => s.recoveryFailed];
  labelled('recoveries_total', 'Subscriptions with a position: recovered from history, not recovered (gap), or failed (broker error)',
    'result', ['recovered', 'not_recovered', 'failed'], (i) => recoveries[i]!());
  counter('slow_consumer_cuts_total', 'Connections cut for exceeding maxBufferedAmount', () => s.slowConsumerCuts);
  const hits = [() => s.rateLimitConnection, () => s.rateLimitUser, () => s.rateLimitHandshake];
  labelled('rate_limit_hits_total', 'Messages (refused: answered RATE_LIMITED with retryAfter) or handshakes (429) over a rate limit, by bucket', 'scope', ['connection', 'user', 'handshake'],
    (i) => hits[i]!());
  counter('rate_limit_closes_total', 'Connections closed with 4029: kept sending without waiting for retryAfter', () => s.rateLimitCloses);
  // A broker (Redis) logs its failures with `where: "broker…"`: counted from those lines.
  counter('broker_errors_total', 'Errors from or about the broker (history reads, publishes, connection)', () => s.brokerErrors);
  return {
    contentType: register.contentType,
    metrics: async () => (await register.metrics()) + (await proc.metrics()),
    json: async () => [...(await register.getMetricsAsJSON()), ...(await proc.getMetricsAsJSON())] as unknown as MetricJson[],
  };
}
