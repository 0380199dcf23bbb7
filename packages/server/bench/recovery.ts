// Recovery after a node kill, through Redis: N clients on node A (a wss-mp-server CLI process,
// --messaging --redis) subscribed to one channel; A is SIGKILLed while publications continue;
// every client reconnects to node B with its position. Measures the time from the kill until
// every client is recovered, how many publications were replayed, and checks none was lost.
// Usage: node --import tsx packages/server/bench/recovery.ts [clients=2000] [before=50] [during=50]
// Needs redis-server on PATH and the built CLI (pnpm --filter wss-mp-server build).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { createServer } from '../src/index';
import { SERVER_CLI } from '../../../test/support/server';
import { findBinary } from '../../../test/support/binaries';
import { startRedis } from '../../../test/support/redis';

const N = Number(process.argv[2] ?? 2000);
const BEFORE = Number(process.argv[3] ?? 50);
const DURING = Number(process.argv[4] ?? 50);

function node(url: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [SERVER_CLI, '--behind-proxy', '--messaging', '--redis', url, '--quiet', '--port', '0',
    '--heartbeat-interval', '0', '--max-connections', '0', '--max-connections-per-ip', '0', '--max-pending-per-ip', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let connected = false;
    let listening: string | undefined;
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      const m = /listening on (ws:\/\/\S+?)"/.exec(l);
      if (m) listening = m[1];
      if (/"event":"redis".*"connected"/.test(l)) connected = true;
      if (connected && listening) resolve({ proc, url: listening });
    });
    proc.once('exit', (c) => reject(new Error(`node exited ${c}`)));
  });
}

interface Client {
  ws: WebSocket;
  got: number[];
  last: { offset: number; epoch: string } | undefined;
  acked: Promise<{ recovered: boolean }>;
}

function open(url: string, got: number[], pos?: { offset: number; epoch: string }): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['wss-mp.v1'], { perMessageDeflate: false });
    const c: Client = { ws, got, last: pos, acked: undefined as never };
    let ack!: (v: { recovered: boolean }) => void;
    c.acked = new Promise((r) => (ack = r));
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.t === 'welcome') ws.send(JSON.stringify({ t: 'sub', id: 's', ch: 'feed', pos }));
      else if (f.t === 'pub') {
        got.push(f.data);
        c.last = { offset: f.offset, epoch: f.epoch };
      } else if (f.t === 'ack' && f.id === 's') ack(f.data);
    });
    ws.on('error', () => {});
    ws.once('open', () => resolve(c));
    ws.once('unexpected-response', () => reject(new Error('refused')));
  });
}

async function openAll(url: string, make: (i: number) => [number[], { offset: number; epoch: string } | undefined]): Promise<Client[]> {
  const out: Client[] = [];
  for (let i = 0; i < N; i += 200) out.push(...(await Promise.all(Array.from({ length: Math.min(200, N - i) }, (_, j) => open(url, ...make(i + j))))));
  return out;
}

const bin = findBinary('redis-server');
if (!bin) throw new Error('redis-server not on PATH (apt-get install redis-server)');
const redis = await startRedis(bin);
const a = await node(redis.url);
const b = await node(redis.url);
const api = createServer({ port: 0, host: '127.0.0.1', quiet: true, logger: () => {}, messaging: { redis: redis.url, historySize: 10_000 } });
await api.listen();
while (!(await api.publish('warmup', 0).then(() => true, () => false))) await new Promise((r) => setTimeout(r, 50));

const onA = await openAll(a.url, () => [[], undefined]);
await Promise.all(onA.map((c) => c.acked));
for (let n = 1; n <= BEFORE; n++) await api.publish('feed', n);
while (onA.some((c) => c.got.length < BEFORE)) await new Promise((r) => setTimeout(r, 20));

const killedAt = performance.now();
a.proc.kill('SIGKILL');
for (let n = BEFORE + 1; n <= BEFORE + DURING; n++) await api.publish('feed', n);
const before = onA.map((c) => c.got.length);
const moved = await openAll(b.url, (i) => [onA[i]!.got, onA[i]!.last]);
const acks = await Promise.all(moved.map((c) => c.acked));
const total = BEFORE + DURING;
while (moved.some((c) => c.got.length < total)) await new Promise((r) => setTimeout(r, 5));
const secs = (performance.now() - killedAt) / 1000;

let lost = 0;
let dup = 0;
for (const c of moved) {
  for (let n = 1; n <= total; n++) if (c.got[n - 1] !== n) lost++;
  dup += Math.max(0, c.got.length - total);
}
console.log(JSON.stringify({
  clients: N,
  publishedBefore: BEFORE,
  publishedWhileMoving: DURING,
  recoveredTrue: acks.filter((x) => x.recovered).length,
  replayed: moved.reduce((sum, c, i) => sum + c.got.length - before[i]!, 0),
  secondsKillToAllRecovered: Number(secs.toFixed(2)),
  lostOrOutOfOrder: lost,
  duplicates: dup,
}));
for (const c of [...onA, ...moved]) c.ws.terminate();
await api.close();
b.proc.kill('SIGTERM');
await redis.stop();
process.exit(0);
