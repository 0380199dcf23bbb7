/**
 * `wss-mp-server [flags]`: a thin shell over createServer(). Parses flags, prepares the
 * certificate (files, or the development CA), starts serving, and maps signals: SIGTERM and
 * SIGINT drain then exit 0 (a second one exits at once), SIGHUP reloads the certificate.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDevCert, defaultDevCertDir } from './dev-cert/index';
import { OptionError, WssMpServerError } from './errors';
import { Logger, jsonLines } from './log';
import { SERVER_DEFAULTS, type ServerOptions } from './options';
import { createServer, type WssMpServer } from './server';
import { parseCount, parseDuration, parseSize } from './units';

export interface CliFlag {
  name: string;
  /** Placeholder for the value; absent for boolean flags. */
  arg?: string;
  short?: string;
  /** Default as shown in --help and the README (kept equal by a test). */
  default: string;
  help: string;
}

const kib = (n: number) => (n % (1024 * 1024) === 0 ? `${n / 1024 / 1024}MiB` : n % 1024 === 0 ? `${n / 1024}KiB` : `${n}`);
const secs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
const D = SERVER_DEFAULTS;

export const CLI_FLAGS: readonly CliFlag[] = [
  { name: 'host', arg: 'HOST', default: `${D.plainHost}; all interfaces with --cert`, help: 'interface to bind (give 0.0.0.0 to reach the dev server from a phone on the LAN)' },
  { name: 'port', arg: 'PORT', short: 'p', default: String(D.port), help: 'port to listen on; 0 picks a free one (the printed URL has the real port)' },
  { name: 'path', arg: 'PATHS', default: D.path.join(','), help: 'comma-separated paths accepting WebSocket upgrades; the first is printed' },
  { name: 'cert', arg: 'FILE', default: '-', help: 'PEM certificate chain (leaf first, then intermediates: fullchain.pem)' },
  { name: 'key', arg: 'FILE', default: '-', help: 'PEM private key for --cert' },
  { name: 'dev-cert', default: 'on when neither --cert nor --behind-proxy', help: `serve a local development certificate (created in $WSS_MP_DEV_CERT_DIR or ~/.wss-mp/dev-cert; trust its ca.pem)` },
  { name: 'behind-proxy', default: 'off', help: 'plain ws for a TLS proxy in front (nginx/Apache/Caddy); binds 127.0.0.1 unless --host' },
  { name: 'trust-proxy', arg: 'CIDRS', default: D.trustProxy.join(','), help: 'peers whose X-Real-IP/X-Forwarded-For are believed: CIDRs, addresses, loopback, private, linklocal, none' },
  { name: 'ip-header', arg: 'NAMES', default: D.ipHeaders.join(','), help: 'headers giving the client IP from a trusted proxy, first usable wins' },
  { name: 'static', arg: 'DIR', default: '-', help: 'serve files from DIR for plain GET/HEAD requests (e.g. the browser demo)' },
  { name: 'allow-origin', arg: 'ORIGINS', default: 'any', help: 'comma-separated browser origins allowed (https://example.com); requests without an http(s) Origin always pass' },
  { name: 'max-payload', arg: 'SIZE', default: kib(D.maxPayload), help: 'largest message; bigger ones are closed with 1009' },
  { name: 'max-connections', arg: 'N', default: String(D.maxConnections), help: 'open connections at once, 0 = unlimited; beyond: close 1013' },
  { name: 'max-connections-per-ip', arg: 'N', default: String(D.maxConnectionsPerIp), help: 'open connections per client IP, 0 = unlimited; beyond: close 1013' },
  { name: 'max-buffered', arg: 'SIZE', default: kib(D.maxBufferedAmount), help: 'unsent bytes per connection before a slow consumer is terminated' },
  { name: 'handshake-timeout', arg: 'DURATION', default: secs(D.handshakeTimeout), help: 'limit for the TLS handshake and for the HTTP upgrade request' },
  { name: 'heartbeat-interval', arg: 'DURATION', default: secs(D.heartbeatInterval), help: 'protocol ping interval; silent peers are terminated after one missed pong; 0 = off' },
  { name: 'drain-timeout', arg: 'DURATION', default: secs(D.drainTimeout), help: 'on shutdown, time clients get to answer 1001 before being terminated' },
  { name: 'max-pending', arg: 'N', default: String(D.maxPendingConnections), help: 'connections not yet WebSockets (TLS handshake, upgrade request) at once, 0 = unlimited; beyond: closed at accept' },
  { name: 'max-pending-per-ip', arg: 'N', default: String(D.maxPendingPerIp), help: 'connections not yet WebSockets per client address (trusted proxies exempt), 0 = unlimited' },
  { name: 'ipv6-prefix', arg: 'BITS', default: String(D.ipv6Prefix), help: 'per-IP caps count IPv6 clients by this prefix length' },
  { name: 'max-unfinished', arg: 'SIZE', default: `${kib(D.maxUnfinishedBytes)} or 2 × --max-payload`, help: 'memory one connection\'s unfinished (fragmented) message may hold; beyond: close 1009' },
  { name: 'max-unfinished-total', arg: 'SIZE', default: kib(D.maxUnfinishedTotal), help: 'memory all unfinished messages may hold together; beyond: close 1013' },
  { name: 'message-timeout', arg: 'DURATION', default: secs(D.messageTimeout), help: 'a fragmented message must complete within this; beyond: close 1008' },
  { name: 'subprotocol', arg: 'NAMES', default: 'none', help: 'comma-separated subprotocols the server speaks; others offered are not accepted' },
  { name: 'no-watch', default: 'off', help: 'do not watch --cert/--key for changes (SIGHUP still reloads)' },
  { name: 'no-plain-http-answer', default: 'off', help: 'close plain HTTP/ws:// requests on the TLS port without the 400 that names wss:// (Node\'s default)' },
  { name: 'quiet', short: 'q', default: 'off', help: 'no per-connection log lines' },
  { name: 'version', short: 'v', default: '-', help: 'print the version' },
  { name: 'help', short: 'h', default: '-', help: 'print this help' },
];

function version(): string {
  try {
    const here = path.dirname(fileURLToPath(import.meta.url));
    return (JSON.parse(readFileSync(path.join(here, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function helpText(): string {
  const rows = CLI_FLAGS.map((f) => {
    const left = `  ${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.arg ? ` ${f.arg}` : ''}`;
    const def = f.default === '-' ? '' : ` [${f.default}]`;
    return `${left.padEnd(38)} ${f.help}${def}`;
  });
  return [
    'wss-mp-server: a wss:// server for WeChat mini programs (echoes messages by default)',
    '',
    'Usage:',
    '  wss-mp-server [--dev-cert]                 TLS with a local development certificate',
    '  wss-mp-server --cert FILE --key FILE       TLS with your certificate (hot reload on change/SIGHUP)',
    '  wss-mp-server --behind-proxy               plain ws on 127.0.0.1 behind nginx/Apache/Caddy',
    '  wss-mp-server doctor wss://HOST/PATH       check an endpoint against WeChat\'s rules',
    '  wss-mp-server proxy-config ...             print a proxy configuration',
    '',
    'Flags [default]:',
    ...rows,
    '',
    'Durations: 500ms, 25s, 2m (bare numbers are ms). Sizes: 65536, 64KiB, 1MiB.',
    'Logs: one JSON object per line on stdout. Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the certificate;',
    'SIGUSR2 reloads it even when it fails validation (expired, not yet valid, not covering the current names).',
    '',
  ].join('\n');
}

type Values = Record<string, string | boolean | undefined>;

/** Turns parsed flags into createServer options (without TLS material). Throws OptionError. */
export function flagsToOptions(v: Values): ServerOptions & { mode: 'cert' | 'dev-cert' | 'behind-proxy' } {
  const str = (k: string) => v[k] as string | undefined;
  const has = (k: string) => v[k] !== undefined;
  if (has('cert') !== has('key')) throw new OptionError(has('cert') ? '--key' : '--cert', '--cert and --key together', 'only one of them');
  if (v['behind-proxy'] && (has('cert') || v['dev-cert'])) {
    throw new OptionError('--behind-proxy', 'no --cert/--dev-cert: TLS is the proxy\'s job (never terminate TLS twice)', 'both');
  }
  if (has('cert') && v['dev-cert']) throw new OptionError('--dev-cert', 'either --dev-cert or --cert/--key', 'both');
  const mode = v['behind-proxy'] ? 'behind-proxy' : has('cert') ? 'cert' : 'dev-cert';
  const o: ServerOptions & { mode: typeof mode } = { mode };
  if (has('host')) o.host = str('host');
  // The development server is for this machine: a laptop on café Wi-Fi must not serve it to
  // the room. Loopback unless --host says otherwise (--cert is a deployment: all interfaces).
  else if (mode === 'dev-cert') o.host = D.plainHost;
  if (has('port')) o.port = parseCount('--port', str('port')!, 65535);
  if (has('path')) o.path = str('path')!.split(',').map((s) => s.trim());
  if (has('trust-proxy')) o.trustProxy = str('trust-proxy')!;
  if (has('ip-header')) o.ipHeaders = str('ip-header')!.split(',').map((s) => s.trim());
  if (has('static')) o.staticDir = path.resolve(str('static')!);
  if (has('allow-origin')) o.allowedOrigins = str('allow-origin')!.split(',').map((s) => s.trim()).filter(Boolean);
  if (has('max-payload')) o.maxPayload = parseSize('--max-payload', str('max-payload')!);
  if (has('max-connections')) o.maxConnections = parseCount('--max-connections', str('max-connections')!);
  if (has('max-connections-per-ip')) o.maxConnectionsPerIp = parseCount('--max-connections-per-ip', str('max-connections-per-ip')!);
  if (has('max-buffered')) o.maxBufferedAmount = parseSize('--max-buffered', str('max-buffered')!);
  if (has('handshake-timeout')) o.handshakeTimeout = parseDuration('--handshake-timeout', str('handshake-timeout')!);
  if (has('heartbeat-interval')) o.heartbeatInterval = parseDuration('--heartbeat-interval', str('heartbeat-interval')!);
  if (has('drain-timeout')) o.drainTimeout = parseDuration('--drain-timeout', str('drain-timeout')!);
  if (has('max-pending')) o.maxPendingConnections = parseCount('--max-pending', str('max-pending')!);
  if (has('max-pending-per-ip')) o.maxPendingPerIp = parseCount('--max-pending-per-ip', str('max-pending-per-ip')!);
  if (has('ipv6-prefix')) {
    const bits = parseCount('--ipv6-prefix', str('ipv6-prefix')!);
    if (bits < 1 || bits > 128) throw new OptionError('--ipv6-prefix', 'a prefix length 1–128, e.g. 64 or 56', str('ipv6-prefix'));
    o.ipv6Prefix = bits;
  }
  if (has('max-unfinished')) o.maxUnfinishedBytes = parseSize('--max-unfinished', str('max-unfinished')!);
  if (has('max-unfinished-total')) o.maxUnfinishedTotal = parseSize('--max-unfinished-total', str('max-unfinished-total')!);
  if (has('message-timeout')) o.messageTimeout = parseDuration('--message-timeout', str('message-timeout')!);
  if (has('subprotocol')) o.subprotocols = str('subprotocol')!.split(',').map((s) => s.trim()).filter(Boolean);
  if (v['no-watch']) o.watchCertificate = false;
  if (v['no-plain-http-answer']) o.plainHttpAnswer = false;
  if (v.quiet) o.quiet = true;
  return o;
}

function fail(message: string, code = 2): number {
  process.stderr.write(`wss-mp-server: ${message}\n${code === 2 ? 'Try: wss-mp-server --help\n' : ''}`);
  return code;
}

export async function main(argv: string[]): Promise<number> {
  let values: Values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(
        CLI_FLAGS.map((f) => [f.name, { type: f.arg ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}) }] as const),
      ),
    }).values as Values;
  } catch (err) {
    return fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(helpText());
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }

  let options: ReturnType<typeof flagsToOptions>;
  try {
    options = flagsToOptions(values);
  } catch (err) {
    if (err instanceof OptionError) return fail(err.message);
    throw err;
  }
  const sink = jsonLines(process.stdout);
  const log = new Logger(sink, false);
  const { mode, ...serverOptions } = options;

  let server: WssMpServer | undefined;
  // Signals first: a SIGTERM right after the listening line must drain, not kill.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('exit', { signal, msg: 'second signal: exiting without waiting for the drain' });
      process.exit(1);
    }
    stopping = true;
    log.info('signal', { signal });
    if (!server) process.exit(0); // not serving yet: nothing to drain
    server.close().then(
      () => process.exit(0),
      (err) => {
        log.error('error', { where: 'close', error: err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => {
    if (mode === 'behind-proxy') log.info('reload', { ok: false, trigger: 'SIGHUP', msg: 'no certificate in --behind-proxy mode' });
    else server?.reloadCertificate('SIGHUP');
  });
  // SIGUSR2: reload even a certificate that fails validation (expired, other names): logged.
  process.on('SIGUSR2', () => {
    if (mode === 'behind-proxy') log.info('reload', { ok: false, trigger: 'SIGUSR2', msg: 'no certificate in --behind-proxy mode' });
    else server?.reloadCertificate('SIGUSR2', { force: true });
  });
  try {
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
    server = createServer({ ...serverOptions, logger: sink });
    await server.listen();
  } catch (err) {
    if (err instanceof WssMpServerError) {
      log.error('error', { code: err.code, error: err.message });
      return fail(err.message, err.code === 'ERR_INVALID_OPTION' ? 2 : 1);
    }
    throw err;
  }
  if (mode === 'behind-proxy') {
    log.info('hint', { msg: `plain ws for a TLS proxy: route wss://YOUR-DOMAIN${server.url ? new URL(server.url).pathname : ''} here (wss-mp-server proxy-config prints a config)` });
  }

  return -1;
}
