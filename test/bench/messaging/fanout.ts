// Fan-out to many subscribers, the server in a process of its own (10,000 client sockets and
// 10,000 server sockets do not fit in one process's descriptor limit): one publication to every
// subscriber of a channel through wss-mp-server's messaging engine, against a bare `ws` server
// that sends the same bytes (one encoded `pub` frame) to the same sockets in a loop.
// Usage: node --import tsx test/bench/messaging/fanout.ts [subscribers=10000] [publications=50] [rounds=2]
// Plain ws on loopback. Publications go out in bursts of 10 on the parent's command (IPC);
// latency is publish → receive on the wall clock both processes share (performance.timeOrigin).
// The smaller, single-process version is packages/server/bench/fanout.ts.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';

const now = () => performance.timeOrigin + performance.now();
const BATCH = 10;

if (process.argv[2] === '--server') {
  // Child: the server under test, 'messaging' or 'raw'; {pub: ts} publishes one.
  const mode = process.argv[3];
  let publish: (ts: number) => void;
  let url: string;
  if (mode === 'messaging') {
    const { createServer } = await import('wss-mp-server');
    const server = createServer({ port: 0, messaging: true, logger: false, heartbeatInterval: 0, maxConnections: 0, maxConnectionsPerIp: 0, maxPendingConnections: 0, maxPendingPerIp: 0 } as never);
    url = await server.listen();
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

  async function run(mode: 'messaging' | 'raw') {
    const child = fork(fileURLToPath(import.meta.url), ['--server', mode], { execArgv: ['--import', 'tsx'] });
    const url = await new Promise<string>((r) => child.once('message', (m: { url: string }) => r(m.url)));
    let got = 0;
    const lat: number[] = [];
    const onFrame = (text: string) => {
      if (!text.startsWith('{"t":"pub"')) return;
      got++;
      lat.push(now() - JSON.parse(text).data);
    };
    const cs: WebSocket[] = [];
    // Connect in slices of 200, each local address its own, so no listen backlog or port range runs out.
    for (let i = 0; i < N; i += 200) {
      cs.push(...(await Promise.all(Array.from({ length: Math.min(200, N - i) }, (_, j) => new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(url, mode === 'messaging' ? ['wss-mp.v1'] : undefined, { perMessageDeflate: false, localAddress: `127.0.0.${11 + ((i + j) % 40)}` });
        ws.on('message', (d) => onFrame(d.toString()));
        ws.once('error', reject);
        if (mode === 'raw') ws.once('open', () => resolve(ws));
        else {
          ws.on('message', function acked(d) {
            const t = d.toString();
            if (t.startsWith('{"t":"welcome"')) ws.send('{"t":"sub","id":"s","ch":"fan"}');
            else if (t.startsWith('{"t":"ack"')) (ws.off('message', acked), resolve(ws));
          });
        }
      })))));
    }
    const t0 = now();
    for (let i = 0; i < P; i += BATCH) {
      for (let j = 0; j < BATCH && i + j < P; j++) child.send({ pub: now() });
      const want = Math.min(P, i + BATCH) * N;
      while (got < want) await new Promise((r) => setImmediate(r));
    }
    const secs = (now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    for (const ws of cs) ws.terminate();
    child.kill();
    return { rate: (P * N) / secs, p99: lat[Math.floor(lat.length * 0.99)]! };
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const res = { messaging: [] as { rate: number; p99: number }[], raw: [] as { rate: number; p99: number }[] };
  for (let r = 0; r < ROUNDS; r++) {
    res.raw.push(await run('raw'));
    res.messaging.push(await run('messaging'));
  }
  const med = (k: 'messaging' | 'raw') => ({ rate: median(res[k].map((x) => x.rate)), p99: median(res[k].map((x) => x.p99)) });
  const [m, w] = [med('messaging'), med('raw')];
  console.log(`fan-out to ${N} subscribers (server in its own process), ${P} publications in bursts of ${BATCH}, median of ${ROUNDS}:`);
  console.log(`  messaging   ${Math.round(m.rate)} deliveries/s  p99 ${m.p99.toFixed(1)} ms  ${(m.rate / w.rate).toFixed(2)}×`);
  console.log(`  bare ws     ${Math.round(w.rate)} deliveries/s  p99 ${w.p99.toFixed(1)} ms  1.00×`);
  // Last line: the figures for `pnpm bench` (test/bench/messaging/mode.ts).
  console.log(JSON.stringify({ subscribers: N, publications: P, messaging: m, raw: w }));
  process.exit(0);
}
