// The servers under test. Each target runs in its own process(es) on the server core, is started
// fresh for every run, and is stopped with SIGTERM (so --cpu-prof profiles get written).
//
//   native        wss-mp-server, native TLS (--cert/--key)                     ← what we ship
//   native-nocork the same with --no-coalesce-writes (one write per frame)     ← what coalescing gains
//   native-w2     the same with --workers 2, not pinned (uses both cores, load generator included)
//   native-metrics the same with the admin listener on and /metrics scraped every second ← what metrics cost
//   https-ws      node:https + ws echo, same TLS policy and certificate        ← the reference to beat
//   http-ws       node:http + ws echo, no TLS                                  ← what TLS costs
//   tls-echo      node:tls byte echo, same TLS policy                          ← ceiling for TLS on Node
//   nginx-native  nginx (TLS) → wss-mp-server --behind-proxy                   ← method 1, ours
//   nginx-ws      nginx (TLS) → node:http + ws echo                            ← method 1, raw ws
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, rmSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findBinary } from '../../support/binaries';
import { startOnFreePort } from '../../support/ports';
import { SERVER_CLI } from '../../support/server';
import { spawnPinned, stopProcess, waitListening, lines, sleep } from './proc';
import type { TlsPolicy } from './tls-policy';
import { startScraper, SCRAPE_INTERVAL_MS, type Scraper } from './scraper';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BASELINE = path.join(HERE, '../servers/baseline.mjs');
const WSS_MP_BURST = path.join(HERE, '../servers/wss-mp-burst.mjs');
/** The wss-mp-server CLI under test; BENCH_SERVER_CLI points at another build (A/B a fix). */
const CLI = process.env.BENCH_SERVER_CLI ? path.resolve(process.env.BENCH_SERVER_CLI) : SERVER_CLI;

export const TARGETS = ['native', 'native-nocork', 'native-w2', 'native-metrics', 'https-ws', 'http-ws', 'tls-echo', 'nginx-native', 'nginx-ws'] as const;
export type TargetName = (typeof TARGETS)[number];

export const TARGET_LABEL: Record<TargetName, string> = {
  native: 'wss-mp-server (native TLS)',
  'native-nocork': 'wss-mp-server, coalescing off',
  'native-w2': 'wss-mp-server --workers 2 (both cores)',
  'native-metrics': 'wss-mp-server, metrics on (scraped 1/s)',
  'https-ws': 'node:https + ws',
  'http-ws': 'node:http + ws (no TLS)',
  'tls-echo': 'node:tls byte echo',
  'nginx-native': 'nginx → wss-mp-server --behind-proxy',
  'nginx-ws': 'nginx → node:http + ws',
};

export interface Certs {
  /** leaf + intermediate, what servers send */
  fullchain: string;
  key: string;
  /** root CA, what the load generator trusts */
  ca: string;
}

export interface TargetContext {
  certs: Certs;
  policy: TlsPolicy;
  core: string | null;
  /** Directory for --cpu-prof output, or null. */
  profileDir: string | null;
  /** Extra wss-mp-server flags (caps lifted for the benchmark, see README). */
  serverFlags: string[];
  /** Extra wss-mp-server flags for this run only (e.g. turning a feature off). */
  extraNativeFlags?: string[];
  /** The server's flag that turns write coalescing off (native-nocork), if it has one. */
  coalesceOffFlag?: string | null;
}

export interface RunningTarget {
  name: TargetName;
  /** URL for the load generator (always 127.0.0.1). */
  url: string;
  kind: 'ws' | 'tls';
  /** Processes whose CPU counts as "server CPU" (descendants are added when sampling). */
  cpuPids: number[];
  /** The process whose RSS is "server RSS" (the backend for nginx targets). */
  rssPid: number;
  /** native-metrics: the scraper of its /metrics (count before and after a window). */
  scraper?: Scraper;
  stop(): Promise<void>;
}

function nodeArgs(ctx: TargetContext, tag: string): string[] {
  if (!ctx.profileDir) return [];
  mkdirSync(ctx.profileDir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', ctx.profileDir, '--cpu-prof-name', `${tag}-${Date.now()}.cpuprofile`];
}

export function to127(url: string): string {
  const u = new URL(url);
  if (u.hostname === 'localhost' || u.hostname === '0.0.0.0' || u.hostname === '[::]' || u.hostname === '::') u.hostname = '127.0.0.1';
  if (!u.pathname || u.pathname === '/') u.pathname = u.protocol === 'tls:' ? '' : '/wss';
  return u.toString().replace(/\/$/, '');
}

interface Proc {
  proc: ChildProcess;
  url: string;
}

async function startBaseline(kind: 'https-ws' | 'http-ws' | 'tls-echo', ctx: TargetContext, port = 0, burst = 1): Promise<Proc> {
  const cfg = {
    kind,
    port,
    burst,
    tls: kind === 'http-ws' ? undefined : { ...ctx.policy, cert: ctx.certs.fullchain, key: ctx.certs.key },
  };
  const proc = spawnPinned(process.execPath, [...nodeArgs(ctx, kind), BASELINE, JSON.stringify(cfg)], { core: ctx.core });
  const { url } = await waitListening(proc, kind);
  return { proc, url };
}

/**
 * Starts the wss-mp-server CLI with `args` (plus --port 0 and the bench's flags). `onLine` sees
 * every line of its output from the first one (attached before any can arrive).
 */
export async function startWssMp(ctx: TargetContext, args: string[], tag: string, port = 0, onLine?: (line: string) => void): Promise<Proc> {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: build the server first`);
  const proc = spawnPinned(process.execPath, [...nodeArgs(ctx, tag), CLI, ...args, '--port', String(port), ...ctx.serverFlags], {
    core: ctx.core,
  });
  if (onLine) lines(proc, onLine);
  const { url } = await waitListening(proc, `wss-mp-server ${args.join(' ')}`);
  return { proc, url };
}

export function nativeArgs(ctx: TargetContext): string[] {
  return ['--cert', ctx.certs.fullchain, '--key', ctx.certs.key, ...(ctx.extraNativeFlags ?? [])];
}

async function waitTcp(port: number, timeout: number): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeout} ms`);
    await sleep(50);
  }
}

/**
 * The nginx site: what `wss-mp-server proxy-config nginx` prints for users (the config we
 * ship), with the listen address, upstream and certificate of this run. If the CLI cannot
 * render it, a hand-written equivalent (docs/tls-policy.md, docs/deployment.md) stands in and the results say so.
 */
export function nginxSite(listenPort: number, backendPort: number, certs: Certs, policy: TlsPolicy): { site: string; source: string } {
  const r = spawnSync(
    process.execPath,
    [CLI, 'proxy-config', 'nginx', '--domain', 'localhost', '--upstream', `127.0.0.1:${backendPort}`, '--listen', `127.0.0.1:${listenPort}`, '--cert', certs.fullchain, '--key', certs.key],
    { encoding: 'utf8', timeout: 10_000 },
  );
  if (r.status === 0 && /server\s*\{/.test(r.stdout)) return { site: r.stdout, source: 'wss-mp-server proxy-config nginx' };
  const protocols = policy.minVersion === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2 TLSv1.3';
  const site = `map $http_upgrade $connection_upgrade { default upgrade; '' close; }
server {
  listen 127.0.0.1:${listenPort} ssl;
  server_name localhost;
  ssl_certificate ${certs.fullchain};
  ssl_certificate_key ${certs.key};
  ssl_protocols ${protocols};
  ssl_ciphers ${policy.ciphers};
  ssl_ecdh_curve ${policy.ecdhCurve};
  ssl_prefer_server_ciphers off;
  ssl_session_cache shared:BENCH:10m;
  ssl_session_timeout 1d;
  ssl_session_tickets off;
  location = /wss {
    proxy_pass http://127.0.0.1:${backendPort};
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header Host $host;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_connect_timeout 5s;
    proxy_read_timeout 300s;
    proxy_send_timeout 300s;
  }
}
`;
  return { site, source: `hand-written fallback (proxy-config failed: ${(r.stderr || r.stdout || '').trim().split('\n')[0]})` };
}

/** What a distro's nginx.conf provides around the site, minus logging: one worker, no access log. */
export function nginxMain(dir: string, site: string): string {
  return `# generated by test/bench (benchmark only)
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
worker_rlimit_nofile 40000;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
${site.replace(/^/gm, '  ')}
}
`;
}

/** Which nginx site config the last nginx target ran with (for the results file). */
export let nginxSiteSource = 'not started';

function startNginx(ctx: TargetContext, backendPort: number): Promise<Proc & { dir: string }> {
  // nginx must be told its port (it refuses `listen …:0`): retried if another process binds it first.
  return startOnFreePort((port) => startNginxOn(ctx, backendPort, port));
}

async function startNginxOn(ctx: TargetContext, backendPort: number, port: number): Promise<Proc & { dir: string }> {
  const nginx = findBinary('nginx');
  if (!nginx) throw new Error('nginx not found (apt-get install nginx)');
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-bench-nginx-'));
  chmodSync(dir, 0o755); // workers run as an unprivileged user
  mkdirSync(path.join(dir, 'tmp'));
  const { site, source } = nginxSite(port, backendPort, ctx.certs, ctx.policy);
  nginxSiteSource = source;
  writeFileSync(path.join(dir, 'nginx.conf'), nginxMain(dir, site));
  const proc = spawnPinned(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')], { core: ctx.core });
  const out = lines(proc, () => {});
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (c) => {
      let log = '';
      try {
        log = readFileSync(path.join(dir, 'error.log'), 'utf8');
      } catch {}
      reject(new Error(`nginx exited (${c}): ${out.join('\n')}\n${log}`));
    }),
  );
  exited.catch(() => {});
  await Promise.race([waitTcp(port, 10_000), exited]);
  return { proc, url: `wss://127.0.0.1:${port}/wss`, dir };
}

export async function startTarget(name: TargetName, ctx: TargetContext): Promise<RunningTarget> {
  const single = (p: Proc, kind: 'ws' | 'tls' = 'ws'): RunningTarget => ({
    name,
    url: to127(p.url),
    kind,
    cpuPids: [p.proc.pid!],
    rssPid: p.proc.pid!,
    stop: () => stopProcess(p.proc),
  });
  switch (name) {
    case 'native':
      return single(await startWssMp(ctx, nativeArgs(ctx), 'native'));
    case 'native-nocork':
      if (!ctx.coalesceOffFlag) throw new Error('this wss-mp-server build has no flag to turn write coalescing off');
      return single(await startWssMp(ctx, [...nativeArgs(ctx), ctx.coalesceOffFlag], 'native-nocork'));
    case 'native-metrics': {
      // The admin listener on a free loopback port; its URL is in the log line that follows
      // "listening on". Metrics "off" (native) still counts: Stats' plain fields are always
      // kept, so what this adds is the listener, prom-client's collectors and the scrapes.
      let admin: (url: string) => void = () => {};
      const adminUrl = new Promise<string>((r) => (admin = r));
      const p = await startWssMp(ctx, [...nativeArgs(ctx), '--admin', '127.0.0.1:0'], 'native-metrics', 0, (l) => {
        const m = /admin listener on (http:\/\/[^\s"]+)/.exec(l);
        if (m) admin(m[1]!);
      });
      let url: string;
      try {
        url = await Promise.race([adminUrl, sleep(10_000).then(() => Promise.reject(new Error('wss-mp-server --admin: no "admin listener on" line within 10 s')))]);
      } catch (e) {
        await stopProcess(p.proc);
        throw e;
      }
      const scraper = startScraper(url, SCRAPE_INTERVAL_MS);
      const t = single(p);
      return {
        ...t,
        scraper,
        stop: async () => {
          await scraper.stop();
          await t.stop();
        },
      };
    }
    case 'native-w2': {
      // Not pinned: two workers on one core would measure nothing. The primary's descendants
      // (the workers) count as server CPU; RSS is the primary's alone.
      const p = await startWssMp({ ...ctx, core: null }, [...nativeArgs(ctx), '--workers', '2'], 'native-w2');
      return single(p);
    }
    case 'https-ws':
    case 'http-ws':
      return single(await startBaseline(name, ctx));
    case 'tls-echo':
      return single(await startBaseline(name, ctx), 'tls');
    case 'nginx-native':
    case 'nginx-ws': {
      const backend =
        name === 'nginx-native'
          ? await startWssMp(ctx, ['--behind-proxy'], 'behind-proxy')
          : await startBaseline('http-ws', ctx);
      const backendPort = Number(new URL(backend.url).port);
      let ngx: Proc & { dir: string };
      try {
        ngx = await startNginx(ctx, backendPort);
      } catch (e) {
        await stopProcess(backend.proc);
        throw e;
      }
      return {
        name,
        url: ngx.url,
        kind: 'ws',
        cpuPids: [ngx.proc.pid!, backend.proc.pid!],
        rssPid: backend.proc.pid!,
        stop: async () => {
          await stopProcess(ngx.proc, 'SIGTERM');
          await stopProcess(backend.proc);
          rmSync(ngx.dir, { recursive: true, force: true });
        },
      };
    }
  }
}

/** Targets the burst mode runs against (each answers one request with `BURST_FRAMES` frames). */
export const BURST_TARGETS = ['native', 'native-nocork', 'https-ws'] as const satisfies readonly TargetName[];
export const BURST_FRAMES = 10;

/**
 * A burst server: wss-mp-server's API (the build the CLI belongs to) with an onMessage hook,
 * coalescing on or off, or the raw https + ws baseline; both answer each message with
 * BURST_FRAMES copies of it, with the same TLS material.
 */
export async function startBurstTarget(name: (typeof BURST_TARGETS)[number], ctx: TargetContext): Promise<RunningTarget> {
  let p: Proc;
  if (name === 'https-ws') p = await startBaseline('https-ws', ctx, 0, BURST_FRAMES);
  else {
    const cfg = {
      index: path.join(path.dirname(CLI), 'index.js'),
      cert: ctx.certs.fullchain,
      key: ctx.certs.key,
      burst: BURST_FRAMES,
      coalesceWrites: name === 'native',
    };
    const proc = spawnPinned(process.execPath, [...nodeArgs(ctx, `burst-${name}`), WSS_MP_BURST, JSON.stringify(cfg)], { core: ctx.core });
    p = { proc, ...(await waitListening(proc, `burst ${name}`)) };
  }
  return { name, url: to127(p.url), kind: 'ws', cpuPids: [p.proc.pid!], rssPid: p.proc.pid!, stop: () => stopProcess(p.proc) };
}
