/**
 * Options of `wss-mp-server proxy-config`, their defaults, and validation.
 *
 * Every value ends up inside nginx / Apache / Caddy syntax, so validation is an allow-list:
 * a value that could close a block, end a directive, start a comment or expand a variable
 * (`;`, `{`, `}`, `#`, quotes, `$`, spaces, newlines) never gets through. The generators can
 * then print values bare.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { OptionError } from '../common/errors';
import { formatDuration, parseDuration } from '../common/units';

export const PROXY_KINDS = ['nginx', 'apache', 'caddy'] as const;
export type ProxyKind = (typeof PROXY_KINDS)[number];

export interface ProxyConfigOptions {
  /**
   * Public DNS name the mini program connects to: the name on the certificate and in the
   * mini program's "socket 合法域名" list. IP addresses are refused (WeChat and certificates
   * work with names). Unicode names are converted to punycode.
   */
  domain: string;
  /** Exact path of the socket; the app server must serve the same path. @default '/wss' */
  path?: string;
  /** `host:port` (or a bare port, on 127.0.0.1) where `wss-mp-server --behind-proxy` listens. @default '127.0.0.1:8282' */
  upstream?: string;
  /** TLS listener: `port` or `address:port` (`[v6]:port`). @default '443' */
  listen?: string | number;
  /**
   * Certificate file with the full chain (leaf + intermediates) and its key, absolute paths.
   * @default certbot's `/etc/letsencrypt/live/<domain>/fullchain.pem` and `privkey.pem`;
   * Caddy: none, it obtains and renews its own certificate.
   */
  cert?: string;
  key?: string;
  /**
   * Seconds a tunnel may stay silent before the proxy closes it. Must be at least three times
   * `heartbeatInterval` (two pings may be late or lost): the app's pings are what keep a
   * quiet socket open. A number is seconds; a string needs a unit: '300s', '5m', '1h'.
   * @default 300
   */
  idleTimeout?: number | string;
  /** Seconds between the app server's pings (wss-mp-server pings every 25 s). @default 25 */
  heartbeatInterval?: number | string;
  /**
   * nginx only: seconds an old worker may keep open connections after a reload before it
   * closes them. Without it a WebSocket kept alive by its heartbeat keeps an old worker (old
   * config, old certificate) forever. @default 60
   */
  workerShutdownTimeout?: number | string;
  /**
   * Offer the X25519MLKEM768 post-quantum hybrid first. Needs OpenSSL ≥ 3.5 in nginx/Apache
   * (Debian 12 ships 3.0, which refuses to start with it). Caddy ignores this: Go picks its own
   * groups (Caddy ≥ 2.10 offers the hybrid by default). @default false
   */
  postQuantum?: boolean;
}

export interface HostPort {
  /** Host as written in configs: IPv6 in brackets. Empty when only a port was given (listen). */
  host: string;
  port: number;
}

export interface ResolvedProxyConfigOptions {
  domain: string;
  path: string;
  upstream: HostPort;
  listen: HostPort;
  /** Both set, or both undefined (Caddy: automatic certificates). */
  cert: string | undefined;
  key: string | undefined;
  /** Seconds. */
  idleTimeout: number;
  heartbeatInterval: number;
  workerShutdownTimeout: number;
  postQuantum: boolean;
}

export const PROXY_CONFIG_DEFAULTS = Object.freeze({
  path: '/wss',
  upstream: '127.0.0.1:8282',
  listen: '443',
  idleTimeout: 300,
  heartbeatInterval: 25,
  workerShutdownTimeout: 60,
  postQuantum: false,
});

/** The idle timeout must be at least this many heartbeat intervals: two pings may be late or lost. */
export const IDLE_OVER_HEARTBEAT = 3;

/** certbot's paths for a domain: what nginx/Apache use when --cert/--key are not given. */
export function certbotPaths(domain: string): { cert: string; key: string } {
  return { cert: `/etc/letsencrypt/live/${domain}/fullchain.pem`, key: `/etc/letsencrypt/live/${domain}/privkey.pem` };
}

/** How option names appear in errors: API (`idleTimeout`) or CLI (`--idle-timeout`). */
export type OptionNaming = 'api' | 'cli';

function nameOf(option: keyof ProxyConfigOptions, naming: OptionNaming): string {
  return naming === 'api' ? option : `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function resolveDomain(input: unknown, fail: (accepted: string) => never): string {
  const accepted = 'a DNS name such as example.com (not an IP address: WeChat and certificates need a name)';
  if (typeof input !== 'string' || input.trim() === '') fail(accepted);
  const raw = input as string;
  // Checked before domainToASCII, which silently drops tabs and newlines.
  if (/[\x00-\x20\x7f]/.test(raw)) fail(accepted);
  if (isIP(raw) || isIP(raw.replace(/^\[|\]$/g, ''))) fail(accepted);
  // domainToASCII returns '' for anything that is not a valid (IDNA) host name.
  const ascii = /^[\x21-\x7e]+$/.test(raw) ? raw.toLowerCase() : domainToASCII(raw);
  if (!ascii || ascii.length > 253) fail(accepted);
  if (!ascii.split('.').every((l) => LABEL.test(l))) fail(accepted);
  return ascii;
}

// Unreserved URI characters and '/'. Nothing any of the three config languages treats as syntax.
const PATH = /^\/[A-Za-z0-9._~/-]*$/;

function resolvePath(input: unknown, fail: (accepted: string) => never): string {
  const accepted = "an absolute URL path of letters, digits and . _ ~ - / such as /wss (no query, no spaces)";
  if (typeof input !== 'string' || !PATH.test(input) || input.length > 200) fail(accepted);
  const p = input as string;
  if (/\/\/|\/\.\.?(?:\/|$)/.test(p)) fail(accepted);
  return p;
}

// DNS name, IPv4, or bracketed IPv6 followed by a port.
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function parsePort(s: string): number | null {
  if (!/^\d{1,5}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : null;
}

function validHost(host: string): boolean {
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6;
  if (isIP(host) === 4) return true;
  if (/^[\d.]+$/.test(host)) return false; // looks like IPv4 but is not one
  return host.length <= 253 && host.split('.').every((l) => LABEL.test(l.toLowerCase()));
}

function resolveUpstream(input: unknown, fail: (accepted: string) => never): HostPort {
  const accepted = 'host:port of the app server, such as 127.0.0.1:8282 or [::1]:8282 (no scheme, no path)';
  const s = typeof input === 'number' ? String(input) : input;
  if (typeof s !== 'string') fail(accepted);
  const str = (s as string).trim();
  const bare = parsePort(str);
  if (bare !== null) return { host: '127.0.0.1', port: bare };
  const m = HOST_PORT.exec(str);
  const port = m ? parsePort(m[2]!) : null;
  if (!m || port === null || !validHost(m[1]!)) fail(accepted);
  return { host: m![1]!, port: port! };
}

function resolveListen(input: unknown, fail: (accepted: string) => never): HostPort {
  const accepted = 'a port such as 443, or address:port such as 203.0.113.7:443 or [::]:443';
  const s = typeof input === 'number' ? String(input) : input;
  if (typeof s !== 'string') fail(accepted);
  const str = (s as string).trim();
  const bare = parsePort(str);
  if (bare !== null) return { host: '', port: bare };
  const m = HOST_PORT.exec(str);
  const port = m ? parsePort(m[2]!) : null;
  // Only addresses: a listener bound by name resolves at start-up, and fails if DNS is down.
  const host = m?.[1] ?? '';
  const isAddr = host.startsWith('[') ? isIP(host.slice(1, -1)) === 6 : isIP(host) === 4;
  if (!m || port === null || !isAddr) fail(accepted);
  return { host, port: port! };
}

// Absolute path, no whitespace, quotes, ';', '{', '}', '#', '$' or '\'.
const FILE = /^\/[A-Za-z0-9._~/@+=,:-]*$/;

function resolveFile(input: unknown, fail: (accepted: string) => never): string {
  const accepted = 'an absolute file path of letters, digits and . _ ~ - / @ + = , : (no spaces or quotes)';
  if (typeof input !== 'string' || !FILE.test(input) || input.length > 1024 || input.endsWith('/')) fail(accepted);
  return input as string;
}

/**
 * Seconds from a number of seconds (300) or a duration with a unit ('300s', '5m', '1h'), the
 * grammar every wss-mp-server command uses; null when malformed, not whole seconds, or a
 * bare-number string ('300' would mean seconds here and milliseconds elsewhere).
 */
export function parseSeconds(input: unknown): number | null {
  if (typeof input === 'number') return Number.isInteger(input) ? input : null;
  if (typeof input !== 'string') return null;
  let ms: number;
  try {
    ms = parseDuration('', input);
  } catch {
    return null;
  }
  return ms % 1000 === 0 ? ms / 1000 : null;
}

function resolveSeconds(input: unknown, min: number, max: number, fail: (accepted: string) => never): number {
  const n = parseSeconds(input);
  if (n === null || n < min || n > max) {
    const bare = typeof input === 'string' && /^\d+$/.test(input.trim()) ? ` (a bare number has no unit: write ${input.trim()}s)` : '';
    fail(`whole seconds from ${formatDuration(min * 1000)} to ${formatDuration(max * 1000)}, with a unit such as 300s or 5m${bare}`);
  }
  return n!;
}

/**
 * Fills in defaults and validates. Throws OptionError (code ERR_INVALID_OPTION) naming the
 * first bad option, as `idleTimeout` (naming 'api') or `--idle-timeout` (naming 'cli').
 */
export function resolveProxyConfigOptions(
  options: ProxyConfigOptions,
  naming: OptionNaming = 'api',
): ResolvedProxyConfigOptions {
  const failer = (option: keyof ProxyConfigOptions, got: unknown) => (accepted: string): never => {
    throw new OptionError(nameOf(option, naming), accepted, got);
  };
  const o = { ...PROXY_CONFIG_DEFAULTS, ...stripUndefined(options) } as Required<ProxyConfigOptions>;

  const domain = resolveDomain(o.domain, failer('domain', o.domain));
  const path = resolvePath(o.path, failer('path', o.path));
  const upstream = resolveUpstream(o.upstream, failer('upstream', o.upstream));
  const listen = resolveListen(o.listen, failer('listen', o.listen));

  if ((o.cert === undefined) !== (o.key === undefined)) {
    const missing = o.cert === undefined ? 'cert' : 'key';
    failer(missing, undefined)(`a file path: ${nameOf('cert', naming)} and ${nameOf('key', naming)} go together`);
  }
  const cert = o.cert === undefined ? undefined : resolveFile(o.cert, failer('cert', o.cert));
  const key = o.key === undefined ? undefined : resolveFile(o.key, failer('key', o.key));

  const heartbeatInterval = resolveSeconds(o.heartbeatInterval, 1, 3600, failer('heartbeatInterval', o.heartbeatInterval));
  const idleFail = failer('idleTimeout', o.idleTimeout);
  const idleTimeout = resolveSeconds(o.idleTimeout, 1, 86_400, idleFail);
  if (idleTimeout < IDLE_OVER_HEARTBEAT * heartbeatInterval) {
    idleFail(
      `at least ${IDLE_OVER_HEARTBEAT} × ${nameOf('heartbeatInterval', naming)} ` +
        `(${heartbeatInterval} s → ≥ ${IDLE_OVER_HEARTBEAT * heartbeatInterval} s): ` +
        'a proxy timeout near the ping interval cuts healthy sockets when a ping is late',
    );
  }
  const workerShutdownTimeout = resolveSeconds(
    o.workerShutdownTimeout, 1, 86_400, failer('workerShutdownTimeout', o.workerShutdownTimeout),
  );
  if (typeof o.postQuantum !== 'boolean') failer('postQuantum', o.postQuantum)('true or false');

  return { domain, path, upstream, listen, cert, key, idleTimeout, heartbeatInterval, workerShutdownTimeout, postQuantum: o.postQuantum };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The CLI command line that reproduces these options (defaults left out), for config headers. */
export function commandLine(kind: ProxyKind, o: ResolvedProxyConfigOptions): string {
  const d = PROXY_CONFIG_DEFAULTS;
  const parts = ['wss-mp-server proxy-config', kind, '--domain', o.domain];
  const hp = (h: HostPort) => (h.host ? `${h.host}:${h.port}` : String(h.port));
  if (o.path !== d.path) parts.push('--path', o.path);
  if (hp(o.upstream) !== d.upstream) parts.push('--upstream', hp(o.upstream));
  if (hp(o.listen) !== d.listen) parts.push('--listen', hp(o.listen));
  const certbot = certbotPaths(o.domain);
  if (o.cert && (o.cert !== certbot.cert || o.key !== certbot.key)) parts.push('--cert', o.cert, '--key', o.key!);
  const secs = (n: number) => formatDuration(n * 1000);
  if (o.idleTimeout !== d.idleTimeout) parts.push('--idle-timeout', secs(o.idleTimeout));
  if (o.heartbeatInterval !== d.heartbeatInterval) parts.push('--heartbeat-interval', secs(o.heartbeatInterval));
  if (kind === 'nginx' && o.workerShutdownTimeout !== d.workerShutdownTimeout) {
    parts.push('--worker-shutdown-timeout', secs(o.workerShutdownTimeout));
  }
  if (o.postQuantum) parts.push('--post-quantum');
  return parts.join(' ');
}
