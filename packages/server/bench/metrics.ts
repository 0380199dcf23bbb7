// Metrics on vs off: echo msgs/s and TLS handshakes/s through createServer without the admin
// listener, and with it (prom-client loaded, /metrics scraped every second: 15× Prometheus's
// default rate, so the scrape's own cost shows). The counters behind the metrics are plain
// fields the server always keeps, so "off" pays for them too: this measures what turning the
// admin listener on costs.
// Usage: node --import tsx packages/server/bench/metrics.ts [seconds-per-run=2] [rounds=5] [scrape-ms=1000, 0: none]
// Server and client share the process; runs alternate off/on; the median per configuration
// is printed with the on/off ratio.
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { createServer, type WssMpServer } from '../src/index';
import { keepInFlight } from './in-flight';
import { ensureDevCert } from '../src/server/dev-cert/index';

const SECONDS = Number(process.argv[2] ?? 2);
const ROUNDS = Number(process.argv[3] ?? 5);
const SCRAPE_MS = Number(process.argv[4] ?? 1000);
const WINDOW = 64;
const SIZE = 64;
const HANDSHAKE_CONCURRENCY = 8;

const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-bench-'));
const dev = await ensureDevCert(dir);
const ca = readFileSync(dev.caFile);

interface Run {
  rate: number;
  /** Process CPU (client and server: they share it) per operation, µs: steadier than rates on a busy machine. */
  cpuPerOp: number;
}

async function echoRate(url: string): Promise<Run> {
  const ws = new WebSocket(url, { ca });
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const payload = Buffer.alloc(SIZE, 97);
  return keepInFlight(ws, () => ws.send(payload, { binary: false }), SECONDS, WINDOW);
}

/** Full WebSocket handshakes over TLS (new TLS session each), HANDSHAKE_CONCURRENCY at a time. */
async function handshakeRate(url: string): Promise<Run> {
  let done = 0;
  const end = performance.now() + SECONDS * 1000;
  const one = (): Promise<void> => new Promise((resolve) => {
    // No agent: ws makes a fresh TLS connection, no session resumption, a full handshake each time.
    const ws = new WebSocket(url, { ca });
    ws.once('open', () => {
      done++;
      ws.terminate();
      resolve();
    });
    ws.once('error', () => resolve());
  });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: HANDSHAKE_CONCURRENCY }, async () => {
    while (performance.now() < end) await one();
  }));
  const cpu = process.cpuUsage(c0);
  return { rate: done / ((performance.now() - t0) / 1000), cpuPerOp: (cpu.user + cpu.system) / done };
}

async function withServer<R>(admin: boolean, run: (url: string) => Promise<R>): Promise<R> {
  const s: WssMpServer = createServer({ tls: { certFile: dev.certFile, keyFile: dev.keyFile }, port: 0, host: '127.0.0.1',
    logger: false, heartbeatInterval: 0, watchCertificate: false, drainTimeout: 0, ...(admin ? { admin: 0 } : {}) });
  const url = await s.listen();
  let scraper: NodeJS.Timeout | undefined;
  let scrapes = 0;
  if (admin && SCRAPE_MS > 0) scraper = setInterval(() => void fetch(`${s.adminUrl}/metrics`).then((r) => r.text()).then(() => scrapes++), SCRAPE_MS);
  try {
    const r = await run(url);
    // A bench that never scraped would compare nothing: say so rather than print a ratio.
    if (admin && SCRAPE_MS > 0 && scrapes === 0 && SECONDS * 1000 >= 1.5 * SCRAPE_MS && r !== undefined) throw new Error('no scrape completed');
    return r;
  } finally {
    clearInterval(scraper);
    await s.close();
  }
}

// prom-client's process metrics (GC observer, event-loop monitor) start with the first admin
// listener and stay for the process: start them before round 0, so no "off" run lacks them and
// the comparison is about the admin listener and its scrapes.
await withServer(true, async () => undefined);

const results = new Map<string, number[]>();
const cpus = new Map<string, number[]>();
const add = (k: string, v: Run) => {
  results.set(k, [...(results.get(k) ?? []), v.rate]);
  cpus.set(k, [...(cpus.get(k) ?? []), v.cpuPerOp]);
};
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so warm-up and drift do not favour one.
  for (const admin of round % 2 ? [true, false] : [false, true]) {
    add(`echo ${admin ? 'on' : 'off'}`, await withServer(admin, echoRate));
    add(`handshake ${admin ? 'on' : 'off'}`, await withServer(admin, handshakeRate));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`metrics on (admin listener, scraped every ${SCRAPE_MS || 'never'} ms) vs off; TLS; ${SECONDS}s x ${ROUNDS} rounds, Node ${process.version}`);
for (const what of ['echo', 'handshake']) {
  const off = median(results.get(`${what} off`)!);
  const on = median(results.get(`${what} on`)!);
  const unit = what === 'echo' ? 'msgs/s' : 'handshakes/s';
  // Each round's on/off pair ran back to back: the median of their ratios cancels slow drift.
  const ons = results.get(`${what} on`)!;
  const paired = median(results.get(`${what} off`)!.map((o, i) => ons[i]! / o));
  const cpuOff = median(cpus.get(`${what} off`)!);
  const cpuOn = median(cpus.get(`${what} on`)!);
  console.log(`${what.padEnd(10)} paired on/off median ${paired.toFixed(3)}; CPU per op off ${cpuOff.toFixed(2)} µs, on ${cpuOn.toFixed(2)} µs ` +
    `(off/on ${(cpuOff / cpuOn).toFixed(3)}: the throughput ratio a CPU-bound server would see)`);
  console.log(`${what.padEnd(10)} off ${Math.round(off).toString().padStart(7)} ${unit}  on ${Math.round(on).toString().padStart(7)} ${unit}  ` +
    `on/off ${(on / off).toFixed(3)}  (off: ${results.get(`${what} off`)!.map(Math.round).join(', ')}; on: ${results.get(`${what} on`)!.map(Math.round).join(', ')})`);
}
rmSync(dir, { recursive: true, force: true });
