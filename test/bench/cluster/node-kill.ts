// Recovery after a node kill: N wss-mp-client/messaging clients subscribed to one channel, split
// over two wss-mp-server processes (CLI, --messaging --redis) that share one real redis-server;
// the application's own process (an in-process server with no clients, as in docs/deployment.md)
// keeps publishing R/s; one node is SIGKILLed. Its clients reconnect to the other node and recover
// from the Redis history. Measured: time from the kill until every client of the killed node is
// back and every client has the latest publication, publications replayed, and, counted over all
// clients, publications lost, delivered twice or announced as a resync.
// Usage: node --import tsx test/bench/cluster/node-kill.ts [clients=2000] [publications/s=20]
// The last line printed is JSON (the figures `pnpm bench` reads); exit 1 if anything was lost.
//
// Moving clients: each client's `url` is a function over the two nodes' URLs (the client calls
// it before every attempt), starting at its home node, then the next one. A balancer (nginx with
// an upstream of both nodes, docs/deployment.md) would be a third process on the shared cores with
// its own failover timing (passive health checks); the e2e test deployment-nodes covers that path.
// Plain ws on loopback; the clients spread over 40 loopback source addresses, so the nodes run
// with their default per-IP caps (as they would for clients from many addresses).
import { createServer, type LogEntry } from 'wss-mp-server';
import { createMessagingClient } from 'wss-mp-client/messaging';
import { webPlatform } from 'wss-mp-client/web';
import WebSocket from 'ws';
import { findBinary } from '../../support/binaries';
import { startRedis } from '../../support/redis';
import { startServer, type RunningServer } from '../../support/server';

const N = Number(process.argv[2] ?? 2000);
const RATE = Number(process.argv[3] ?? 20);
const DEADLINE_MS = 120_000;
// BENCH_CLIENT_OPTIONS (JSON): client options on top, e.g. a faster backoff for the smoke test.
const CLIENT_OPTIONS = JSON.parse(process.env.BENCH_CLIENT_OPTIONS ?? '{}') as object;

const bin = findBinary('redis-server');
if (!bin) throw new Error('missing binary "redis-server" (apt-get install redis-server; .ci/run does)');
const redis = await startRedis(bin);
const nodes: RunningServer[] = [];
// `pnpm bench` ends an overdue script with SIGTERM: take Redis and the nodes along.
process.once('SIGTERM', () => {
  for (const p of [redis.proc, ...nodes.map((s) => s.proc)]) p.kill('SIGKILL');
  process.exit(1);
});
const logs: LogEntry[] = [];
const app = createServer({ port: 0, host: '127.0.0.1', logger: (e) => void logs.push(e), messaging: { redis: redis.url } });

const wait = async (cond: () => boolean, what: string) => {
  const end = Date.now() + DEADLINE_MS;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

interface Client {
  home: number;
  /** Index of the node the last attempt went to. */
  at: number;
  offsets: number[];
  /** Offsets received after the client's second welcome (on the other node). */
  afterMove: number[];
  welcomes: number;
  welcomeAt: number;
  resyncs: number;
  sub: { position: { offset: number } | null };
  destroy(): void;
}
const clients: Client[] = [];
let exitCode = 1;
try {
  const node = async () => {
    const s = await startServer(['--behind-proxy', '--messaging', '--redis', redis.url, '--heartbeat-interval', '0', '--quiet'], { timeout: 30_000 });
    nodes.push(s);
    await s.waitForLog((l) => l.event === 'redis' && l.msg === 'connected', 30_000);
    return s;
  };
  await Promise.all([node(), node()]);
  await app.listen();
  await wait(() => logs.some((l) => l.event === 'redis' && l.msg === 'connected'), 'the publishing process connected to Redis');
  const urls = nodes.map((s) => s.url);

  const published: { offset: number; at: number }[] = [];
  // Source addresses 127.0.0.11–50, one per socket in turn (the loadgen's spread).
  let sockets = 0;
  class SpreadWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { perMessageDeflate: false, localAddress: `127.0.0.${11 + (sockets++ % 40)}` });
    }
  }
  const platform = webPlatform(SpreadWebSocket as never);
  const memory = () => {
    const m = new Map<string, string>();
    return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
  };
  for (let i = 0; i < N; i++) {
    const c: Client = { home: i % 2, at: i % 2, offsets: [], afterMove: [], welcomes: 0, welcomeAt: 0, resyncs: 0, sub: null as never, destroy: () => {} };
    let attempts = 0;
    // Home node first, then the next one in the list on every further attempt (failover).
    const url = () => urls[(c.at = (c.home + attempts++) % urls.length)]!;
    const mc = createMessagingClient({ url, platform, storage: memory(), heartbeatInterval: 0, lifecycle: false, ...CLIENT_OPTIONS });
    c.destroy = () => mc.destroy();
    mc.on('welcome', () => {
      c.welcomes++;
      c.welcomeAt = performance.now();
    });
    mc.on('resync', () => c.resyncs++);
    c.sub = mc.subscribe('feed', { onPublication: (_d, p) => {
        c.offsets.push(p.offset);
        if (c.welcomes >= 2) c.afterMove.push(p.offset);
      } });
    clients.push(c);
  }
  await wait(() => clients.every((c) => c.sub.position !== null), 'every client subscribed');
  console.log(`${N} clients subscribed over 2 nodes + Redis; publishing ${RATE}/s from a third process`);

  let publishing = true;
  let refused = 0;
  const publisher = (async () => {
    while (publishing) {
      try {
        const p = await app.publish('feed', published.length + 1);
        published.push({ offset: p.offset, at: performance.now() });
      } catch {
        refused++; // Redis unavailable: refused, never silently dropped (none expected here)
      }
      await new Promise((r) => setTimeout(r, 1000 / RATE));
    }
  })();
  await wait(() => published.length >= RATE, 'a second of publications');
  await wait(() => clients.every((c) => c.offsets.at(-1) === published.at(-1)!.offset || c.offsets.at(-1) === published.at(-2)?.offset), 'every client live');
  const killAt = performance.now();
  nodes[0]!.proc.kill('SIGKILL');
  const moved = clients.filter((c) => c.home === 0);
  console.log(`SIGKILLed node 0 (pid ${nodes[0]!.proc.pid}, ${moved.length} clients) at offset ${published.at(-1)!.offset}`);
  const caughtUp = (c: Client) => c.offsets.at(-1) === published.at(-1)?.offset;
  await wait(() => moved.every((c) => c.welcomes >= 2) && clients.every(caughtUp), 'every client of the killed node back and caught up');
  const allCaughtUpMs = performance.now() - killAt;
  const lastWelcomeMs = Math.max(...moved.map((c) => c.welcomeAt)) - killAt;
  publishing = false;
  await publisher;
  await wait(() => clients.every((c) => c.offsets.at(-1) === published.at(-1)!.offset), 'the last publications');

  // Replayed: publications a moved client received after its resubscription that were published
  // before it, i.e. delivered from the Redis history, not live.
  const publishedAt = new Map(published.map((p) => [p.offset, p.at]));
  let replayed = 0;
  let lost = 0;
  let twice = 0;
  const first = Math.min(...clients.map((c) => c.offsets[0]!));
  for (const c of clients) {
    for (const o of c.afterMove) if (publishedAt.get(o)! < c.welcomeAt) replayed++;
    const seen = new Set(c.offsets);
    twice += c.offsets.length - seen.size;
    // From the first publication this client saw (it subscribed before publishing began).
    for (let o = c.offsets[0] ?? first; o <= published.at(-1)!.offset; o++) if (!seen.has(o)) lost++;
  }
  const resyncs = clients.reduce((s, c) => s + c.resyncs, 0);
  const onOther = moved.filter((c) => c.at === 1).length;
  const stayed = clients.filter((c) => c.home === 1 && c.welcomes === 1).length;
  console.log(JSON.stringify({ clients: N, rate: RATE, moved: moved.length, movedToOther: onOther, survivorsUntouched: stayed, lastReconnectMs: Math.round(lastWelcomeMs),
    allCaughtUpMs: Math.round(allCaughtUpMs), replayed, lost, twice, resyncs, refused, publications: published.length }));
  exitCode = lost === 0 && twice === 0 && resyncs === 0 && onOther === moved.length ? 0 : 1;
} finally {
  for (const c of clients) c.destroy();
  await app.close().catch(() => {});
  for (const s of nodes) await s.stop('SIGKILL');
  await redis.stop();
}
process.exit(exitCode);
