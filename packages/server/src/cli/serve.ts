/**
 * `wss-mp-server [serve] [flags]`: a thin shell over createServer(). Parses flags, prepares the
 * certificate (files, or the development CA), starts serving, and maps signals: SIGTERM and
 * SIGINT drain then exit 0 (a second one exits at once), SIGHUP reloads the certificate.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDevCert, defaultDevCertDir } from '../server/dev-cert/index';
import { OptionError, WssMpServerError } from '../common/errors';
import { Logger, jsonLines } from '../common/log';
import { SERVER_DEFAULTS, type ServerOptions } from '../server/options';
import { createServer, createWorkerServer, type WssMpServer } from '../server/server';
import { formatDuration, formatSize } from '../common/units';
import { MESSAGING_DEFAULTS, REDIS_DEFAULTS, type MessagingOptions } from '../server/messaging/options';
import { WECHAT_LOGIN_DEFAULTS } from '../server/auth/wechat-login';
import { conformanceHandler } from '../server/messaging/conformance';
import { RATE_LIMIT_DEFAULTS, type RateLimitOptions } from '../server/ops/rate-limit';
import { EXIT_USAGE, writeCliError } from './io';
import { isWorker, parseWorkers, runPrimary, workerNumber } from './workers';
import { IpcBroker } from '../server/messaging/ipc-broker';
import { AdminServer } from '../server/ops/admin';
import { ClusterAdmin } from '../server/ops/cluster-admin';
import { resolveAdmin } from '../server/ops/options';
import { adminListenError, listenAdmin } from '../server/ops/wire';
import type { OpsPort } from '../server/ops/worker-ops';
import { helpText as commandHelp, parseFlags, type Command, type Flag, type ParsedFlags } from './flags';

const D = SERVER_DEFAULTS;
const M = MESSAGING_DEFAULTS;
const R = REDIS_DEFAULTS;
const WL = WECHAT_LOGIN_DEFAULTS;

export const CLI_FLAGS: readonly Flag[] = [
  { name: 'host', kind: 'text', arg: 'HOST', default: `${D.plainHost}; all interfaces with --cert`, help: 'interface to bind (give 0.0.0.0 to reach the dev server from a phone on the LAN)' },
  { name: 'port', kind: 'port', arg: 'PORT', short: 'p', default: String(D.port), help: 'port to listen on; 0 picks a free one (the printed URL has the real port)' },
  { name: 'path', kind: 'text', arg: 'PATHS', default: D.path.join(','), help: 'comma-separated paths accepting WebSocket upgrades; the first is printed' },
  { name: 'cert', kind: 'text', arg: 'FILE', default: '-', help: 'PEM certificate chain (leaf first, then intermediates: fullchain.pem)' },
  { name: 'key', kind: 'text', arg: 'FILE', default: '-', help: 'PEM private key for --cert' },
  { name: 'dev-cert', kind: 'switch', default: 'on when neither --cert nor --behind-proxy', help: `serve a local development certificate (created in $WSS_MP_DEV_CERT_DIR or ~/.wss-mp/dev-cert; trust its ca.pem)` },
  { name: 'behind-proxy', kind: 'switch', default: 'off', help: 'plain ws for a TLS proxy in front (nginx/Apache/Caddy); binds 127.0.0.1 unless --host' },
  { name: 'trust-proxy', kind: 'text', arg: 'CIDRS', default: D.trustProxy.join(','), help: 'peers whose X-Real-IP/X-Forwarded-For are believed: CIDRs, addresses, loopback, private, linklocal, none' },
  { name: 'ip-header', kind: 'text', arg: 'NAMES', default: D.ipHeaders.join(','), help: 'headers giving the client IP from a trusted proxy, first usable wins' },
  { name: 'static', kind: 'text', arg: 'DIR', default: '-', help: 'serve files from DIR for plain GET/HEAD requests (e.g. the browser demo)' },
  { name: 'allow-origin', kind: 'text', arg: 'ORIGINS', default: 'any', help: 'comma-separated browser origins allowed (https://example.com); requests without an http(s) Origin always pass' },
  { name: 'max-payload', kind: 'size', arg: 'SIZE', default: formatSize(D.maxPayload), help: 'largest message; bigger ones are closed with 1009' },
  { name: 'max-connections', kind: 'count', arg: 'N', default: String(D.maxConnections), help: 'open connections at once, 0 = unlimited; beyond: close 1013' },
  { name: 'max-connections-per-ip', kind: 'count', arg: 'N', default: String(D.maxConnectionsPerIp), help: 'open connections per client IP, 0 = unlimited; beyond: close 1013' },
  { name: 'max-buffered', kind: 'size', arg: 'SIZE', default: formatSize(D.maxBufferedAmount), help: 'unsent bytes per connection before a slow consumer is terminated' },
  { name: 'handshake-timeout', kind: 'duration', arg: 'DURATION', default: formatDuration(D.handshakeTimeout), help: 'limit for the TLS handshake and for the HTTP upgrade request' },
  { name: 'heartbeat-interval', kind: 'duration', arg: 'DURATION', default: formatDuration(D.heartbeatInterval), help: 'protocol ping interval; silent peers are terminated after one missed pong; 0 = off' },
  { name: 'drain-timeout', kind: 'duration', arg: 'DURATION', default: formatDuration(D.drainTimeout), help: 'on shutdown, time requests in flight get to finish and clients to answer 1001 before being terminated' },
  { name: 'max-pending', kind: 'count', arg: 'N', default: String(D.maxPendingConnections), help: 'connections not yet WebSockets (TLS handshake, upgrade request) at once, 0 = unlimited; beyond: closed at accept' },
  { name: 'max-pending-per-ip', kind: 'count', arg: 'N', default: String(D.maxPendingPerIp), help: 'connections not yet WebSockets per client address (trusted proxies exempt), 0 = unlimited' },
  { name: 'ipv6-prefix', kind: 'count', arg: 'BITS', default: String(D.ipv6Prefix), help: 'per-IP caps count IPv6 clients by this prefix length (1-128)' },
  { name: 'max-unfinished', kind: 'size', arg: 'SIZE', default: `${formatSize(D.maxUnfinishedBytes)} or 2 × --max-payload`, help: 'memory one connection\'s unfinished (fragmented) message may hold; beyond: close 1009' },
  { name: 'max-unfinished-total', kind: 'size', arg: 'SIZE', default: formatSize(D.maxUnfinishedTotal), help: 'memory all unfinished messages may hold together; beyond: close 1013' },
  { name: 'message-timeout', kind: 'duration', arg: 'DURATION', default: formatDuration(D.messageTimeout), help: 'a fragmented message must complete within this; beyond: close 1008' },
  { name: 'subprotocol', kind: 'text', arg: 'NAMES', default: 'none', help: 'comma-separated subprotocols the server speaks; others offered are not accepted' },
  { name: 'no-watch', kind: 'switch', default: 'off', help: 'do not watch --cert/--key for changes (SIGHUP still reloads)' },
  { name: 'no-plain-http-answer', kind: 'switch', default: 'off', help: 'close plain HTTP/ws:// requests on the TLS port without the 400 that names wss:// (Node\'s default)' },
  { name: 'no-coalesce-writes', kind: 'switch', default: 'off', help: 'one write per frame, as bare ws does (default: the frames of one event-loop turn to a connection leave as one write)' },
  { name: 'messaging', kind: 'switch', default: 'off', help: 'speak the wss-mp.v1 messaging protocol with clients that offer it (requests echoed)' },
  { name: 'conformance', kind: 'switch', default: 'off', help: 'with --messaging: answer the conformance suite\'s test requests ({"publish":{"ch","data"}}, {"limits":true}); never in production' },
  { name: 'history-size', kind: 'count', arg: 'N', default: String(M.historySize), help: 'publications kept per channel for recovery' },
  { name: 'history-ttl', kind: 'duration', arg: 'DURATION', default: formatDuration(M.historyTtl), help: 'publications older than this leave the history' },
  { name: 'redis', kind: 'text', arg: 'URL', default: '-', help: 'with --messaging: share channels, users, history and presence with every node on this Redis (redis://[:PASSWORD@]HOST:PORT[/DB])' },
  { name: 'redis-heartbeat', kind: 'duration', arg: 'DURATION', default: formatDuration(R.heartbeat), help: 'with --redis: how often each node renews its presence in Redis' },
  { name: 'redis-presence-ttl', kind: 'duration', arg: 'DURATION', default: formatDuration(R.presenceTtl), help: 'with --redis: a node silent this long (killed, cut off) no longer counts in presence; at least 2 × --redis-heartbeat' },
  { name: 'jwt-secret-file', kind: 'text', arg: 'FILE', default: '-', help: 'require a JWT (HS256, sub = user) signed with the secret in FILE: Authorization: Bearer or ?token=; 401 before the upgrade otherwise' },
  { name: 'single-session', kind: 'switch', default: 'off', help: 'one connection per user: a newer one closes the older with 4009 (needs --jwt-secret-file)' },
  { name: 'wechat-appid', kind: 'text', arg: 'APPID', default: '-', help: 'serve POST /login: wx.login code → code2Session → a JWT (needs --wechat-secret-file and --jwt-secret-file)' },
  { name: 'wechat-secret-file', kind: 'text', arg: 'FILE', default: '-', help: 'the mini program\'s AppSecret, read from FILE' },
  { name: 'wechat-api-base', kind: 'text', arg: 'URL', default: WL.apiBase, help: 'code2Session base URL (a stand-in for tests)' },
  { name: 'workers', kind: 'text', arg: 'N', default: '1', help: 'processes serving the one port (node:cluster), auto = one per core; channels and users work across them (through the primary, or --redis)' },
  { name: 'admin', kind: 'text', arg: 'HOST:PORT', default: 'off', help: 'admin listener: /metrics (Prometheus), /healthz, /readyz and the admin API; a bare PORT binds 127.0.0.1' },
  { name: 'admin-key-file', kind: 'text', arg: 'FILE', default: '-', help: 'the admin API key (16+ characters) in FILE, sent as Authorization: Bearer; needed when --admin is not loopback' },
  { name: 'no-rate-limit', kind: 'switch', default: 'off', help: 'no rate limits (messages per wss-mp.v1 connection and user, handshakes per IP); the defaults are in RATE_LIMIT_DEFAULTS' },
  { name: 'flood-penalty', kind: 'duration', arg: 'DURATION', default: formatDuration(RATE_LIMIT_DEFAULTS.floodPenaltyMs), help: 'after a 4029 close, refuse the address\'s new connections this long (doubled on repeat, up to 30s or this); 0 = off' },
  { name: 'rate-limit-loopback', kind: 'switch', default: 'off', help: 'apply the per-IP handshake limit and the flood penalty to loopback clients too (benchmarks, tests of the defence)' },
  { name: 'quiet', kind: 'switch', short: 'q', default: 'off', help: 'no per-connection log lines' },
  { name: 'version', kind: 'switch', short: 'v', default: '-', help: 'print the version' },
  { name: 'help', kind: 'switch', short: 'h', default: '-', help: 'print this help' },
];

export const SERVE: Command = {
  invocation: 'wss-mp-server',
  summary: 'a wss:// server for WeChat mini programs (echoes messages by default)',
  usage: [
    'wss-mp-server [serve] [--dev-cert]         TLS with a local development certificate',
    'wss-mp-server [serve] --cert FILE --key FILE',
    '                                           TLS with your certificate (hot reload on change/SIGHUP)',
    'wss-mp-server [serve] --behind-proxy       plain ws on 127.0.0.1 behind nginx/Apache/Caddy',
    'wss-mp-server doctor wss://HOST/PATH       check an endpoint against WeChat\'s rules',
    'wss-mp-server proxy-config ...             print a proxy configuration',
  ],
  flags: CLI_FLAGS,
  footer: [
    'Logs: one JSON object per line on stdout. Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the certificate;',
    'SIGUSR2 reloads it even when it fails validation (expired, not yet valid, not covering the current names).',
    'With --workers, the primary forwards SIGHUP/SIGUSR2 to every worker, drains them all on SIGTERM, and replaces a worker that dies.',
  ],
};

/** The package version: package.json next to dist/ (built) or two levels up (from source). */
function version(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['..', '../..']) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(here, up, 'package.json'), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'wss-mp-server') return pkg.version;
    } catch {
      /* not here */
    }
  }
  return 'unknown';
}

export function helpText(): string {
  return commandHelp(SERVE);
}

type Values = ParsedFlags['values'];
type Mode = 'cert' | 'dev-cert' | 'behind-proxy';

/** Turns parsed flags into createServer options (without TLS material). Throws OptionError. */
export function flagsToOptions(v: Values): ServerOptions & { mode: Mode } {
  const str = (k: string) => v[k] as string | undefined;
  const num = (k: string) => v[k] as number;
  const has = (k: string) => v[k] !== undefined;
  const list = (k: string) => str(k)!.split(',').map((s) => s.trim());
  if (has('cert') !== has('key')) throw new OptionError(has('cert') ? '--key' : '--cert', '--cert and --key together', 'only one of them');
  if (v['behind-proxy'] && (has('cert') || v['dev-cert'])) {
    throw new OptionError('--behind-proxy', 'no --cert/--dev-cert: TLS is the proxy\'s job (never terminate TLS twice)', 'both');
  }
  if (has('cert') && v['dev-cert']) throw new OptionError('--dev-cert', 'either --dev-cert or --cert/--key', 'both');
  const mode: Mode = v['behind-proxy'] ? 'behind-proxy' : has('cert') ? 'cert' : 'dev-cert';
  const o: ServerOptions & { mode: Mode } = { mode };
  if (has('host')) o.host = str('host');
  // The development server is for this machine: a laptop on café Wi-Fi must not serve it to
  // the room. Loopback unless --host says otherwise (--cert is a deployment: all interfaces).
  else if (mode === 'dev-cert') o.host = D.plainHost;
  if (has('port')) o.port = num('port');
  if (has('path')) o.path = list('path');
  if (has('trust-proxy')) o.trustProxy = str('trust-proxy')!;
  if (has('ip-header')) o.ipHeaders = list('ip-header');
  if (has('static')) o.staticDir = path.resolve(str('static')!);
  if (has('allow-origin')) o.allowedOrigins = list('allow-origin').filter(Boolean);
  if (has('max-payload')) o.maxPayload = num('max-payload');
  if (has('max-connections')) o.maxConnections = num('max-connections');
  if (has('max-connections-per-ip')) o.maxConnectionsPerIp = num('max-connections-per-ip');
  if (has('max-buffered')) o.maxBufferedAmount = num('max-buffered');
  if (has('handshake-timeout')) o.handshakeTimeout = num('handshake-timeout');
  if (has('heartbeat-interval')) o.heartbeatInterval = num('heartbeat-interval');
  if (has('drain-timeout')) o.drainTimeout = num('drain-timeout');
  if (has('max-pending')) o.maxPendingConnections = num('max-pending');
  if (has('max-pending-per-ip')) o.maxPendingPerIp = num('max-pending-per-ip');
  if (has('ipv6-prefix')) {
    const bits = num('ipv6-prefix');
    if (bits < 1 || bits > 128) throw new OptionError('--ipv6-prefix', 'a prefix length 1–128, e.g. 64 or 56', String(bits));
    o.ipv6Prefix = bits;
  }
  if (has('max-unfinished')) o.maxUnfinishedBytes = num('max-unfinished');
  if (has('max-unfinished-total')) o.maxUnfinishedTotal = num('max-unfinished-total');
  if (has('message-timeout')) o.messageTimeout = num('message-timeout');
  if (has('subprotocol')) o.subprotocols = list('subprotocol').filter(Boolean);
  if (v['no-watch']) o.watchCertificate = false;
  if (v['no-plain-http-answer']) o.plainHttpAnswer = false;
  if (v['no-coalesce-writes']) o.coalesceWrites = false;
  if (v.quiet) o.quiet = true;
  messagingFlags(v, o);
  opsFlags(v, o);
  return o;
}

/** --admin, --admin-key-file (createServer validates both), --no-rate-limit, --flood-penalty, --rate-limit-loopback. */
function opsFlags(v: Values, o: ServerOptions): void {
  const admin = v.admin as string | undefined;
  const keyFile = v['admin-key-file'] as string | undefined;
  if (keyFile !== undefined && admin === undefined) throw new OptionError('--admin-key-file', '--admin as well', 'no --admin');
  if (admin !== undefined) o.admin = admin;
  if (keyFile !== undefined) o.adminKey = readSecret('--admin-key-file', keyFile);
  const penalty = v['flood-penalty'] as number | undefined;
  const loopback = v['rate-limit-loopback'] === true;
  if (v['no-rate-limit']) {
    if (penalty !== undefined || loopback) throw new OptionError(penalty !== undefined ? '--flood-penalty' : '--rate-limit-loopback', 'rate limits on (no --no-rate-limit)', '--no-rate-limit');
    o.rateLimit = false;
    return;
  }
  if (penalty === undefined && !loopback) return;
  const r: Partial<RateLimitOptions> = {};
  if (penalty !== undefined) {
    r.floodPenaltyMs = penalty;
    // A longer first cool-down than the default ceiling is its own ceiling.
    if (penalty > RATE_LIMIT_DEFAULTS.floodPenaltyMaxMs) r.floodPenaltyMaxMs = penalty;
  }
  if (loopback) r.exemptLoopback = false;
  o.rateLimit = r;
}

/** A secret from a file (trimmed): never from argv, where `ps` shows it to every user. */
function readSecret(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new OptionError(flag, 'a readable file', `${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
}

/** --messaging, --conformance, history, --jwt-secret-file, --single-session, --wechat-*. */
function messagingFlags(v: Values, o: ServerOptions): void {
  const str = (k: string) => v[k] as string | undefined;
  const secret = (k: string) => {
    try {
      return readFileSync(str(k)!, 'utf8').trim();
    } catch (err) {
      throw new OptionError(`--${k}`, 'a readable file', `${str(k)} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  };
  for (const k of ['conformance', 'history-size', 'history-ttl', 'redis']) {
    if (v[k] !== undefined && v[k] !== false && !v.messaging) throw new OptionError(`--${k}`, '--messaging as well', 'no --messaging');
  }
  for (const k of ['redis-heartbeat', 'redis-presence-ttl']) {
    if (v[k] !== undefined && str('redis') === undefined) throw new OptionError(`--${k}`, '--redis as well', 'no --redis');
  }
  if (v.messaging) {
    const m: MessagingOptions = {};
    if (v['history-size'] !== undefined) m.historySize = v['history-size'] as number;
    if (v['history-ttl'] !== undefined) m.historyTtl = v['history-ttl'] as number;
    if (str('redis') !== undefined) {
      m.redis = { url: str('redis')! };
      if (v['redis-heartbeat'] !== undefined) m.redis.heartbeat = v['redis-heartbeat'] as number;
      if (v['redis-presence-ttl'] !== undefined) m.redis.presenceTtl = v['redis-presence-ttl'] as number;
    }
    if (v.conformance) {
      const ref: { server?: Pick<WssMpServer, 'publish'> } = {};
      // Read when asked: --no-rate-limit is applied to `o` by another step.
      m.onRequest = conformanceHandler(ref, () => {
        const r = o.rateLimit === false ? undefined : { ...RATE_LIMIT_DEFAULTS, ...o.rateLimit };
        return {
          historySize: m.historySize ?? M.historySize,
          rateLimit: r && r.messagesPerSecond > 0 ? { messagesPerSecond: r.messagesPerSecond, messagesBurst: r.messagesBurst } : null,
        };
      });
      (o as ServerOptions & { conformanceRef?: typeof ref }).conformanceRef = ref;
    }
    o.messaging = m;
  }
  if (str('jwt-secret-file') !== undefined) o.jwt = { secret: secret('jwt-secret-file') };
  if (v['single-session']) o.singleSession = true;
  if (str('wechat-appid') !== undefined || str('wechat-secret-file') !== undefined) {
    if (str('wechat-appid') === undefined || str('wechat-secret-file') === undefined) {
      throw new OptionError('--wechat-appid', '--wechat-appid and --wechat-secret-file together', 'only one of them');
    }
    o.wechatLogin = { appId: str('wechat-appid')!, appSecret: secret('wechat-secret-file'), apiBase: str('wechat-api-base') };
  }
}

function fail(message: string, code = EXIT_USAGE): number {
  writeCliError(process, '', message, code === EXIT_USAGE);
  return code;
}

/** `wss-mp-server [serve] [flags]`. Resolves with the exit code, or -1 while serving. */
export async function main(argv: string[]): Promise<number> {
  let values: Values;
  let options: ReturnType<typeof flagsToOptions>;
  try {
    values = parseFlags(SERVE, argv).values;
    if (values.help) {
      process.stdout.write(helpText());
      return 0;
    }
    if (values.version) {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    options = flagsToOptions(values);
  } catch (err) {
    if (err instanceof OptionError) return fail(err.message);
    throw err;
  }
  const sink = jsonLines(process.stdout);
  const log = new Logger(sink, false);
  const { mode, conformanceRef, ...serverOptions } = options as typeof options & { conformanceRef?: { server?: WssMpServer } };
  let workers: number;
  try {
    workers = values.workers === undefined ? 1 : parseWorkers(values.workers as string);
  } catch (err) {
    if (err instanceof OptionError) return fail(err.message);
    throw err;
  }
  if (workers > 1 && !isWorker()) return primary(serverOptions, mode, values, log, workers);
  if (isWorker()) asWorker(serverOptions);
  const ctl = handleSignals(log, mode);
  try {
    await prepareTls(serverOptions, mode, values, log);
    const o = { ...serverOptions, logger: sink };
    ctl.server = isWorker() ? createWorkerServer(o, { number: workerNumber(), count: workers, port: process as unknown as OpsPort }) : createServer(o);
    if (conformanceRef) conformanceRef.server = ctl.server;
    await ctl.server.listen();
  } catch (err) {
    if (err instanceof WssMpServerError) {
      log.error('error', { code: err.code, error: err.message });
      return fail(err.message, err.code === 'ERR_INVALID_OPTION' ? 2 : 1);
    }
    throw err;
  }
  if (mode === 'behind-proxy') {
    const url = ctl.server.url ? new URL(ctl.server.url).pathname : '';
    log.info('hint', { msg: `plain ws for a TLS proxy: route wss://YOUR-DOMAIN${url} here (wss-mp-server proxy-config prints a config)` });
  }
  return -1;
}

/**
 * `--workers N` in the primary: the certificate made once, the admin listener bound (the
 * node's only one: ClusterAdmin asks the workers), then N workers forked. The admin listener
 * closes after the last worker has drained: /readyz answers 503 throughout the drain.
 */
async function primary(o: ServerOptions, mode: Mode, values: Values, log: Logger, workers: number): Promise<number> {
  let adminOptions: ReturnType<typeof resolveAdmin>;
  try {
    adminOptions = resolveAdmin(o.admin, o.adminKey);
  } catch (err) {
    if (err instanceof OptionError) return fail(err.message);
    throw err;
  }
  try {
    // The development certificate is created here, once, not raced by N workers.
    if (mode === 'dev-cert') await prepareTls(o, mode, values, log);
  } catch (err) {
    if (err instanceof WssMpServerError) return fail(err.message, 1);
    throw err;
  }
  const admin = adminOptions ? new ClusterAdmin(workers) : undefined;
  let listener: Awaited<ReturnType<typeof listenAdmin>> | undefined;
  if (adminOptions && admin) {
    try {
      listener = await listenAdmin(new AdminServer(adminOptions, admin, log));
    } catch (err) {
      const e = adminListenError(adminOptions, err);
      log.error('error', { code: e.code, error: e.message });
      return fail(e.message, 1);
    }
  }
  const m = o.messaging === undefined || o.messaging === true || o.messaging === false ? undefined : o.messaging;
  const relay = m !== undefined && m.redis === undefined ? { historySize: m.historySize ?? M.historySize, historyTtl: m.historyTtl ?? M.historyTtl } : undefined;
  log.info('workers', { workers, streams: relay ? 'primary' : m ? 'redis' : 'none', msg: `starting ${workers} workers on one port` });
  const code = await runPrimary({ workers, relay, log, admin });
  await listener?.close();
  return code;
}

/** In a worker: streams through the primary (unless Redis), and no life after the primary. */
function asWorker(o: ServerOptions): void {
  const m = o.messaging;
  if (m !== undefined && typeof m === 'object' && m.redis === undefined) m.broker = new IpcBroker();
  process.on('disconnect', () => process.exit(1));
}

/**
 * Signals, set up before serving: a SIGTERM right after the listening line must drain, not
 * kill. SIGTERM/SIGINT drain then exit 0 (a second one exits 1 at once); SIGHUP reloads.
 */
function handleSignals(log: Logger, mode: Mode): { server: WssMpServer | undefined } {
  const ctl: { server: WssMpServer | undefined } = { server: undefined };
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('exit', { signal, msg: 'second signal: exiting without waiting for the drain' });
      process.exit(1);
    }
    stopping = true;
    log.info('signal', { signal });
    if (!ctl.server) process.exit(0); // not serving yet: nothing to drain
    ctl.server.close().then(
      () => process.exit(0),
      (err) => {
        log.error('error', { where: 'close', error: err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  // Ctrl-C reaches the whole process group: a worker leaves it to the primary, whose SIGTERM
  // drains it (a second signal would cut the drain short).
  process.on('SIGINT', isWorker() ? () => {} : stop);
  process.on('SIGHUP', () => {
    if (mode === 'behind-proxy') log.info('reload', { ok: false, trigger: 'SIGHUP', msg: 'no certificate in --behind-proxy mode' });
    else ctl.server?.reloadCertificate('SIGHUP');
  });
  // SIGUSR2: reload even a certificate that fails validation (expired, other names): logged.
  process.on('SIGUSR2', () => {
    if (mode === 'behind-proxy') log.info('reload', { ok: false, trigger: 'SIGUSR2', msg: 'no certificate in --behind-proxy mode' });
    else ctl.server?.reloadCertificate('SIGUSR2', { force: true });
  });
  return ctl;
}

/** Fills in `tls`: the given files, or the development certificate (created if needed). */
async function prepareTls(serverOptions: ServerOptions, mode: Mode, values: Values, log: Logger): Promise<void> {
  if (mode === 'cert') {
    serverOptions.tls = { certFile: values.cert as string, keyFile: values.key as string };
  } else if (mode === 'dev-cert') {
    const dev = await ensureDevCert(defaultDevCertDir());
    log.info('dev-cert', {
      ca: dev.caFile,
      cert: dev.certFile,
      created: dev.created,
      msg: `development certificate for localhost; trust ${dev.caFile} (browser: import as an authority; Node: NODE_EXTRA_CA_CERTS=${dev.caFile}). Not for production: use --cert/--key or --behind-proxy`,
    });
    serverOptions.tls = { certFile: dev.certFile, keyFile: dev.keyFile };
    serverOptions.watchCertificate = false;
  }
}
