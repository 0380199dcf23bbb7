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
  for (const [k, v] of url.searchParams) {
    if (v.length >= 3) secrets.push(v);
    // A bare token (`?eyJ…sig`) parses as a key with an empty value: the key is the secret.
    if (!isParamName(k) && k.length >= 3) secrets.push(k);
  }
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  if (pass) secrets.push(pass);
  if (user) secrets.push(user);
  // What `Authorization: Basic` would carry, should a server reflect the header.
  if (user || pass) secrets.push(Buffer.from(`${user}:${pass}`).toString('base64'));
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

/** A query key that reads as a parameter name (`token`, `room_id`), not as a secret itself. */
function isParamName(k: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_.-]{0,23}$/.test(k);
}

/**
 * The URL with every query value and any credentials replaced by `***`; the fragment dropped.
 * Keys are kept only when they look like parameter names: a bare token is a key too.
 */
export function redactUrl(url: URL): string {
  const u = new URL(url.href);
  if (u.username) u.username = '***';
  if (u.password) u.password = '***';
  u.hash = '';
  const keys = [...u.searchParams.keys()];
  if (keys.length) u.search = keys.map((k) => (isParamName(k) ? `${encodeURIComponent(k)}=***` : '***')).join('&');
  return u.href;
}

/**
 * Shortest piece of a secret that counts as a copy of it. A server may reflect a token cased,
 * encoded, cut short (an 80-character reason) or altered by a character; any run of text
 * sharing this many consecutive characters with a secret is taken for one.
 */
const MIN_SHARED = 8;
/** Characters a token is made of (base64, base64url, hex, percent-encoding, JWT dots); not `=`,
 * so that `token=value` keeps its name. */
const TOKEN_RUN = /[A-Za-z0-9._~%+/-]+/g;

function decodeLoosely(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * Replaces every secret of the target inside `text` with `***`: exact copies, and any run
 * of token characters that, lower-cased and percent-decoded, contains a secret or shares
 * MIN_SHARED consecutive characters with one (truncated, one-character-off and re-encoded
 * copies). Shorter secrets are matched as whole runs, case-insensitively.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  const lower = secrets.filter(Boolean).map((s) => decodeLoosely(s).toLowerCase());
  if (lower.length === 0) return out;
  const grams = new Set<string>();
  for (const s of lower) {
    if (s.length < MIN_SHARED) continue;
    for (let i = 0; i + MIN_SHARED <= s.length; i++) grams.add(s.slice(i, i + MIN_SHARED));
  }
  const short = lower.filter((s) => s.length < MIN_SHARED);
  const isCopy = (run: string): boolean => {
    const forms = new Set([run.toLowerCase(), decodeLoosely(run).toLowerCase()]);
    for (const f of forms) {
      for (const s of short) if (f === s) return true;
      for (let i = 0; i + MIN_SHARED <= f.length; i++) if (grams.has(f.slice(i, i + MIN_SHARED))) return true;
    }
    return false;
  };
  return out.replace(TOKEN_RUN, (run) => (run !== '***' && isCopy(run) ? '***' : run));
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
