// Request/ack round trips (wss-mp.v1, default echo handler, every id new so each is stored in
// the dedup window) against the plain echo of the same server: one connection each, bursts of
// WINDOW frames of the same size, the same client code. What is compared is the SERVER's
// CPU per message: the server runs in a child process of its own that reports its CPU use for
// each run (client and server in one process would add the client's equal share to both sides
// and flatter the ratio).
// Usage: node --import tsx packages/server/bench/request.ts [seconds-per-run=2] [rounds=3] [profile-dir]
// With a profile dir, the server writes one .cpuprofile per run (echo-N, req-N), each covering
// only that run. The line printed also gives client + server CPU per message, which is what the
// one-process version of this bench measured (its ratio is closer to 1: the client's share is
// the same on both sides).
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { createServer } from '../src/index';
import { keepInFlight } from './in-flight';

const WINDOW = 64;
/**
 * The client sends WINDOW frames at once and the next WINDOW when all are answered, so both
 * loops reach the server in the same batches. In a sliding window (each answer sends the next:
 * REQUEST_BENCH=loop) the batch a read brings depends on how fast each side is: the echo measured
 * 3.9 or 7 µs per message on the same build depending on the machine's load (large batches or
 * small), and the ratio moved between 1.1× and 1.9× with it.
 */
const BURSTS = process.env.REQUEST_BENCH !== 'loop';

async function inBursts(ws: WebSocket, send: () => void, seconds: number, burst: number) {
  let received = 0;
  let inBurst = 0;
  let running = true;
  ws.on('message', () => {
    received++;
    if (++inBurst < burst) return;
    inBurst = 0;
    if (running) for (let i = 0; i < burst; i++) send();
  });
  for (let i = 0; i < burst; i++) send();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const cpu = process.cpuUsage(c0);
  const rate = received / ((performance.now() - t0) / 1000);
  ws.terminate();
  return { rate, received, cpuPerOp: (cpu.user + cpu.system) / received };
}

type ToServer = { run: 'start' | 'stop'; label: string };
type FromServer = { url: string } | { cpu: number };

if (process.argv[2] === '--serve') await serve(process.argv[3]);
else await main();

/** The child: the server alone, CPU measured (and profiled) between `start` and `stop`. */
async function serve(profileDir: string | undefined): Promise<void> {
  // No rate limits: one client keeping 64 requests in flight is far over the per-connection
  // default (50/s), and this measures what a request costs, not the limiter.
  const server = createServer({ port: 0, messaging: true, logger: false, heartbeatInterval: 0, rateLimit: false });
  const url = await server.listen();
  const session = profileDir === undefined ? undefined : new Session();
  session?.connect();
  if (session) await session.post('Profiler.setSamplingInterval', { interval: 100 });
  let c0 = process.cpuUsage();
  process.on('message', async (m: ToServer | 'exit') => {
    if (m === 'exit') {
      await server.close();
      process.exit(0);
    }
    if (m.run === 'start') {
      if (session) await session.post('Profiler.enable').then(() => session.post('Profiler.start'));
      c0 = process.cpuUsage();
      return void process.send!({ cpu: 0 } satisfies FromServer);
    }
    const c = process.cpuUsage(c0);
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path.join(profileDir!, `${m.label}.cpuprofile`), JSON.stringify(profile));
    }
    process.send!({ cpu: c.user + c.system } satisfies FromServer);
  });
  process.send!({ url } satisfies FromServer);
}

function ask(child: ChildProcess, m: ToServer): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (r: FromServer) => resolve('cpu' in r ? r.cpu : 0));
    child.send(m);
  });
}

async function run(child: ChildProcess, url: string, protocol: boolean, label: string, seconds: number) {
  const ws = new WebSocket(url, protocol ? ['wss-mp.v1'] : undefined, { perMessageDeflate: false });
  // The welcome comes first on a protocol connection (possibly in the same read as the 101):
  // out of the way before the loop, so that both loops run the same client code and count
  // every frame.
  const welcome = protocol ? new Promise((r) => ws.once('message', r)) : undefined;
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  await welcome;
  let n = 0;
  // Both send a frame of the same shape and size; the plain echo sends it back unchanged, the
  // ack (`{"t":"ack",…}`) is as long as the request. Ids as wss-mp-client makes them (a 12-char
  // random prefix, '-', a base-36 counter): V8's JSON.parse interns string values shorter than 10
  // chars (src/json/json-parser.cc, kMaxInternalizedStringValueLength), so
  // short ids like `b-123` would cost the server a string-table insert per request that real
  // clients do not cause.
  const prefix = `${Math.random().toString(36).slice(2)}000000000000`.slice(0, 12);
  const next = () => ws.send(`{"t":"req","id":"${prefix}-${(++n).toString(36)}","data":"tom"}`);
  await ask(child, { run: 'start', label });
  const { rate, received, cpuPerOp: clientCpu } = await (BURSTS ? inBursts(ws, next, seconds, WINDOW) : keepInFlight(ws, next, seconds, WINDOW));
  const serverCpu = await ask(child, { run: 'stop', label });
  return { rate, serverCpuPerMsg: serverCpu / received, clientCpuPerMsg: clientCpu };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 2);
  const rounds = Number(process.argv[3] ?? 3);
  const profileDir = process.argv[4] === undefined ? undefined : path.resolve(process.argv[4]);
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const child = fork(fileURLToPath(import.meta.url), ['--serve', ...(profileDir ? [profileDir] : [])], { execArgv: process.execArgv });
  const url = await new Promise<string>((resolve) => child.once('message', (m: FromServer) => resolve((m as { url: string }).url)));
  // Warm-up, not counted: otherwise the first loop measured (the echo) also pays for the JIT
  // compiling the server's code paths, and a single round would flatter the request side.
  await run(child, url, false, 'warmup-echo', Math.min(seconds, 0.5));
  await run(child, url, true, 'warmup-req', Math.min(seconds, 0.5));
  const runs = { echo: [] as Awaited<ReturnType<typeof run>>[], req: [] as Awaited<ReturnType<typeof run>>[] };
  for (let i = 0; i < rounds; i++) {
    runs.echo.push(await run(child, url, false, `echo-${i + 1}`, seconds));
    runs.req.push(await run(child, url, true, `req-${i + 1}`, seconds));
  }
  child.send('exit');
  await new Promise((r) => child.once('exit', r));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const e = median(runs.echo.map((r) => r.rate));
  const q = median(runs.req.map((r) => r.rate));
  const ec = median(runs.echo.map((r) => r.serverCpuPerMsg));
  const qc = median(runs.req.map((r) => r.serverCpuPerMsg));
  // Per round: the two runs closest in time, so the machine's load moves both alike.
  const ratios = runs.req.map((r, i) => r.serverCpuPerMsg / runs.echo[i]!.serverCpuPerMsg);
  // What the earlier one-process version of this bench measured: client and server together.
  const both = (r: (typeof runs.echo)[number]) => r.serverCpuPerMsg + r.clientCpuPerMsg;
  const bothRatio = median(runs.req.map((r, i) => both(r) / both(runs.echo[i]!)));
  console.log(`plain echo ${Math.round(e)} msgs/s; req/ack ${Math.round(q)} msgs/s; ` +
    `server CPU per message: echo ${ec.toFixed(2)} µs, req/ack ${qc.toFixed(2)} µs, ${median(ratios).toFixed(2)}× the echo ` +
    `(rounds: ${ratios.map((x) => x.toFixed(2)).join(' ')}); client + server: ${bothRatio.toFixed(2)}×`);
  process.exit(0);
}
