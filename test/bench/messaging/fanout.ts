// Fan-out to many subscribers, the server in a process of its own (10,000 client sockets and
// 10,000 server sockets do not fit in one process's descriptor limit): one publication to every
// subscriber of a channel through wss-mp-server's messaging engine, against a bare `ws` server
// that sends the same bytes (one encoded `pub` frame) to the same sockets in a loop.
// Usage: node --import tsx test/bench/messaging/fanout.ts [subscribers=10000] [publications=50] [rounds=2] [variants=raw,messaging]
// Variants: `raw` (the bare loop), `messaging` (one node, no Redis), `redis2` (two nodes sharing a
// redis-server this script starts on a free port with its own directory and stops by PID; the
// subscribers alternate between the nodes, every publication is made on the first node, so half
// the deliveries cross Redis pub/sub).
// Plain ws on loopback. Publications go out in bursts of 10 on the parent's command (IPC);
// latency is publish → receive on the wall clock both processes share (performance.timeOrigin).
// The smaller, single-process version is packages/server/bench/fanout.ts.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { findBinary } from '../../support/binaries';
import { startRedis, type RunningRedis } from '../../support/redis';

const now = () => performance.timeOrigin + performance.now();
const BATCH = 10;
/** A burst that has not reached every subscriber by then has lost something (or a node died). */
const BURST_DEADLINE_MS = 120_000;
const VARIANTS = ['raw', 'messaging', 'redis2'] as const;
type Variant = (typeof VARIANTS)[number];

if (process.argv[2] === '--server') {
  // Child: the server under test, 'messaging' (with a Redis URL as 4th argument: one node of
  // several) or 'raw'; {pub: ts} publishes one.
  const mode = process.argv[3];
  const redis = process.argv[4];
  let publish: (ts: number) => void;
  let url: string;
  if (mode === 'messaging') {
    const { createServer } = await import('wss-mp-server');
    let connected: () => void;
    const redisUp = new Promise<void>((r) => (connected = r));
    // Only the Redis connection is of interest: the line that says this node shares channels.
    const logger = redis ? (e: { event?: string; msg?: string }) => void (e.event === 'redis' && e.msg === 'connected' && connected()) : false;
    const server = createServer({ port: 0, messaging: redis ? { redis } : true, logger, heartbeatInterval: 0, maxConnections: 0, maxConnectionsPerIp: 0, maxPendingConnections: 0, maxPendingPerIp: 0 } as never);
    url = await server.listen();
    if (redis) await redisUp;
    publish = (ts) => void server.publish('fan', ts);
  } else {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, backlog: 4096 });
    await new Promise((r) => wss.once('listening', r));
    url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
    let offset = 0;
    publish = (ts) => {
      const frame = Buffer.from(JSON.stringify({ t: 'pub', ch: 'fan', offset: ++offset, epoch: 'AbCdEfGh', data: ts }));
      for (const ws of wss.clients) ws.send(frame, { binary: false });
    };
  }
  process.on('message', (m: { pub?: number }) => m.pub !== undefined && publish(m.pub));
  process.on('disconnect', () => process.exit(0));
  process.send!({ url });
} else {
  const N = Number(process.argv[2] ?? 10_000);
  const P = Number(process.argv[3] ?? 50);
  const ROUNDS = Number(process.argv[4] ?? 2);
  const variants = (process.argv[5] ?? 'raw,messaging').split(',') as Variant[];
  for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v} (${VARIANTS.join(', ')})`);

  let redis: RunningRedis | null = null;
  if (variants.includes('redis2')) {
    const bin = findBinary('redis-server');
    if (!bin) throw new Error('missing binary "redis-server" (apt-get install redis-server; .ci/run does)');
    redis = await startRedis(bin);
    // `pnpm bench` ends an overdue script with SIGTERM: take the redis-server along (the fan-out
    // servers exit by themselves when their IPC channel closes).
    process.once('SIGTERM', () => {
      redis?.proc.kill('SIGKILL');
      process.exit(1);
    });
  }

  const server = async (args: string[]) => {
    const child = fork(fileURLToPath(import.meta.url), ['--server', ...args], { execArgv: ['--import', 'tsx'] });
    const url = await new Promise<string>((resolve, reject) => {
      child.once('message', (m: { url: string }) => resolve(m.url));
      child.once('exit', (code) => reject(new Error(`fan-out server ${args.join(' ')} exited ${code} before listening`)));
    });
    return { child, url };
  };

  async function run(variant: Variant) {
    const nodes: { child: ChildProcess; url: string }[] =
      variant === 'redis2' ? await Promise.all([server(['messaging', redis!.url]), server(['messaging', redis!.url])]) : [await server([variant])];
    const proto = variant === 'raw' ? undefined : ['wss-mp.v1'];
    let got = 0;
    const lat: number[] = [];
    const onFrame = (text: string) => {
      if (!text.startsWith('{"t":"pub"')) return;
      got++;
      lat.push(now() - JSON.parse(text).data);
    };
    const cs: WebSocket[] = [];
    // Connect in slices of 200, each local address its own, so no listen backlog or port range
    // runs out; subscriber k goes to node k mod (number of nodes).
    for (let i = 0; i < N; i += 200) {
      cs.push(...(await Promise.all(Array.from({ length: Math.min(200, N - i) }, (_, j) => new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(nodes[(i + j) % nodes.length]!.url, proto, { perMessageDeflate: false, localAddress: `127.0.0.${11 + ((i + j) % 40)}` });
        ws.on('message', (d) => onFrame(d.toString()));
        ws.once('error', reject);
        if (!proto) ws.once('open', () => resolve(ws));
        else {
          ws.on('message', function acked(d) {
            const t = d.toString();
            if (t.startsWith('{"t":"welcome"')) ws.send('{"t":"sub","id":"s","ch":"fan"}');
            else if (t.startsWith('{"t":"ack"')) (ws.off('message', acked), resolve(ws));
          });
        }
      })))));
    }
    const publisher = nodes[0]!.child;
    const t0 = now();
    for (let i = 0; i < P; i += BATCH) {
      for (let j = 0; j < BATCH && i + j < P; j++) publisher.send({ pub: now() });
      const want = Math.min(P, i + BATCH) * N;
      const deadline = now() + BURST_DEADLINE_MS;
      while (got < want) {
        if (now() > deadline) throw new Error(`${variant}: ${got} of ${want} deliveries after ${BURST_DEADLINE_MS} ms`);
        await new Promise((r) => setImmediate(r));
      }
    }
    const secs = (now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    for (const ws of cs) ws.terminate();
    for (const n of nodes) n.child.kill();
    // Every subscriber got every publication exactly once (a duplicate would end a burst early
    // and show as a count above N × P).
    return { rate: (P * N) / secs, p99: lat[Math.floor(lat.length * 0.99)]!, deliveries: got };
  }

  type Result = { rate: number; p99: number; deliveries: number };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const res = Object.fromEntries(variants.map((v) => [v, [] as Result[]])) as Record<Variant, Result[]>;
  try {
    for (let r = 0; r < ROUNDS; r++) for (const v of variants) res[v].push(await run(v));
  } finally {
    await redis?.stop();
  }
  const med = (k: Variant) => ({ rate: median(res[k].map((x) => x.rate)), p99: median(res[k].map((x) => x.p99)), deliveries: Math.max(...res[k].map((x) => x.deliveries)) });
  const LABEL: Record<Variant, string> = { raw: 'bare ws', messaging: 'messaging', redis2: '2 nodes+Redis' };
  const base = med(variants[0]!);
  console.log(`fan-out to ${N} subscribers (server in its own process), ${P} publications in bursts of ${BATCH}, median of ${ROUNDS}:`);
  for (const v of variants) {
    const m = med(v);
    console.log(`  ${LABEL[v].padEnd(13)} ${Math.round(m.rate)} deliveries/s  p99 ${m.p99.toFixed(1)} ms  ${(m.rate / base.rate).toFixed(2)}× ${variants[0]}`);
  }
  // Last line: the figures for `pnpm bench` (test/bench/messaging/mode.ts, test/bench/cluster/mode.ts).
  console.log(JSON.stringify({ subscribers: N, publications: P, ...Object.fromEntries(variants.map((v) => [v, med(v)])) }));
  process.exit(0);
}
