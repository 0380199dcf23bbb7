// Client-side load process (run pinned to the load core, through tsx, with --expose-gc).
// The SDK is loaded with require(), not the shim's WeChat-realm loader: that one wraps the
// bundle in `with (probe)` to record global reads, which makes every free identifier lookup
// dynamic and would measure the probe, not the client.
//   msgs    N clients ping-pong one 32-byte text each → msgs/s   (variant sdk | raw)
//   memory  N connected clients → RSS and heap per instance      (variant sdk | raw)
//   storm   N clients through a server kill/restart               (variant sdk | rws)
// sdk = wss-mp-client's miniprogram_dist (what WeChat's Build npm ships) on the wx shim;
// raw = the same shim's SocketTask used directly (the ceiling for any SDK on that shim);
// rws = reconnecting-websocket 4.4.0 on the same shim through a W3C adapter.
// Protocol with the orchestrator: JSON lines on stdout ({"phase": ...}), commands on stdin.
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { ROOT } from '../../support/server';
import { loadWx, type SocketTaskLike, type WxLike } from './shim';
import { makeW3CAdapter } from '../../support/w3c-adapter';

interface Cfg {
  mode: 'msgs' | 'memory' | 'storm';
  variant: 'sdk' | 'raw' | 'rws';
  url: string;
  ca: string;
  conns: number;
  warmupMs?: number;
  durationMs?: number;
  /** storm: messages each client sends while the server is down */
  messages?: number;
  deadlineMs?: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as Cfg;
const out = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (m: unknown) => {
  out({ phase: 'error', message: String((m as Error)?.stack ?? m) });
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
setTimeout(() => fail(`deadline ${cfg.deadlineMs} ms exceeded`), cfg.deadlineMs ?? 120_000).unref();

const require = createRequire(import.meta.url);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const SDK_PATH = path.join(ROOT, 'packages/client/miniprogram_dist/index.js');
const CLIENT_OVERRIDES = JSON.parse(process.env.BENCH_CLIENT_OPTIONS || '{}') as Record<string, unknown>;

interface SdkClient {
  readonly state: string;
  on(type: string, fn: (ev: any) => void): () => void;
  send(data: string | ArrayBuffer): string;
  destroy(): void;
}
interface Sdk {
  createClient(o: Record<string, unknown>): SdkClient;
  CLIENT_DEFAULTS?: Record<string, unknown>;
}

/** A uniform handle over the three variants. */
interface Conn {
  open: boolean;
  send(data: string): void;
  onMessage(fn: (data: string) => void): void;
  onOpen(fn: () => void): void;
  onClose(fn: () => void): void;
  destroy(): void;
}

function sdkConn(sdk: Sdk, wx: WxLike, url: string): Conn {
  // lifecycle off: the shim has no app show/hide; defaults otherwise (backoff, heartbeat, queue),
  // unless BENCH_CLIENT_OPTIONS (JSON) overrides some, to try a change before proposing it.
  const c = sdk.createClient({ url, platform: wx, lifecycle: false, ...CLIENT_OVERRIDES });
  const h: Conn = {
    open: false,
    send: (d) => void c.send(d),
    onMessage: (fn) => void c.on('message', (e) => fn(e.data as string)),
    onOpen: (fn) => void c.on('open', fn),
    onClose: (fn) => void c.on('close', fn),
    destroy: () => c.destroy(),
  };
  c.on('open', () => (h.open = true));
  c.on('close', () => (h.open = false));
  return h;
}

function rawConn(wx: WxLike, url: string): Conn {
  const t: SocketTaskLike = wx.connectSocket({ url, fail: () => {} });
  const opens: (() => void)[] = [];
  const h: Conn = {
    open: false,
    send: (d) => t.send({ data: d, fail: () => {} }),
    onMessage: (fn) => t.onMessage((r) => fn(r.data as string)),
    onOpen: (fn) => void opens.push(fn),
    onClose: (fn) => t.onClose(() => fn()),
    destroy: () => t.close({ code: 1000, fail: () => {} }),
  };
  t.onOpen(() => {
    h.open = true;
    opens.forEach((f) => f());
  });
  t.onClose(() => (h.open = false));
  t.onError(() => {});
  return h;
}

function rwsConn(RWS: any, wx: WxLike, url: string): Conn {
  // RWS draws minReconnectionDelay = 1000 + rand·4000 once per module load, i.e. once per phone.
  // Here 2,000 "phones" share one process, so each instance gets its own draw, as on devices.
  const ws = new RWS(url, [], { WebSocket: makeW3CAdapter(wx), minReconnectionDelay: 1000 + Math.random() * 4000 });
  ws.binaryType = 'arraybuffer';
  const h: Conn = {
    open: false,
    send: (d) => ws.send(d),
    onMessage: (fn) => ws.addEventListener('message', (e: { data: string }) => fn(e.data)),
    onOpen: (fn) => ws.addEventListener('open', fn),
    onClose: (fn) => ws.addEventListener('close', fn),
    destroy: () => ws.close(1000),
  };
  ws.addEventListener('open', () => (h.open = true));
  ws.addEventListener('close', () => (h.open = false));
  return h;
}

async function main() {
  let attempts: number[] = [];
  const { make: newWx, source } = await loadWx(cfg.ca, () => attempts.push(now()));
  const sdk = cfg.variant === 'sdk' ? (require(SDK_PATH) as Sdk) : null;
  const RWS = cfg.variant === 'rws' ? require('reconnecting-websocket') : null;
  // One wx per client: every client is its own phone (and app), as in the field.
  const make = (): Conn => {
    const wx = newWx();
    return sdk ? sdkConn(sdk, wx, cfg.url) : RWS ? rwsConn(RWS, wx, cfg.url) : rawConn(wx, cfg.url);
  };
  const backoffMax = CLIENT_OVERRIDES.backoffMax ?? sdk?.CLIENT_DEFAULTS?.backoffMax;
  const info = {
    shim: source,
    backoffMaxMs: sdk ? Number(backoffMax ?? NaN) : RWS ? 10_000 : null,
    ...(sdk && Object.keys(CLIENT_OVERRIDES).length ? { clientOverrides: CLIENT_OVERRIDES } : {}),
  };

  async function openAll(n: number, deadline = 60_000): Promise<Conn[]> {
    const conns: Conn[] = [];
    let opened = 0;
    // Open in batches so the handshakes do not all queue at once (the server is on one core).
    for (let i = 0; i < n; i++) {
      const c = make();
      c.onOpen(() => opened++);
      conns.push(c);
      if (i % 50 === 49) await sleep(5);
    }
    const end = Date.now() + deadline;
    while (opened < n) {
      if (Date.now() > end) throw new Error(`only ${opened}/${n} clients opened within ${deadline} ms`);
      await sleep(20);
    }
    return conns;
  }

  if (cfg.mode === 'msgs') {
    const payload = 'a'.repeat(32);
    const conns = await openAll(cfg.conns);
    let msgs = 0;
    let stopped = false;
    for (const c of conns) {
      c.onMessage(() => {
        msgs++;
        if (!stopped) c.send(payload);
      });
      c.send(payload);
    }
    out({ phase: 'ready', ...info });
    await sleep(cfg.warmupMs ?? 1000);
    msgs = 0;
    const t0 = performance.now();
    out({ phase: 'start' });
    await sleep(cfg.durationMs ?? 3000);
    const seconds = (performance.now() - t0) / 1000;
    stopped = true;
    out({ phase: 'end', seconds, msgs, msgsPerSec: msgs / seconds, conns: conns.length, ...info });
    conns.forEach((c) => c.destroy());
    await sleep(200);
    process.exit(0);
  }

  if (cfg.mode === 'memory') {
    // Load the code and open one socket first so module and TLS setup costs are not counted.
    const first = await openAll(1);
    await sleep(200);
    gc();
    gc();
    const m0 = process.memoryUsage();
    const conns = await openAll(cfg.conns);
    await sleep(500);
    gc();
    gc();
    const m1 = process.memoryUsage();
    const n = conns.length;
    out({
      phase: 'end',
      seconds: 0,
      instances: n,
      kibPerInstance: (m1.rss - m0.rss) / 1024 / n,
      heapKibPerInstance: (m1.heapUsed - m0.heapUsed) / 1024 / n,
      externalKibPerInstance: (m1.external - m0.external) / 1024 / n,
      ...info,
    });
    [...first, ...conns].forEach((c) => c.destroy());
    await sleep(200);
    process.exit(0);
  }

  // ---- storm ---------------------------------------------------------------------------
  const lines = createInterface({ input: process.stdin });
  const command = (word: string) =>
    new Promise<string[]>((resolve) => {
      const on = (l: string) => {
        const parts = l.trim().split(/\s+/);
        if (parts[0] === word) {
          lines.off('line', on);
          resolve(parts);
        }
      };
      lines.on('line', on);
    });
  const t0 = now();
  const conns = await openAll(cfg.conns, 120_000);
  out({ phase: 'connected', n: conns.length, seconds: (now() - t0) / 1000, ...info });

  const K = cfg.messages ?? 3;
  const N = conns.length;
  const backAt = new Array<number>(N).fill(0);
  const nextSeq = new Array<number>(N).fill(0);
  let reordered = 0;
  let delivered = 0;
  let killAt = 0;
  conns.forEach((c, i) => {
    c.onOpen(() => {
      if (killAt && !backAt[i]) backAt[i] = now();
    });
    c.onMessage((data) => {
      if (typeof data !== 'string' || !data.startsWith('m:')) return;
      const [, id, seq] = data.split(':');
      if (Number(id) !== i) return;
      if (Number(seq) === nextSeq[i]) {
        nextSeq[i]!++;
        delivered++;
      } else reordered++;
    });
  });

  const down = await command('down');
  killAt = Number(down[1]);
  attempts = [];
  // Queue only once every client has seen its socket die: a send into a socket that is still
  // half-open is in flight, not queued, and no client can promise to deliver that.
  const closedBy = Date.now() + 5000;
  while (conns.some((c) => c.open) && Date.now() < closedBy) await sleep(10);
  const stillOpen = conns.filter((c) => c.open).length;
  conns.forEach((c, i) => {
    for (let k = 0; k < K; k++) c.send(`m:${i}:${k}`);
  });
  out({ phase: 'queued', queued: N * K, stillOpen, at: now() });

  const up = await command('up');
  const upAt = Number(up[1]);
  const limitMs = Number(up[2] ?? 60_000);
  const need = Math.ceil(N * 0.99);
  let t99: number | null = null;
  const end = upAt + limitMs;
  for (;;) {
    const back = backAt.filter(Boolean).length;
    if (t99 == null && back >= need) t99 = [...backAt].filter(Boolean).sort((a, b) => a - b)[need - 1]!;
    if ((back === N && delivered === N * K) || now() > end) break;
    await sleep(50);
  }
  const backTimes = backAt.filter(Boolean).sort((a, b) => a - b);
  out({
    phase: 'end',
    seconds: (now() - killAt) / 1000,
    clients: N,
    back: backTimes.length,
    backSeconds: t99 != null ? (t99 - upAt) / 1000 : null,
    backSecondsFromKill: t99 != null ? (t99 - killAt) / 1000 : null,
    allBackSeconds: backTimes.length === N ? (backTimes[N - 1]! - upAt) / 1000 : null,
    queued: N * K,
    delivered,
    lost: N * K - delivered,
    reordered,
    stillOpenAtQueue: stillOpen,
    attempts: attempts.map((t) => Math.round((t - killAt) * 10) / 10),
    killAt,
    upAt,
    ...info,
  });
  lines.close();
  conns.forEach((c) => c.destroy());
  await sleep(300);
  process.exit(0);
}

main().catch(fail);
