/**
 * What the doctor connects to: the parsed URL, the redacted form it may print, and the
 * curl-style `--resolve host:port:address` override.
 */
import { isIP } from 'node:net';
import { OptionError } from '../common/errors';

export interface Target {
  /** The URL as given (may hold tokens: never print it, print `display`). */
  url: URL;
  /** `wss:` or `ws:` after mapping `https:`/`http:`; the scheme check reports the original. */
  scheme: string;
  secure: boolean;
  /** Host name without IPv6 brackets. */
  host: string;
  port: number;
  /** Path plus query: what goes on the request line. */
  pathAndQuery: string;
  /** Redacted URL for output. */
  display: string;
  /** Secret strings (query values, credentials) to scrub from any text the doctor prints. */
  secrets: string[];
}

const SCHEMES = new Set(['wss:', 'ws:', 'https:', 'http:']);

/** Parses and validates the URL; throws OptionError (ERR_INVALID_OPTION) on bad input. */
export function parseTarget(input: string): Target {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    // Never echo a query string: it may carry a token.
    throw new OptionError('<url>', 'an absolute URL such as wss://example.com/wss', input.replace(/[?#].*$/s, '?***'));
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new OptionError('<url>', 'a wss:// URL (ws://, https:// and http:// are diagnosed too)', redactUrl(url));
  }
  if (!url.hostname) throw new OptionError('<url>', 'a URL with a host', redactUrl(url));
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : secure ? 443 : 80;
  const secrets: string[] = [];
  for (const [, v] of url.searchParams) if (v.length >= 3) secrets.push(v, encodeURIComponent(v));
  if (url.password) secrets.push(url.password);
  if (url.username) secrets.push(url.username);
  if (url.search.length > 1) secrets.push(url.search);
  return {
    url,
    scheme: url.protocol,
    secure,
    host,
    port,
    pathAndQuery: url.pathname + url.search,
    display: redactUrl(url),
    secrets: [...new Set(secrets)].sort((a, b) => b.length - a.length),
  };
}

/** The URL with every query value and any credentials replaced by `***`; the fragment dropped. */
export function redactUrl(url: URL): string {
  const u = new URL(url.href);
  if (u.username) u.username = '***';
  if (u.password) u.password = '***';
  u.hash = '';
  const keys = [...u.searchParams.keys()];
  if (keys.length) u.search = keys.map((k) => `${encodeURIComponent(k)}=***`).join('&');
  return u.href;
}

/** Replaces every secret of the target inside `text` with `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

export type HostKind = 'domain' | 'ipv4' | 'ipv6' | 'localhost';

export function classifyHost(host: string): HostKind {
  const v = isIP(host);
  if (v === 4) return 'ipv4';
  if (v === 6) return 'ipv6';
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return 'localhost';
  return 'domain';
}

/**
 * Parses a curl-style `host:port:address` (address may be `[v6]`) and checks it names the
 * URL's host and port; returns the address. A non-matching entry is an error rather than
 * silently ignored as curl does: the user clearly meant to redirect this URL.
 */
export function parseResolve(spec: string, target: Target): string {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+):(\[[^\]]+\]|.+)$/.exec(spec);
  const accepted = 'HOST:PORT:ADDRESS, e.g. wss.example.com:443:127.0.0.1';
  if (!m) throw new OptionError('--resolve', accepted, spec);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  const port = Number(m[2]);
  const address = m[3]!.replace(/^\[(.*)\]$/, '$1');
  if (!isIP(address)) throw new OptionError('--resolve', `${accepted} (ADDRESS must be an IP address)`, spec);
  if (host.toLowerCase() !== target.host.toLowerCase() || port !== target.port) {
    throw new OptionError('--resolve', `an entry for the URL's host and port (${target.host}:${target.port}:ADDRESS)`, spec);
  }
  return address;
}
