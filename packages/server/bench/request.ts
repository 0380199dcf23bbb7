// Request/ack round trips (wss-mp.v1, default echo handler, every id new so each is stored in
// the dedup window) against the plain echo of the same server, one client keeping WINDOW in flight.
// Usage: node --import tsx packages/server/bench/request.ts [seconds-per-run=2] [rounds=3]
// Same process, plain ws on loopback: the rate ratio is the inverse of the CPU-per-message ratio.
import WebSocket from 'ws';
import { createServer } from '../src/index';
import { keepInFlight } from './in-flight';

const SECONDS = Number(process.argv[2] ?? 2);
const ROUNDS = Number(process.argv[3] ?? 3);
const WINDOW = 64;

async function run(url: string, protocol: boolean): Promise<number> {
  const ws = new WebSocket(url, protocol ? ['wss-mp.v1'] : undefined, { perMessageDeflate: false });
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  let n = 0;
  // Both send a frame of the same shape; the plain echo sends it back unchanged.
  const next = () => ws.send(`{"t":"req","id":"b-${++n}","data":"tom"}`);
  const answer = (d: WebSocket.RawData) => !(protocol && d.toString().startsWith('{"t":"welcome"'));
  return (await keepInFlight(ws, next, SECONDS, WINDOW, answer)).rate;
}

// No rate limits: one client keeping 64 requests in flight is far over the per-connection default
// (50/s), and this measures what a request costs, not the limiter.
const server = createServer({ port: 0, messaging: true, logger: false, heartbeatInterval: 0, rateLimit: false });
const url = await server.listen();
const rates = { echo: [] as number[], req: [] as number[] };
for (let i = 0; i < ROUNDS; i++) {
  rates.echo.push(await run(url, false));
  rates.req.push(await run(url, true));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const e = median(rates.echo);
const q = median(rates.req);
console.log(`plain echo ${Math.round(e)} msgs/s; req/ack ${Math.round(q)} msgs/s; CPU per message ≈ ${(e / q).toFixed(2)}× the echo`);
await server.close();
process.exit(0);
