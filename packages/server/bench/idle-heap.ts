// Heap per idle connection: wss-mp-server against the raw `node:https` + `ws` recipe, same run.
// Usage: node --import tsx packages/server/bench/idle-heap.ts [connections=2000] [rounds=2]
// Each server runs in its own child process (started with --expose-gc, listening on `::` like
// the CLI, so IPv4 peers arrive as ::ffff:127.0.0.1). The parent opens N TLS WebSocket clients
// spread over 127.0.0.11–50, holds them, and asks the child for heapUsed after a full GC,
// before and with the N connections open: (after − before) / N bytes per connection.
// `wss-mp-server + onConnect` has a hook, so it keeps each request's headers (conn.headers).
// IDLE_HEAP_SNAPSHOT=/tmp/idle also writes /tmp/idle-<server>.heapsnapshot with the
// connections open, to compare in Chrome DevTools (Memory → Comparison).
import { fork } from 'node:child_process';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';

const here = fileURLToPath(import.meta.url);
const KINDS = ['raw https+ws', 'wss-mp-server', 'wss-mp-server + onConnect'] as const;
type Kind = (typeof KINDS)[number];

interface Sample { heapUsed: number; external: number; rss: number }

async function sample(): Promise<Sample> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, rss: m.rss };
}

/** Child: start one kind of server, then answer "sample" requests. */
async function child(kind: Kind, dir: string): Promise<void> {
  const { createServer, TLS_POLICY } = await import('../src/index');
  const { ensureDevCert } = await import('../src/server/dev-cert/index');
  const dev = await ensureDevCert(dir);
  let port: number;
  if (kind === 'raw https+ws') {
    const { readFileSync } = await import('node:fs');
    // The ws README recipe (as test/bench/servers/baseline.mjs), with the same TLS policy.
    const server = https.createServer({ ...TLS_POLICY, cert: readFileSync(dev.certFile), key: readFileSync(dev.keyFile), ALPNProtocols: ['http/1.1'] });
    const wss = new WebSocketServer({ server });
    wss.on('error', () => {});
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    await new Promise<void>((r) => server.listen(0, '::', r));
    port = (server.address() as { port: number }).port;
  } else {
    const server = createServer({
      tls: { certFile: dev.certFile, keyFile: dev.keyFile },
      port: 0,
      logger: false,
      maxConnections: 0,
      maxConnectionsPerIp: 0,
      watchCertificate: false,
      ...(kind === 'wss-mp-server + onConnect' ? { onConnect() {} } : {}),
    });
    await server.listen();
    port = server.address()!.port;
  }
  process.on('message', async (m) => {
    if (m === 'sample') process.send!(await sample());
    if (m === 'snapshot' && process.env.IDLE_HEAP_SNAPSHOT) {
      const { writeHeapSnapshot } = await import('node:v8');
      process.send!(writeHeapSnapshot(`${process.env.IDLE_HEAP_SNAPSHOT}-${kind.replace(/\W+/g, '_')}.heapsnapshot`));
    }
    if (m === 'exit') process.exit(0);
  });
  process.send!({ port });
}

async function open(port: number, n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, (_, j) => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`wss://localhost:${port}/wss`, {
        rejectUnauthorized: false,
        localAddress: `127.0.0.${11 + ((i + j) % 40)}`,
        host: '127.0.0.1',
      } as WebSocket.ClientOptions);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    }));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

async function measure(kind: Kind, n: number, dir: string): Promise<number> {
  const p = fork(here, ['--child', kind, dir], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise<any>((resolve) => p.once('message', resolve));
  const { port } = await next();
  p.send('sample');
  const before: Sample = await next();
  const clients = await open(port, n);
  await new Promise((r) => setTimeout(r, 1_000));
  p.send('sample');
  const after: Sample = await next();
  if (process.env.IDLE_HEAP_SNAPSHOT) {
    p.send('snapshot');
    await next();
  }
  for (const ws of clients) ws.terminate();
  p.send('exit');
  await new Promise((r) => p.once('exit', r));
  const per = (after.heapUsed - before.heapUsed) / n;
  console.log(`${kind.padEnd(28)} heap ${per.toFixed(0).padStart(5)} B/conn   external ${((after.external - before.external) / n).toFixed(0).padStart(5)} B/conn   rss ${((after.rss - before.rss) / n / 1024).toFixed(1)} KiB/conn`);
  return per;
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] as Kind, process.argv[4]!);
} else {
  const n = Number(process.argv[2] ?? 2000);
  const rounds = Number(process.argv[3] ?? 2);
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-heap-'));
  const results = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const kind of r % 2 ? [...KINDS].reverse() : KINDS) results.get(kind)!.push(await measure(kind, n, dir));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const raw = median(results.get('raw https+ws')!);
  console.log(`\n${n} idle connections, median of ${rounds} (heap bytes per connection):`);
  for (const [kind, v] of results) console.log(`  ${kind.padEnd(28)} ${median(v).toFixed(0).padStart(5)}  (${(median(v) - raw >= 0 ? '+' : '')}${(median(v) - raw).toFixed(0)} vs raw)`);
}
