// The moving parts of one loss-matrix scenario: the server process (fixture.ts) that can be
// killed, stopped and restarted on the same port; a TCP relay whose "network" can be switched
// off; the app (the built miniprogram_dist messaging client on the wx shim, on storage that
// outlives an app instance); and the two steady streams (publications server → app, requests
// app → server) that keep going across the disruption.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppEvent } from './checker';
import type { FixtureConfig } from './fixture';
import { createWxShim, type WxShim } from '../support/wx-shim';
import { DeadlineError } from '../support/wait';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixture.ts');

let bundled: Promise<string> | undefined;

/**
 * fixture.ts bundled once per test process, with the built wss-mp-server and its dependencies,
 * into one plain ES module in a temporary directory: a node then starts on a fifth of the CPU it
 * needs under tsx (0.14 s against 0.74 s, measured), and the cluster matrix starts twenty of them
 * at once on two cores.
 */
function fixtureEntry(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import('esbuild');
    const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-loss-fixture-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const outfile = path.join(dir, 'fixture.mjs');
    await build({
      entryPoints: [FIXTURE], bundle: true, format: 'esm', platform: 'node', target: 'node20', outfile, logLevel: 'warning',
      // The CommonJS dependencies (ws, ioredis) call require(); an ES module has none of its own.
      banner: { js: "import { createRequire as __wssCreateRequire } from 'node:module'; const require = __wssCreateRequire(import.meta.url);" },
    });
    return outfile;
  })();
  return bundled;
}

export interface ServerProc {
  url: string;
  port: number;
  /** The admin listener's URL (/readyz), when the fixture was started with `admin`. */
  admin: string | undefined;
  proc: ChildProcess;
  /** Every log entry the server wrote (real server only). */
  logs: Record<string, unknown>[];
  exited: Promise<void>;
  /** Publishes seq on `feed`; rejects if the process dies first. */
  publish(seq: number, pad?: number): Promise<{ offset: number; epoch: string }>;
  signal(sig: NodeJS.Signals): void;
}

/** Starts fixture.ts and resolves once it listens. */
export async function startFixture(cfg: FixtureConfig, timeout = 30_000): Promise<ServerProc> {
  const proc = fork(await fixtureEntry(), [JSON.stringify(cfg)], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const stderr: string[] = [];
  proc.stderr!.on('data', (d) => stderr.push(String(d)));
  const logs: Record<string, unknown>[] = [];
  const waiting = new Map<number, { resolve: (p: { offset: number; epoch: string }) => void; reject: (e: Error) => void }>();
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  void exited.then(() => {
    for (const w of waiting.values()) w.reject(new Error('server process exited'));
    waiting.clear();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new DeadlineError(`the loss fixture to listen\n${stderr.join('')}`, timeout));
    }, timeout);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the loss fixture exited before listening:\n${stderr.join('')}`));
    });
    proc.on('message', (m: { ready?: string; admin?: string; published?: number; offset?: number; epoch?: string; failed?: number; error?: string; log?: Record<string, unknown> }) => {
      if (m.log) logs.push(m.log);
      else if (m.published !== undefined) waiting.get(m.published)?.resolve({ offset: m.offset!, epoch: m.epoch! });
      else if (m.failed !== undefined) waiting.get(m.failed)?.reject(new Error(m.error));
      else if (m.ready) {
        clearTimeout(timer);
        const url = m.ready;
        resolve({
          url,
          port: Number(new URL(url).port),
          admin: m.admin,
          proc,
          logs,
          exited,
          publish: (seq, pad) =>
            new Promise((res, rej) => {
              if (proc.exitCode !== null || proc.signalCode !== null || !proc.connected) return rej(new Error('server process gone'));
              waiting.set(seq, {
                resolve: (p) => (waiting.delete(seq), res(p)),
                reject: (e) => (waiting.delete(seq), rej(e)),
              });
              proc.send({ pub: seq, pad }, (err) => err && waiting.get(seq)?.reject(err));
            }),
          signal: (sig) => void proc.kill(sig),
        });
      }
    });
  });
}

/**
 * A TCP relay standing in for the phone's network. `off()`: bytes on open connections are
 * dropped in both directions and new connections are reset (the radio is gone; nothing tells
 * either end). `on()`: the dead connections are reset, new ones are relayed again.
 */
export interface Relay {
  port: number;
  off(): void;
  on(): void;
  close(): void;
}

/**
 * Relays bytes both ways between `down` and `upstream` while `up()` (bytes are dropped
 * otherwise: a network that is gone); either side's end or error ends both. The pair stays in
 * `pairs` while it lives.
 */
export function splice(down: net.Socket, upstream: net.Socket, pairs: Set<[net.Socket, net.Socket]>, up: () => boolean): void {
  const pair: [net.Socket, net.Socket] = [down, upstream];
  pairs.add(pair);
  const end = () => {
    pairs.delete(pair);
    down.destroy();
    upstream.destroy();
  };
  down.on('data', (d) => up() && upstream.write(d));
  upstream.on('data', (d) => up() && down.write(d));
  for (const x of pair) {
    x.on('error', end);
    x.on('close', end);
  }
}

/** The network comes back: the connections that lived through the outage are reset (dead links). */
export function resetAll(pairs: Set<[net.Socket, net.Socket]>): void {
  for (const [a, b] of pairs) {
    a.resetAndDestroy();
    b.resetAndDestroy();
  }
  pairs.clear();
}

export async function startRelay(target: () => number): Promise<Relay> {
  let up = true;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((down) => {
    if (!up) return void down.resetAndDestroy();
    splice(down, net.connect(target(), '127.0.0.1'), pairs, () => up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    off: () => void (up = false),
    on() {
      resetAll(pairs);
      up = true;
    },
    close() {
      for (const [a, b] of pairs) (a.destroy(), b.destroy());
      server.close();
    },
  };
}

/** A Map-backed storage that outlives app instances (what wx.setStorageSync keeps). */
export function memoryStorage() {
  const map = new Map<string, string>();
  return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), removeItem: (k: string) => void map.delete(k) };
}

export interface App {
  wx: WxShim;
  mc: any;
  /** The `feed` subscription (its `position`). */
  sub: { position: { offset: number; epoch: string } | null };
  errors: { code: string; message: string }[];
  /** Close codes of the app's sockets, in order. */
  closes: number[];
  destroy(): void;
}

export interface AppOptions {
  create: (o: object) => any;
  url: string;
  ca?: string;
  storage: ReturnType<typeof memoryStorage>;
  /** Where deliveries and resyncs go, in order (shared by every instance of the app). */
  events: AppEvent[];
  /** seq of every answer (shared). */
  answers: number[];
  clientOptions?: object;
}

/** One app instance: a fresh shim ("process"), the messaging client, the channel subscription. */
export function startApp(o: AppOptions): App {
  const wx = createWxShim({ ca: o.ca });
  const mc = o.create({
    url: o.url,
    platform: wx,
    storage: o.storage,
    // Quick to notice a dead link and to come back, so every disruption fits the time budget.
    backoffBase: 200,
    backoffMax: 2000,
    connectTimeout: 4000,
    heartbeatInterval: 3000,
    heartbeatTimeout: 3000,
    ...o.clientOptions,
  });
  const errors: { code: string; message: string }[] = [];
  mc.on('error', (e: { code: string; message: string }) => errors.push(e));
  const closes: number[] = [];
  mc.client.on('close', (e: { code: number }) => closes.push(e.code));
  mc.on('reply', (r: { data?: { seq: number } }) => r.data && o.answers.push(r.data.seq));
  const sub = mc.subscribe('feed', {
    onPublication: (d: { seq: number }, p: { offset: number; epoch: string }) => o.events.push({ t: 'pub', offset: p.offset, epoch: p.epoch, seq: d.seq }),
    onResync: (i: { previous: { offset: number; epoch: string }; position: { offset: number; epoch: string } }) =>
      o.events.push({ t: 'resync', previous: { ...i.previous }, position: { ...i.position } }),
  });
  return {
    wx,
    mc,
    sub,
    errors,
    closes,
    destroy() {
      mc.destroy();
      wx.closeAll();
    },
  };
}

/** pubs.log, calls.log and the applied effects (one file per seq under effects/), as parseJournal takes them. */
export function readJournal(dir: string): [string, string, string] {
  const read = (n: string) => (existsSync(path.join(dir, n)) ? readFileSync(path.join(dir, n), 'utf8') : '');
  const effects = existsSync(path.join(dir, 'effects')) ? readdirSync(path.join(dir, 'effects')).join('\n') : '';
  return [read('pubs.log'), read('calls.log'), effects];
}

export const journalDir = () => mkdtempSync(path.join(tmpdir(), 'wss-mp-loss-'));
