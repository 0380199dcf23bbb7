// Echo throughput: wss-mp-server against a bare `ws` echo on the same TLS policy (and plain).
// Usage: node --import tsx packages/server/bench/echo.ts [seconds-per-run=2] [rounds=3]
// Each run: one client keeps WINDOW messages of SIZE bytes in flight; msgs/s = echoes
// received per second. Server and client share the process, runs alternate A/B to spread
// noise, and the median per configuration is printed.
import https from 'node:https';
import http from 'node:http';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { createServer, TLS_POLICY } from '../src/index';
import { keepInFlight } from './in-flight';
import { ensureDevCert } from '../src/server/dev-cert/index';

const SECONDS = Number(process.argv[2] ?? 2);
const ROUNDS = Number(process.argv[3] ?? 3);
const WINDOW = 64;
const SIZE = 64;

type Start = () => Promise<{ url: string; stop: () => Promise<void> }>;

async function measure(url: string, ca?: Buffer): Promise<number> {
  const ws = new WebSocket(url, { ca });
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const payload = Buffer.alloc(SIZE, 97);
  return (await keepInFlight(ws, () => ws.send(payload, { binary: false }), SECONDS, WINDOW)).rate;
}

function bareWs(server: http.Server | https.Server, scheme: string): Start {
  return async () => {
    const wss = new WebSocketServer({ server, maxPayload: 65536, perMessageDeflate: false });
    wss.on('connection', (ws) => ws.on('message', (d, isBinary) => ws.send(d as Buffer, { binary: isBinary })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    return {
      url: `${scheme}://localhost:${port}/wss`,
      stop: async () => { wss.close(); server.closeAllConnections(); await new Promise((r) => server.close(r)); },
    };
  };
}

const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-bench-'));
const dev = await ensureDevCert(dir);
const ca = readFileSync(dev.caFile);
const pem = { cert: readFileSync(dev.certFile), key: readFileSync(dev.keyFile) };

const configs: Array<[string, Start, Buffer | undefined]> = [
  ['ws bare, TLS (same policy)', () => bareWs(https.createServer({ ...TLS_POLICY, ...pem }), 'wss')(), ca],
  ['wss-mp-server, TLS', async () => {
    const s = createServer({ tls: { certFile: dev.certFile, keyFile: dev.keyFile }, port: 0, host: '127.0.0.1', logger: false, heartbeatInterval: 0, watchCertificate: false });
    const url = await s.listen();
    return { url, stop: () => s.close() };
  }, ca],
  ['ws bare, plain', () => bareWs(http.createServer(), 'ws')(), undefined],
  ['wss-mp-server, plain', async () => {
    const s = createServer({ port: 0, logger: false, heartbeatInterval: 0, drainTimeout: 0 });
    const url = await s.listen();
    return { url, stop: () => s.close() };
  }, undefined],
];

const results = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, start, trust] of configs) {
    const { url, stop } = await start();
    const rate = await measure(url, trust);
    await stop();
    results.set(name, [...(results.get(name) ?? []), rate]);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`echo, ${SIZE}-byte text, ${WINDOW} in flight, ${SECONDS}s x ${ROUNDS} rounds, Node ${process.version}`);
for (const [name, rates] of results) {
  console.log(`${name.padEnd(30)} ${Math.round(median(rates)).toString().padStart(8)} msgs/s  (runs: ${rates.map((r) => Math.round(r)).join(', ')})`);
}
rmSync(dir, { recursive: true, force: true });
