/**
 * The admin listener of a `--workers N` node, in the primary. One listener per node, in the
 * process that does not serve clients: it stays up while workers die and are replaced, its
 * event loop is not the one under client load, and it is the one that knows which workers
 * exist. Every answer is made of the workers' own (worker-ops.ts, over IPC):
 *
 * - /metrics: each worker's prom-client JSON, added up by prom-client's
 *   AggregatorRegistry.aggregate (sum; event-loop lag: the worst process), with the primary's
 *   own gauges first (readiness, per-worker gauges). Not AggregatorRegistry.clusterMetrics():
 *   it fails the whole scrape when one worker does not answer within 5 s, and it forgets the
 *   counts of a worker that died, so node counters would go down and Prometheus would read a
 *   counter reset. Here a worker that does not answer in time counts with its last report's
 *   counters, and a dead worker's last counters are kept (`retired`): counters never go down.
 * - /readyz: ready only while every one of the N workers answers ready (listening, not
 *   draining, certificate, broker) and the node is not stopping.
 * - the API: publish and send through one worker (the broker takes it to every worker);
 *   disconnect, presence, broadcast and stats on every worker, combined.
 */
import type { Presence } from '../messaging/presence';
import { ApiError, type AdminTarget, type DisconnectTarget, type Readiness } from './admin';
import { CHECK_TIMEOUT_MS } from './health';
import { METRIC_PREFIX, processMetrics, type MetricJson } from './metrics';
import { Stats } from './stats';
import type { StatsBody, WorkerReport } from './wire';
import type { OpsCall, OpsMessage } from './worker-ops';

/** A worker as the primary sees it (node:cluster's Worker fits). */
export interface OpsWorker {
  send(m: OpsMessage): unknown;
  readonly process: { readonly pid?: number };
}

/** How long an API call waits for a worker (publish may wait on Redis). */
export const API_CALL_TIMEOUT_MS = 10_000;

/** Node-wide counts the relay knows exactly (without Redis); else the workers' sum. */
export interface ExactCounts {
  readonly userCount: number;
  readonly streamCount: number;
}

interface Entry {
  w: OpsWorker;
  number: number;
  /** Answers calls (its server is built); until then it counts as not ready. */
  up: boolean;
  last: WorkerReport | undefined;
}

interface Pending {
  w: OpsWorker;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

type Counters = Record<string, unknown>;

/** The gauges the primary adds (made once, on the first scrape). */
interface Own {
  ready: import('prom-client').Gauge;
  users: import('prom-client').Gauge | undefined;
  channels: import('prom-client').Gauge | undefined;
  up: import('prom-client').Gauge<'worker'>;
  connections: import('prom-client').Gauge<'worker'>;
  lag: import('prom-client').Gauge<'worker'>;
  restarts: import('prom-client').Counter;
  json(): Promise<MetricJson[]>;
  aggregate(arrays: MetricJson[][]): import('prom-client').Registry;
}

export class ClusterAdmin implements AdminTarget {
  /** Set by the primary on SIGTERM: /readyz answers 503 from then on. */
  draining = false;
  /** Set by the primary when it holds the relay (no Redis). */
  exact: ExactCounts | undefined;
  private restarts = 0;
  private readonly entries = new Map<OpsWorker, Entry>();
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private turn = 0;
  private retiredProm: MetricJson[] | undefined;
  private retiredStats: Counters | undefined;
  private own: Promise<Own> | undefined;

  constructor(private readonly workers: number) {}

  /** A worker forked as number `n` (1…N; a replacement takes the number of the one it replaces). */
  add(w: OpsWorker, n: number): void {
    this.entries.set(w, { w, number: n, up: false, last: undefined });
  }

  /** A worker exited: its calls fail now, and its counters are kept. */
  remove(w: OpsWorker): void {
    const e = this.entries.get(w);
    if (e === undefined) return;
    this.entries.delete(w);
    for (const [id, p] of this.pending) {
      if (p.w !== w) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new ApiError(503, 'UNAVAILABLE', `worker ${e.number} exited during the call`));
    }
    if (e.last) this.retire(e.last);
  }

  /** A dead worker was replaced (wss_mp_worker_restarts_total). */
  replaced(): void {
    this.restarts++;
  }

  /** A message from worker `w`; false when it is not one of ours. */
  handle(w: OpsWorker, m: unknown): boolean {
    if (m === null || typeof m !== 'object') return false;
    const msg = m as OpsMessage;
    if (msg.wssmp === 'ops-up') {
      const e = this.entries.get(w);
      if (e) e.up = true;
      return true;
    }
    if (msg.wssmp !== 'ops-reply') return false;
    const p = this.pending.get(msg.id);
    if (p === undefined || p.w !== w) return true;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new ApiError(msg.error.status, msg.error.code, msg.error.message));
    return true;
  }

  private ask<R>(e: Entry, call: OpsCall, ms: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const id = ++this.seq;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ApiError(503, 'UNAVAILABLE', `worker ${e.number} did not answer within ${ms} ms`));
      }, ms);
      timer.unref();
      this.pending.set(id, { w: e.w, resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        e.w.send({ wssmp: 'ops', id, ...call });
      } catch {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(new ApiError(503, 'UNAVAILABLE', `worker ${e.number} is exiting`));
      }
    });
  }

  private live(): Entry[] {
    return [...this.entries.values()].filter((e) => e.up);
  }

  /** One worker, in turn, for calls that any worker can make for the node. */
  private pick(): Entry {
    const live = this.live();
    if (live.length === 0) throw noWorker();
    return live[this.turn++ % live.length]!;
  }

  /** The call on every worker; fails when one fails (a 4xx first: every worker has the same options). */
  private async all<R>(call: OpsCall): Promise<R[]> {
    const live = this.live();
    if (live.length === 0) throw noWorker();
    const settled = await Promise.allSettled(live.map((e) => this.ask<R>(e, call, API_CALL_TIMEOUT_MS)));
    const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as Error);
    if (failed.length > 0) throw failed.find((e) => e instanceof ApiError && e.status < 500) ?? failed[0];
    return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
  }

  /** Every worker's report, each bounded by CHECK_TIMEOUT_MS: those that answered, by entry. */
  private async collect(): Promise<Map<Entry, WorkerReport>> {
    const fresh = new Map<Entry, WorkerReport>();
    await Promise.all(this.live().map(async (e) => {
      try {
        const r = await this.ask<WorkerReport>(e, { op: 'report' }, CHECK_TIMEOUT_MS);
        e.last = r;
        fresh.set(e, r);
      } catch {
        /* counted with its last report's counters; wss_mp_worker_up 0 */
      }
    }));
    return fresh;
  }

  private retire(r: WorkerReport): void {
    const prom = countersOnly(r.prom);
    this.retiredProm = this.retiredProm === undefined ? prom : sumCounters([this.retiredProm, prom]);
    const stats = statsCounters(r.stats);
    this.retiredStats = this.retiredStats === undefined ? stats : addInto(addInto({}, this.retiredStats), stats);
  }

  async metrics(): Promise<{ contentType: string; text: string }> {
    const own = await this.ownMetrics();
    const fresh = await this.collect();
    own.ready.set(!this.draining && this.allReady(fresh) ? 1 : 0);
    if (this.exact) {
      own.users?.set(this.exact.userCount);
      own.channels?.set(this.exact.streamCount);
    }
    own.up.reset();
    own.connections.reset();
    own.lag.reset();
    for (let n = 1; n <= this.workers; n++) {
      const r = this.reportOf(n, fresh);
      own.up.labels(String(n)).set(r ? 1 : 0);
      if (r === undefined) continue;
      own.connections.labels(String(n)).set(r.stats.connections);
      const lag = gaugeValue(r.prom, 'nodejs_eventloop_lag_p99_seconds');
      // NaN crosses IPC as null (JSON), which Gauge.set() would throw on.
      if (typeof lag === 'number' && Number.isFinite(lag)) own.lag.labels(String(n)).set(lag);
    }
    own.restarts.reset();
    own.restarts.inc(this.restarts);
    // The primary's metrics first: the aggregator of a name is its first occurrence's, so
    // its "first" gauges (ready, exact users and channels) are taken as they are.
    const arrays: MetricJson[][] = [await own.json()];
    for (const e of this.entries.values()) {
      const r = fresh.get(e);
      if (r) arrays.push(r.prom);
      else if (e.last) arrays.push(countersOnly(e.last.prom));
    }
    if (this.retiredProm) arrays.push(this.retiredProm);
    for (const a of arrays) for (const m of a) m.aggregator = aggregatorFor(m);
    const reg = own.aggregate(arrays);
    return { contentType: reg.contentType, text: await reg.metrics() };
  }

  private reportOf(n: number, fresh: Map<Entry, WorkerReport>): WorkerReport | undefined {
    for (const [e, r] of fresh) if (e.number === n) return r;
    return undefined;
  }

  /** Every worker number has a worker that reported itself ready (the synchronous checks). */
  private allReady(fresh: Map<Entry, WorkerReport>): boolean {
    for (let n = 1; n <= this.workers; n++) {
      const r = this.reportOf(n, fresh);
      if (r === undefined || gaugeValue(r.prom, `${METRIC_PREFIX}ready`) !== 1) return false;
    }
    return true;
  }

  private ownMetrics(): Promise<Own> {
    this.own ??= (async () => {
      const prom = await import('prom-client');
      const register = new prom.Registry();
      const proc = await processMetrics();
      const gauge = <L extends string>(name: string, help: string, labelNames: L[], aggregator: 'first' | 'sum' = 'sum') =>
        new prom.Gauge<L>({ name: METRIC_PREFIX + name, help, labelNames, registers: [register], aggregator });
      const exact = this.exact !== undefined;
      return {
        ready: gauge('ready', '1 while /readyz answers 200 (every worker ready, not stopping)', [], 'first'),
        users: exact ? gauge('users', 'Distinct authenticated users connected', [], 'first') : undefined,
        channels: exact ? gauge('channels', 'Streams (channels and personal streams) with subscribers on this node', [], 'first') : undefined,
        up: gauge('worker_up', '1 when the worker answered this scrape, 0 when it did not within 2 s (starting, exiting, blocked)', ['worker']),
        connections: gauge('worker_connections', 'Open WebSocket connections of each worker', ['worker']),
        lag: gauge('worker_eventloop_lag_p99_seconds', 'Event-loop delay p99 of each worker', ['worker']),
        restarts: new prom.Counter({ name: `${METRIC_PREFIX}worker_restarts_total`, help: 'Workers that died and were replaced', registers: [register] }),
        json: async () => [...(await register.getMetricsAsJSON()), ...(await proc.getMetricsAsJSON())] as unknown as MetricJson[],
        aggregate: (arrays) => prom.AggregatorRegistry.aggregate(arrays),
      };
    })();
    return this.own;
  }

  async ready(): Promise<Readiness> {
    const entries = [...this.entries.values()];
    const answers = await Promise.all(entries.map((e) =>
      e.up ? this.ask<Readiness>(e, { op: 'ready' }, CHECK_TIMEOUT_MS).catch(() => undefined) : Promise.resolve(undefined)));
    const workers: Record<string, boolean> = {};
    for (let n = 1; n <= this.workers; n++) workers[n] = false;
    // `workers`: every one of the N answered; each other check: it passed on every worker.
    const checks: Record<string, boolean> = { not_draining: !this.draining, workers: false };
    const answered = new Set<number>();
    entries.forEach((e, i) => {
      const a = answers[i];
      if (a === undefined) return;
      answered.add(e.number);
      workers[e.number] = a.ready;
      for (const [k, v] of Object.entries(a.checks)) checks[k] = (checks[k] ?? true) && v;
    });
    checks.workers = answered.size === this.workers;
    return { ready: Object.values(checks).every(Boolean) && Object.values(workers).every(Boolean), checks, workers };
  }

  async stats(): Promise<Record<string, unknown>> {
    const fresh = await this.collect();
    const sum = addInto({}, statsCounters(new Stats().snapshot()));
    let connections = 0;
    let users = 0;
    let channels = 0;
    const workers: Record<string, { pid: number | undefined; up: boolean; connections?: number }> = {};
    for (const e of this.entries.values()) {
      const r = fresh.get(e);
      workers[e.number] = { pid: e.w.process.pid, up: r !== undefined };
      if (r) {
        connections += r.stats.connections;
        users += r.stats.users;
        channels += r.stats.channels;
        workers[e.number]!.connections = r.stats.connections;
        addInto(sum, statsCounters(r.stats));
      } else if (e.last) addInto(sum, statsCounters(e.last.stats));
    }
    if (this.retiredStats) addInto(sum, this.retiredStats);
    if (this.exact) {
      users = this.exact.userCount;
      channels = this.exact.streamCount;
    }
    // Bounded like the reports: stats answer with null for the deployment rather than wait.
    const deployment = await this.ask<Presence>(this.pick(), { op: 'presence', channel: undefined }, CHECK_TIMEOUT_MS)
      .then((p) => ({ connections: p.connections, users: p.users.length }), () => null);
    return { connections, users, channels, ...sum, workers, deployment };
  }

  async publish(channel: string, data: unknown, opts?: { idempotencyKey?: string }): Promise<{ offset: number; epoch: string }> {
    return this.ask(this.pick(), { op: 'publish', channel, data, opts }, API_CALL_TIMEOUT_MS);
  }

  async send(user: string, data: unknown, opts?: { idempotencyKey?: string }): Promise<{ offset: number; epoch: string; connections: number[] }> {
    const r = await this.ask<{ offset: number; epoch: string }>(this.pick(), { op: 'send', user, data, opts }, API_CALL_TIMEOUT_MS);
    // Sent already: the list of the user's connections is best effort (a worker that does not
    // answer is left out), never a reason to answer an error for a message that went out.
    const lists = await Promise.allSettled(this.live().map((e) => this.ask<number[]>(e, { op: 'connections', user }, CHECK_TIMEOUT_MS)));
    const connections = lists.flatMap((l) => (l.status === 'fulfilled' ? l.value : []));
    return { offset: r.offset, epoch: r.epoch, connections };
  }

  async disconnect(target: DisconnectTarget, code: number, reason: string): Promise<number[]> {
    return (await this.all<number[]>({ op: 'disconnect', target, code, reason })).flat();
  }

  /** One worker's answer: a worker's presence() already covers every worker of the node (the
   * primary's relay sums them) and, with Redis, every node; asking all would count them N times. */
  async presence(channel?: string): Promise<Presence> {
    return this.ask(this.pick(), { op: 'presence', channel }, API_CALL_TIMEOUT_MS);
  }

  async broadcast(data: string): Promise<number> {
    return (await this.all<number>({ op: 'broadcast', data })).reduce((a, b) => a + b, 0);
  }
}

function noWorker(): ApiError {
  return new ApiError(503, 'UNAVAILABLE', 'no worker is up (starting or being replaced); retry');
}

/**
 * Event-loop lag: the worst process, not the average (prom-client's default), so one blocked
 * worker shows; the start time: the primary's (the node's), not omitted.
 */
function aggregatorFor(m: MetricJson): string | undefined {
  if (m.name.startsWith('nodejs_eventloop_lag_') && m.name !== 'nodejs_eventloop_lag_min_seconds') return 'max';
  if (m.name === 'process_start_time_seconds') return 'first';
  return m.aggregator;
}

/** Counters and histograms: what only grows, and may be added up after its process is gone. */
function countersOnly(prom: MetricJson[]): MetricJson[] {
  return prom.filter((m) => m.type === 'counter' || m.type === 'histogram');
}

function gaugeValue(prom: MetricJson[], name: string): number | undefined {
  return prom.find((m) => m.name === name)?.values[0]?.value;
}

/** Adds up counter JSON by name, series name and labels (what aggregate() does, synchronously). */
function sumCounters(arrays: MetricJson[][]): MetricJson[] {
  const byName = new Map<string, { m: MetricJson; series: Map<string, MetricJson['values'][number]> }>();
  for (const a of arrays) {
    for (const m of a) {
      let slot = byName.get(m.name);
      if (slot === undefined) byName.set(m.name, (slot = { m: { ...m, values: [] }, series: new Map() }));
      for (const v of m.values) {
        const key = `${v.metricName ?? ''}|${JSON.stringify(Object.entries(v.labels).sort(([x], [y]) => (x < y ? -1 : 1)))}`;
        const s = slot.series.get(key);
        if (s) s.value += v.value;
        else {
          const copy = { ...v };
          slot.series.set(key, copy);
          slot.m.values.push(copy);
        }
      }
    }
  }
  return [...byName.values()].map((s) => s.m);
}

/** The counter fields of a stats body (the gauges connections, users, channels left out). */
function statsCounters(s: StatsBody | ReturnType<Stats['snapshot']>): Counters {
  const { connections: _c, users: _u, channels: _ch, ...rest } = s as StatsBody;
  return rest as unknown as Counters;
}

/** `into` += `add`, field by field, nested objects too. */
function addInto(into: Counters, add: Counters): Counters {
  for (const [k, v] of Object.entries(add)) {
    if (typeof v === 'number') into[k] = ((into[k] as number | undefined) ?? 0) + v;
    else if (v !== null && typeof v === 'object') into[k] = addInto((into[k] as Counters | undefined) ?? {}, v as Counters);
  }
  return into;
}
