// Recovery: N subscribed wss-mp-client/messaging clients are cut at once (the server resets every
// connection, as a network blip or a load balancer does) while the server keeps publishing; how
// long until every client has recovered, how many publications were replayed from history, and
// whether any was lost or delivered twice.
// Usage: node --import tsx test/bench/messaging/recovery.ts [clients=2000] [publications/s=20]
// The last line printed is JSON (the figures `pnpm bench` reads).
// Developer bench: server and clients in one process, plain ws on loopback, the clients' default
// backoff (full jitter in [0, 2 s) for the first retry) — which is what sets the recovery time.
import { createServer, type Connection } from 'wss-mp-server';
import { createMessagingClient } from 'wss-mp-client/messaging';
import { webPlatform } from 'wss-mp-client/web';
import WebSocket from 'ws';

const N = Number(process.argv[2] ?? 2000);
const RATE = Number(process.argv[3] ?? 20);
const DEADLINE_MS = 120_000;
// BENCH_CLIENT_OPTIONS (JSON): client options on top, e.g. a faster backoff for the smoke test.
const CLIENT_OPTIONS = JSON.parse(process.env.BENCH_CLIENT_OPTIONS ?? '{}') as object;

const conns = new Set<Connection<unknown>>();
const server = createServer({
  port: 0,
  messaging: true,
  logger: false,
  heartbeatInterval: 0,
  maxConnections: 0,
  maxConnectionsPerIp: 0,
  onConnect: (c) => void conns.add(c),
  onClose: (c) => void conns.delete(c),
});
const url = await server.listen();
const published: { offset: number; at: number }[] = [];
const publish = async () => {
  const p = await server.publish('feed', published.length + 1);
  published.push({ offset: p.offset, at: performance.now() });
};

interface Client {
  offsets: number[];
  welcomes: number;
  welcomeAt: number;
  resyncs: number;
  sub: { position: { offset: number } | null };
  destroy(): void;
}
const memory = () => {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) };
};
const platform = webPlatform(WebSocket as never);
const clients: Client[] = [];
for (let i = 0; i < N; i++) {
  const mc = createMessagingClient({ url, platform, storage: memory(), heartbeatInterval: 0, lifecycle: false, ...CLIENT_OPTIONS });
  const c: Client = { offsets: [], welcomes: 0, welcomeAt: 0, resyncs: 0, sub: null as never, destroy: () => mc.destroy() };
  mc.on('welcome', () => {
    c.welcomes++;
    c.welcomeAt = performance.now();
  });
  mc.on('resync', () => c.resyncs++);
  c.sub = mc.subscribe('feed', { onPublication: (_d, p) => void c.offsets.push(p.offset) });
  clients.push(c);
}
/** Who is not caught up, for the timeout message: how many, with how many welcomes, how far behind. */
const stragglers = () => {
  const last = published.at(-1)?.offset ?? 0;
  const behind = clients.filter((c) => c.welcomes < 2 || c.offsets.at(-1) !== last);
  const byWelcomes = new Map<number, number>();
  for (const c of behind) byWelcomes.set(c.welcomes, (byWelcomes.get(c.welcomes) ?? 0) + 1);
  const gaps = behind.slice(0, 5).map((c) => last - (c.offsets.at(-1) ?? 0));
  return `${behind.length} of ${N} not caught up (by welcomes: ${JSON.stringify([...byWelcomes])}; first ones behind by ${gaps.join(', ')} publications; ${conns.size} server connections)`;
};
const wait = async (cond: () => boolean, what: string) => {
  const end = Date.now() + DEADLINE_MS;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}; ${stragglers()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};
await wait(() => clients.every((c) => c.sub.position !== null), 'every client subscribed');
console.log(`${N} clients subscribed; publishing ${RATE}/s`);

let publishing = true;
const publisher = (async () => {
  while (publishing) {
    await publish();
    await new Promise((r) => setTimeout(r, 1000 / RATE));
  }
})();
await new Promise((r) => setTimeout(r, 1000));
const before = published.length;
const cutAt = performance.now();
for (const c of conns) c.terminate('bench: cut');
console.log(`cut ${N} connections at offset ${before}`);
// Caught up: back (a second welcome) and holding every publication made more than LAG_MS ago, one
// made after the cut at least. Not "holding the newest": with 2,000 sockets in this one process a
// publication can take longer to reach them all than the publishing interval, so on a slow machine
// some client was always one behind and the wait never ended (the last check, below, is exact).
const LAG_MS = 250;
const dueOffset = () => {
  const t = performance.now() - LAG_MS;
  for (let i = published.length - 1; i >= 0; i--) if (published[i]!.at <= t) return published[i]!.offset;
  return 0;
};
const allCaughtUp = () => {
  const due = dueOffset();
  return due > published[before - 1]!.offset && clients.every((c) => c.welcomes >= 2 && (c.offsets.at(-1) ?? 0) >= due);
};
await wait(allCaughtUp, 'every client recovered');
const recoveredMs = Math.max(...clients.map((c) => c.welcomeAt)) - cutAt;
const allCaughtUpMs = performance.now() - cutAt;
publishing = false;
await publisher;
await wait(() => clients.every((c) => c.offsets.at(-1) === published.at(-1)!.offset), 'the last publications');

// Replayed: publications made between the cut and a client's resubscription (its second welcome).
let replayed = 0;
let lost = 0;
let twice = 0;
const first = clients[0]!.offsets[0]!;
for (const c of clients) {
  replayed += published.filter((p) => p.at >= cutAt && p.at <= c.welcomeAt).length;
  const seen = new Set(c.offsets);
  twice += c.offsets.length - seen.size;
  for (let o = first; o <= published.at(-1)!.offset; o++) if (!seen.has(o)) lost++;
}
const resyncs = clients.reduce((s, c) => s + c.resyncs, 0);
console.log(JSON.stringify({ clients: N, rate: RATE, lastReconnectMs: Math.round(recoveredMs), allCaughtUpMs: Math.round(allCaughtUpMs), replayed, lost, twice, resyncs }));
for (const c of clients) c.destroy();
await server.close();
process.exit(lost === 0 && twice === 0 && resyncs === 0 ? 0 : 1);
