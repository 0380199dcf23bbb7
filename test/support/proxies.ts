// Real reverse proxies for tests: nginx, Apache httpd and Caddy, each started from its Debian
// binary with its own prefix in a temp dir (config, pid, locks, logs, caches), listening only
// where the site config says (loopback, a free port), in the foreground, as a process group we
// own. Works as root (workers drop to nobody) and as a normal user.
//
// The product (`wss-mp-server proxy-config`) emits the *site* part users paste into their
// distro's config: an http-context file for nginx, a <VirtualHost> for Apache, a site block
// for Caddy. What a distro's main config provides (pid file, modules, events, logs, the admin
// endpoint) is added here, and nothing in the site text is edited. Usage:
//
//   const nginx = await startOnFreePort((port) => {   // test/support/ports.ts
//     const cfg = renderProxyConfig('nginx', { domain, listen: `127.0.0.1:${port}`, cert, key });
//     return startNginx({ site: cfg.text, main: cfg.main, port });
//   });
//   ... await nginx.reload(); ... await nginx.stop();
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { recentlyFreePort } from './ports';
import { findBinary } from './binaries';
import { waitFor } from './wait';

const execFileP = promisify(execFile);

export type ProxyName = 'nginx' | 'apache' | 'caddy';

/** The Debian binary for each proxy (Apache's is apache2). */
export const PROXY_BINARY: Record<ProxyName, string> = { nginx: 'nginx', apache: 'apache2', caddy: 'caddy' };

export interface ProxyStartOptions {
  /** The site config, verbatim (e.g. `renderProxyConfig(...).text`). */
  site: string;
  /** Main-context lines for nginx (e.g. `renderProxyConfig(...).main`); ignored by the others. */
  main?: string;
  /** The TCP port the site listens on (on 127.0.0.1): readiness is a connect to it. */
  port: number;
  /** Prefix directory; a fresh temp dir by default (removed by stop() only if created here). */
  dir?: string;
  /** Start-up deadline, ms. @default 15000 */
  timeout?: number;
}

export interface RunningProxy {
  name: ProxyName;
  port: number;
  /** The prefix directory: config, pid, logs. */
  dir: string;
  /** Main process id (also the process group id). */
  pid: number;
  /** The main config file the proxy runs with. */
  configFile: string;
  /** Everything the proxy wrote: its error log plus stdout/stderr. */
  log(): string;
  /** Replaces the site config (same port), then reloads. */
  rewriteSite(site: string): void;
  /**
   * Reloads the configuration the proxy's own way (nginx: SIGHUP, as `nginx -s reload`;
   * Apache: SIGUSR1, as `apachectl graceful`; Caddy: `caddy reload --force`) and resolves
   * once the new configuration serves. Rejects if the proxy refused the new config.
   */
  reload(): Promise<void>;
  /** Stops the whole process group (SIGTERM, SIGKILL after 5 s) and removes a temp prefix. */
  stop(): Promise<void>;
}

const IS_ROOT = process.getuid?.() === 0;

// Process groups we started, killed if the test process exits without stop().
const live = new Set<number>();
process.once('exit', () => {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface Launch {
  name: ProxyName;
  dir: string;
  ownDir: boolean;
  configFile: string;
  siteFile: string;
  errorLog: string | null;
  cmd: string;
  args: string[];
  /** The config test command: [binary, args]. */
  check: [string, string[]];
  env?: NodeJS.ProcessEnv;
  reload(ctx: { pid: number; logOffset: () => number; log: () => string }): Promise<void>;
}

async function launch(l: Launch, port: number, timeout: number): Promise<RunningProxy> {
  const out: string[] = [];
  const proc: ChildProcess = spawn(l.cmd, l.args, {
    cwd: l.dir,
    detached: true, // own process group: stop() reaches workers too
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...l.env },
  });
  const pid = proc.pid!;
  live.add(pid);
  proc.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
  proc.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => proc.once('exit', (code, signal) => {
    exited = code ?? (signal ? -1 : null);
    live.delete(pid);
    resolve();
  }));
  const log = () => {
    const file = l.errorLog && existsSync(l.errorLog) ? readFileSync(l.errorLog, 'utf8') : '';
    return file + out.join('');
  };
  try {
    await waitFor(async () => {
      if (exited !== undefined) throw new Error(`${l.name} exited (${exited}) during start-up:\n${log()}`);
      return tcpOpen(port);
    }, { timeout, interval: 20, what: `${l.name} listening on 127.0.0.1:${port}` });
  } catch (err) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await exit;
    if (l.ownDir) rmSync(l.dir, { recursive: true, force: true });
    if ((err as Error).message.includes('exited')) throw err;
    throw new Error(`${(err as Error).message}\n${log()}`);
  }
  return {
    name: l.name,
    port,
    dir: l.dir,
    pid,
    configFile: l.configFile,
    log,
    rewriteSite: (site) => writeFileSync(l.siteFile, site),
    reload: () => l.reload({ pid, logOffset: () => log().length, log }),
    async stop() {
      if (exited === undefined) {
        try {
          process.kill(-pid, 'SIGTERM');
        } catch {
          /* gone */
        }
        const t = setTimeout(() => {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5000);
        await exit;
        clearTimeout(t);
      }
      if (l.ownDir) rmSync(l.dir, { recursive: true, force: true });
    },
  };
}

function prefix(name: ProxyName, dir?: string): { dir: string; ownDir: boolean } {
  const d = dir ?? mkdtempSync(path.join(tmpdir(), `wss-mp-${name}-`));
  // Workers may run as nobody: let them traverse the prefix.
  chmodSync(d, 0o755);
  return { dir: d, ownDir: !dir };
}

function binary(name: ProxyName): string {
  const p = findBinary(PROXY_BINARY[name]);
  if (!p) throw new Error(`missing binary "${PROXY_BINARY[name]}" (apt-get install it; .ci/run does)`);
  return p;
}

/** Waits until `log()` past `offset` matches `ok` (resolves) or `bad` (rejects). */
async function logAfter(log: () => string, offset: number, ok: RegExp, bad: RegExp, what: string, timeout = 10_000) {
  await waitFor(() => {
    const tail = log().slice(offset);
    const b = bad.exec(tail);
    if (b) throw new Error(`${what} failed: ${tail}`);
    return ok.test(tail);
  }, { timeout, what });
}

/**
 * Writes the site config under test into `dir` as `siteName`, and the harness's main config as
 * `configName`: `main(siteFile)`'s lines, which include the site file, ending in a newline.
 */
function writeConfigs(dir: string, site: string, siteName: string, configName: string, main: (siteFile: string) => string[]) {
  const siteFile = path.join(dir, siteName);
  const configFile = path.join(dir, configName);
  writeFileSync(siteFile, site);
  writeFileSync(configFile, [...main(siteFile), ''].join('\n'));
  return { siteFile, configFile };
}

async function prepareNginx(opts: ProxyStartOptions): Promise<Launch> {
  const bin = binary('nginx');
  const { dir, ownDir } = prefix('nginx', opts.dir);
  const tmp = path.join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  chmodSync(tmp, 0o777);
  const errorLog = path.join(dir, 'error.log');
  const { siteFile, configFile } = writeConfigs(dir, opts.site, 'site.conf', 'nginx.conf', (siteFile) => [
    '# Test harness main config (what /etc/nginx/nginx.conf provides on a real host).',
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    IS_ROOT ? 'user root;' : '',
    `pid ${dir}/nginx.pid;`,
    `error_log ${errorLog} info;`,
    opts.main ?? '',
    'events { worker_connections 512; }',
    'http {',
    `    access_log ${dir}/access.log;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${tmp}/${t};`),
    `    include ${siteFile};`,
    '}',
  ]);
  return {
    name: 'nginx', dir, ownDir, configFile, siteFile, errorLog,
    cmd: bin,
    args: ['-p', dir, '-c', configFile, '-e', errorLog],
    check: [bin, ['-t', '-p', dir, '-c', configFile, '-e', errorLog]],
    async reload({ pid, logOffset, log }) {
      // Same as `nginx -s reload`: the master re-reads the config, starts new workers and
      // tells the old ones to finish gracefully.
      const offset = logOffset();
      process.kill(pid, 'SIGHUP');
      // Done when the new worker runs and the old one stopped accepting: until it logs
      // "gracefully shutting down" it may still take new connections with the old config.
      await logAfter(log, offset, /start worker process \d+[\s\S]*gracefully shutting down/, /\[emerg\]/, 'nginx reload');
    },
  };
}

const APACHE_MODULE_DIRS = ['/usr/lib/apache2/modules', '/usr/lib64/httpd/modules', '/usr/lib/httpd/modules'];

async function prepareApache(opts: ProxyStartOptions): Promise<Launch> {
  const bin = binary('apache');
  const { dir, ownDir } = prefix('apache', opts.dir);
  const mods = APACHE_MODULE_DIRS.find((d) => existsSync(path.join(d, 'mod_proxy.so')));
  if (!mods) throw new Error(`apache modules not found in ${APACHE_MODULE_DIRS.join(', ')}`);
  const errorLog = path.join(dir, 'error.log');
  const load = (m: string) => `LoadModule ${m}_module ${mods}/mod_${m}.so`;
  const { siteFile, configFile } = writeConfigs(dir, opts.site, 'site.conf', 'httpd.conf', (siteFile) => [
    '# Test harness main config (what apache2.conf, ports.conf and mods-enabled provide).',
    `ServerRoot ${dir}`,
    'ServerName localhost',
    `DefaultRuntimeDir ${dir}`,
    `PidFile ${dir}/httpd.pid`,
    `Mutex file:${dir} default`,
    `ErrorLog ${errorLog}`,
    'LogLevel info',
    `CustomLog ${dir}/access.log "%a %r %>s"`,
    IS_ROOT ? 'User nobody' : '',
    IS_ROOT ? 'Group nogroup' : '',
    ...['mpm_event', 'authz_core', 'ssl', 'socache_shmcb', 'proxy', 'proxy_http', 'headers'].map(load),
    'StartServers 1',
    'ServerLimit 4',
    'ThreadsPerChild 25',
    'MaxRequestWorkers 100',
    `SSLSessionCache shmcb:${dir}/ssl_scache(512000)`,
    `Listen 127.0.0.1:${opts.port} https`,
    `Include ${siteFile}`,
  ]);
  const configtest = async () => {
    try {
      await execFileP(bin, ['-d', dir, '-f', configFile, '-t'], { cwd: dir });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`apache2 -t refused the config: ${e.stderr ?? e.message}`);
    }
  };
  return {
    name: 'apache', dir, ownDir, configFile, siteFile, errorLog,
    cmd: bin,
    args: ['-d', dir, '-f', configFile, '-DFOREGROUND'],
    check: [bin, ['-d', dir, '-f', configFile, '-t']],
    async reload({ pid, logOffset, log }) {
      // A graceful restart with a broken config stops Apache altogether (apachectl runs
      // configtest first for that reason).
      await configtest();
      const offset = logOffset();
      // Same as `apachectl graceful`: old children finish their connections (WebSocket
      // tunnels included), new children start with the new config.
      process.kill(pid, 'SIGUSR1');
      await logAfter(log, offset, /resuming normal operations/, /AH00016|AH00015|\[emerg\]/, 'apache graceful restart');
    },
  };
}

async function prepareCaddy(opts: ProxyStartOptions): Promise<Launch> {
  const bin = binary('caddy');
  const { dir, ownDir } = prefix('caddy', opts.dir);
  // Caddy's admin endpoint and its unused http port: taken by the same retry as the listener.
  const [admin, httpPort] = [await recentlyFreePort(), await recentlyFreePort()];
  const { siteFile, configFile } = writeConfigs(dir, opts.site, 'site.caddy', 'Caddyfile', (siteFile) => [
    '# Test harness global options (what a real host leaves at defaults).',
    '{',
    `    admin 127.0.0.1:${admin}`,
    `    storage file_system ${dir}/data`,
    `    http_port ${httpPort}`,
    '    auto_https disable_redirects',
    '    skip_install_trust',
    '}',
    `import ${siteFile}`,
  ]);
  const env = {
    HOME: dir,
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
  };
  return {
    name: 'caddy', dir, ownDir, configFile, siteFile, errorLog: null,
    cmd: bin,
    args: ['run', '--config', configFile, '--adapter', 'caddyfile'],
    check: [bin, ['validate', '--config', configFile, '--adapter', 'caddyfile']],
    env,
    async reload() {
      // `caddy reload` posts the new config to the admin API and returns once it is live.
      // --force: reload even when the file did not change.
      try {
        await execFileP(bin, ['reload', '--config', configFile, '--adapter', 'caddyfile', '--address', `127.0.0.1:${admin}`, '--force'], {
          cwd: dir,
          env: { ...process.env, ...env },
        });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`caddy reload failed: ${e.stderr ?? e.message}`);
      }
    },
  };
}

const PREPARE: Record<ProxyName, (o: ProxyStartOptions) => Promise<Launch>> = {
  nginx: prepareNginx,
  apache: prepareApache,
  caddy: prepareCaddy,
};

/** nginx with `daemon off`, its own pid/error log/temp paths; reload = SIGHUP. */
export async function startNginx(opts: ProxyStartOptions): Promise<RunningProxy> {
  return startProxy('nginx', opts);
}

/** Apache httpd (event MPM) in the foreground, own ServerRoot; reload = graceful restart. */
export async function startApache(opts: ProxyStartOptions): Promise<RunningProxy> {
  return startProxy('apache', opts);
}

/** Caddy with its own admin endpoint, storage and HTTP port; reload = `caddy reload --force`. */
export async function startCaddy(opts: ProxyStartOptions): Promise<RunningProxy> {
  return startProxy('caddy', opts);
}

/** Starts the named proxy; rejects with the proxy's own message if it refuses the config. */
export async function startProxy(name: ProxyName, opts: ProxyStartOptions): Promise<RunningProxy> {
  const l = await PREPARE[name](opts);
  await runCheck(l);
  return launch(l, opts.port, opts.timeout ?? 15_000);
}

async function runCheck(l: Launch): Promise<string> {
  try {
    const r = await execFileP(l.check[0], l.check[1], { cwd: l.dir, env: { ...process.env, ...l.env } });
    return r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${l.name} refused the config:\n${e.stderr || e.stdout || e.message}`);
  }
}

/**
 * The proxy's own config test (`nginx -t`, `apache2 -t`, `caddy validate`) on the site text
 * inside the harness config, without starting it. Resolves with its output, or rejects with it.
 */
export async function checkProxyConfig(name: ProxyName, opts: ProxyStartOptions): Promise<string> {
  const l = await PREPARE[name](opts);
  try {
    return await runCheck(l);
  } finally {
    if (l.ownDir) rmSync(l.dir, { recursive: true, force: true });
  }
}
