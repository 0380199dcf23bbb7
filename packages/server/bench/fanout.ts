// Fan-out: one publication to N subscribers of a channel through the messaging engine, against
// a bare `ws` loop that sends the same bytes to the same number of sockets.
// Usage: node --import tsx packages/server/bench/fanout.ts [subscribers=1000] [publications=200] [rounds=3]
// Plain ws on loopback; clients share the process (both variants pay the same client cost).
// Prints deliveries/s and the p99 publish→receive latency, medians over the rounds.
// FANOUT_REDIS=1 adds a cross-node variant: subscribers on one node, publications from another,
// through a redis-server started for the run (needs redis-server on PATH).
import WebSocket, { WebSocketServer } from 'ws';
import { createServer } from '../src/index';
import { findBinary } from '../../../test/support/binaries';
import { startRedis, type RunningRedis } from '../../../test/support/redis';

const N = Number(process.argv[2] ?? 1000);
const P = Number(process.argv[3] ?? 200);
const ROUNDS = Number(process.argv[4] ?? 3);
/** Publications in flight before waiting for their deliveries (a steady burst). */
const BATCH = 10;

interface Result { rate: number; p99: number }

async function clients(url: string, protocol: string[] | undefined, onFrame: (text: string) => void): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  for (let i = 0; i < N; i += 100) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, protocol, { perMessageDeflate: false });
      ws.on('message', (d) => onFrame(d.toString()));
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })))));
  }
  return out;
}

/** Runs P publications in batches; `send(i)` publishes one; resolves when every delivery arrived. */
async function drive(send: (ts: number) => void, delivered: () => number, lat: number[]): Promise<Result> {
  const t0 = performance.now();
  for (let i = 0; i < P; i += BATCH) {
    for (let j = 0; j < BATCH && i + j < P; j++) send(performance.now());
    const want = Math.min(P, i + BATCH) * N;
    while (delivered() < want) await new Promise((r) => setImmediate(r));
  }
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { rate: (P * N) / secs, p99: lat[Math.floor(lat.length * 0.99)]! };
}

async function messaging(coalesceWrites = true, redis?: RunningRedis): Promise<Result> {
  const m = redis ? { redis: redis.url } : true;
  const server = createServer({ port: 0, messaging: m, coalesceWrites, logger: false, heartbeatInterval: 0, maxConnectionsPerIp: 0, maxConnections: 0 });
  const url = await server.listen();
  let got = 0;
  const lat: number[] = [];
  const cs = await clients(url, ['wss-mp.v1'], (text) => {
    if (text.charCodeAt(6) !== 112 /* {"t":"p… */) return;
    got++;
    lat.push(performance.now() - JSON.parse(text).data);
  });
  await Promise.all(cs.map((ws) => new Promise<void>((resolve) => {
    ws.on('message', (d) => { if (d.toString().startsWith('{"t":"ack"')) resolve(); });
    ws.send('{"t":"sub","id":"s","ch":"fan"}');
  })));
  // Cross-node: another node publishes; the subscribers' node gets it through Redis pub/sub.
  const publisher = redis ? createServer({ port: 0, logger: false, messaging: { redis: redis.url } }) : server;
  if (redis) while (!(await publisher.publish('warm', 0).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 50));
  const r = await drive((ts) => void publisher.publish('fan', ts), () => got, lat);
  for (const ws of cs) ws.terminate();
  await server.close();
  if (publisher !== server) await publisher.close();
  return r;
}

async function raw(): Promise<Result> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
  let got = 0;
  const lat: number[] = [];
  const cs = await clients(url, undefined, (text) => {
    got++;
    lat.push(performance.now() - JSON.parse(text).data);
  });
  let offset = 0;
  const r = await drive((ts) => {
    // The same bytes the engine sends: one encoded pub frame per publication, to every socket.
    const frame = Buffer.from(JSON.stringify({ t: 'pub', ch: 'fan', offset: ++offset, epoch: 'AbCdEfGh', data: ts }));
    for (const ws of wss.clients) ws.send(frame, { binary: false });
  }, () => got, lat);
  for (const ws of cs) ws.terminate();
  await new Promise((r) => wss.close(r));
  return r;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<string, Result[]> = { messaging: [], uncorked: [], raw: [], redis: [] };
const redisBin = process.env.FANOUT_REDIS === '1' ? findBinary('redis-server') : null;
if (process.env.FANOUT_REDIS === '1' && !redisBin) throw new Error('FANOUT_REDIS=1 needs redis-server on PATH');
const redis = redisBin ? await startRedis(redisBin) : undefined;
for (let round = 0; round < ROUNDS; round++) {
  results.raw!.push(await raw());
  results.messaging!.push(await messaging());
  results.uncorked!.push(await messaging(false));
  if (redis) results.redis!.push(await messaging(true, redis));
}
await redis?.stop();
const med = (k: string) => ({ rate: median(results[k]!.map((r) => r.rate)), p99: median(results[k]!.map((r) => r.p99)) });
const w = med('raw');
console.log(`fan-out to ${N} subscribers, ${P} publications in bursts of ${BATCH}, median of ${ROUNDS}:`);
for (const [k, label] of [['messaging', 'messaging (coalesced writes, the default)'], ['uncorked', 'messaging, coalesceWrites: false'], ['raw', 'bare ws loop, same bytes'], ['redis', 'cross-node through Redis (FANOUT_REDIS=1)']] as const) {
  if (results[k]!.length === 0) continue;
  const r = med(k);
  console.log(`  ${label.padEnd(42)} ${String(Math.round(r.rate)).padStart(8)} deliveries/s  p99 ${r.p99.toFixed(1).padStart(6)} ms  ${(r.rate / w.rate).toFixed(2)}×`);
}
process.exit(0);
