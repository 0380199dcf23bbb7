/**
 * Client IP behind proxies. Forwarded headers are believed only when the TCP peer is a
 * trusted proxy (a CIDR list, loopback by default): anyone else can write any header.
 *
 * Addresses are compared as 16-byte IPv6 values, IPv4 as IPv4-mapped (::ffff:a.b.c.d), so an
 * IPv4 rule matches a peer that a dual-stack socket reports as `::ffff:127.0.0.1`.
 */
import { isIP, isIPv4 } from 'node:net';
import { OptionError } from '../common/errors';

export interface Cidr {
  /** The rule as written (after keyword expansion), for messages. */
  readonly source: string;
  readonly bytes: Uint8Array;
  /** Prefix length over the 128-bit form. */
  readonly bits: number;
}

/** Named groups accepted in a trust list besides CIDRs and plain addresses. */
export const TRUST_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  none: [],
};

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Length of a leading `::ffff:` (any case), else 0. With the server on `::`, every IPv4 peer
 * arrives in this form: the fast paths below skip the general IPv6 parser for it.
 */
function mappedPrefixLength(s: string): number {
  if (s.length < 8 || s.charCodeAt(0) !== 58 || s.charCodeAt(1) !== 58 || s.charCodeAt(6) !== 58) return 0;
  for (let i = 2; i < 6; i++) if ((s.charCodeAt(i) | 0x20) !== 0x66) return 0; // 'f' or 'F'
  return 7;
}

/**
 * The dotted quad from `start` to the end of `s` as a 32-bit number, or -1. Accepts exactly
 * what net.isIPv4 accepts: four decimal octets 0–255 without leading zeros.
 */
function dottedQuad(s: string, start: number): number {
  let value = 0;
  let parts = 0;
  let octet = 0;
  let digits = 0;
  for (let i = start; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46; // a virtual '.' closes the last octet
    if (c === 46) {
      if (digits === 0 || ++parts > 4) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  return parts === 4 ? value : -1;
}

function mappedBytes(v4: number): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out[12] = v4 >>> 24;
  out[13] = (v4 >>> 16) & 0xff;
  out[14] = (v4 >>> 8) & 0xff;
  out[15] = v4 & 0xff;
  return out;
}

/**
 * Parses an IPv4 or IPv6 address (zone id and surrounding brackets allowed) into 16 bytes,
 * IPv4 as IPv4-mapped. Returns null when it is not an address.
 */
export function parseIp(input: string): Uint8Array | null {
  // Fast path: plain IPv4 and ::ffff:a.b.c.d, as sockets report them. Whatever it does not
  // accept goes to the general parser, so the result is the same either way (tested).
  const v4 = dottedQuad(input, mappedPrefixLength(input));
  return v4 >= 0 ? mappedBytes(v4) : parseIpGeneral(input);
}

/** @internal parseIp without the fast path: every accepted form. */
export function parseIpGeneral(input: string): Uint8Array | null {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  const kind = isIP(s);
  if (kind === 4) return Uint8Array.from([...MAPPED_PREFIX, ...s.split('.').map(Number)]);
  if (kind !== 6) return null;
  // Expand an embedded dotted quad (::ffff:1.2.3.4) into two hextets first.
  const dot = s.lastIndexOf(':');
  if (s.includes('.', dot)) {
    const q = s.slice(dot + 1).split('.').map(Number);
    s = `${s.slice(0, dot + 1)}${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) if (b[i] !== MAPPED_PREFIX[i]) return false;
  return true;
}

/**
 * Canonical text form for logs and per-IP accounting: IPv4-mapped addresses become plain
 * IPv4 (`::ffff:127.0.0.1` → `127.0.0.1`), zone ids and brackets are dropped, IPv6 is
 * lower-cased. Non-addresses are returned unchanged.
 */
export function normalizeIp(input: string): string {
  const p = mappedPrefixLength(input);
  if (dottedQuad(input, p) >= 0) return p === 0 ? input : input.slice(p); // fast path, as in parseIp
  return canonicalText(input, parseIpGeneral(input));
}

/** @internal normalizeIp(input), given parseIpGeneral(input). */
function canonicalText(input: string, b: Uint8Array | null): string {
  if (!b) return input;
  if (isMapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return formatIpv6(b);
}

/**
 * RFC 5952 text of a 16-byte address: lower-case hex, no leading zeros, the longest run of
 * two or more zero groups (the first one on a tie) as `::`. One client has one spelling, so
 * `2001:DB8:0:0::1` and `2001:0db8::0001` count (and log) as the same `2001:db8::1`.
 */
export function formatIpv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestAt === -1) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

/**
 * The key a client's connections are counted under for per-IP caps: the address itself for
 * IPv4, its `/prefix` network for IPv6 (`2001:db8:1:2::/64` by default). One IPv6 subscriber
 * usually gets a whole /64 (RFC 6177), so counting full addresses would give one client 2^64
 * separate allowances. IPv4 and unknown peers cost no allocation here.
 */
export function ipCapKey(ip: string, ipv6Prefix: number): string {
  if (!ip.includes(':') || ipv6Prefix >= 128) return ip;
  const b = parseIpGeneral(ip);
  if (!b || isMapped(b)) return ip;
  return `${formatIpv6(maskTo(b, ipv6Prefix))}/${ipv6Prefix}`;
}

/** A TCP peer parsed once per upgrade: bytes for the trust check, text for everything else. */
export interface PeerAddress {
  /** normalizeIp() of the address; `unknown` when there is none. */
  readonly text: string;
  /** parseIp() of the address; null when it is not one. */
  readonly bytes: Uint8Array | null;
}

const UNKNOWN_PEER: PeerAddress = Object.freeze({ text: 'unknown', bytes: null });

/** Parses a socket's remoteAddress once: `{ text: normalizeIp(a), bytes: parseIp(a) }`. */
export function parsePeer(input: string | undefined): PeerAddress {
  if (!input) return UNKNOWN_PEER;
  const p = mappedPrefixLength(input);
  const v4 = dottedQuad(input, p);
  if (v4 >= 0) return { text: p === 0 ? input : input.slice(p), bytes: mappedBytes(v4) };
  const bytes = parseIpGeneral(input);
  return { text: canonicalText(input, bytes), bytes };
}

/** Parses one rule: `a.b.c.d/n`, `x::y/n`, a plain address (/32 or /128). Throws OptionError. */
export function parseCidr(rule: string, option = 'trustProxy'): Cidr {
  const r = rule.trim();
  const slash = r.lastIndexOf('/');
  const addr = slash === -1 ? r : r.slice(0, slash);
  const bytes = parseIp(addr);
  const accepted = 'CIDRs such as 10.0.0.0/8 or fd00::/8, plain addresses, or loopback, private, linklocal, none';
  if (!bytes) throw new OptionError(option, accepted, rule);
  const v4 = isIPv4(addr.trim());
  const max = v4 ? 32 : 128;
  let len = max;
  if (slash !== -1) {
    const p = r.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new OptionError(option, accepted, rule);
    len = Number(p);
  }
  const bits = v4 ? 96 + len : len;
  return { source: r, bytes: maskTo(bytes, bits), bits };
}

function maskTo(b: Uint8Array, bits: number): Uint8Array {
  const out = Uint8Array.from(b);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

/** Parses a trust list: an array or a comma-separated string of rules and keywords. */
export function parseTrustList(input: string | readonly string[], option = 'trustProxy'): Cidr[] {
  const items = (typeof input === 'string' ? input.split(',') : input).map((s) => s.trim()).filter(Boolean);
  const out: Cidr[] = [];
  for (const item of items) {
    const expanded = TRUST_KEYWORDS[item.toLowerCase()];
    if (expanded) for (const r of expanded) out.push(parseCidr(r, option));
    else out.push(parseCidr(item, option));
  }
  return out;
}

function matches(c: Cidr, b: Uint8Array): boolean {
  const full = c.bits >> 3;
  for (let i = 0; i < full; i++) if (b[i] !== c.bytes[i]) return false;
  const rest = c.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (b[full]! & mask) === c.bytes[full];
}

/** True if `ip` (any textual form) falls in one of the rules. */
export function isTrusted(list: readonly Cidr[], ip: string | undefined): boolean {
  if (!ip || list.length === 0) return false;
  return matchesAny(list, parseIp(ip));
}

function matchesAny(list: readonly Cidr[], b: Uint8Array | null): boolean {
  if (b === null) return false;
  for (const c of list) if (matches(c, b)) return true;
  return false;
}

/** Header names consulted, in order, when the peer is a trusted proxy. */
export const DEFAULT_IP_HEADERS = ['x-real-ip', 'x-forwarded-for'] as const;

/** Extracts an address from one header element, accepting `ip`, `ip:port`, `[v6]:port`. */
function headerAddress(raw: string): string | null {
  const s = raw.trim();
  if (parseIp(s)) return s;
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracket && parseIp(bracket[1]!)) return bracket[1]!;
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(s);
  if (v4port && isIPv4(v4port[1]!)) return v4port[1]!;
  return null;
}

/**
 * The client IP for a request: the socket peer, unless the peer is a trusted proxy, in which
 * case the first usable header in `headerNames` wins. In X-Forwarded-For (a list each proxy
 * appends to) the answer is the rightmost entry that is not itself a trusted proxy: entries
 * to its left were written by the client and prove nothing. Always normalised.
 */
export function resolveClientIp(
  peer: string | undefined,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  trusted: readonly Cidr[],
  headerNames: readonly string[] = DEFAULT_IP_HEADERS,
): string {
  return clientIpFor(parsePeer(peer), headers, trusted, headerNames);
}

/**
 * resolveClientIp() for a peer parsed already (the server parses each peer once). When the
 * headers are not used, the answer is `peer.text` itself, not a copy.
 */
export function clientIpFor(
  peer: PeerAddress,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  trusted: readonly Cidr[],
  headerNames: readonly string[] = DEFAULT_IP_HEADERS,
): string {
  if (!matchesAny(trusted, peer.bytes)) return peer.text;
  for (const name of headerNames) {
    const v = headers[name];
    if (v === undefined) continue;
    const joined = Array.isArray(v) ? v.join(',') : v;
    if (name === 'x-forwarded-for' || joined.includes(',')) {
      const parts = joined.split(',');
      let last: string | null = null;
      for (let i = parts.length - 1; i >= 0; i--) {
        const a = headerAddress(parts[i]!);
        if (!a) break; // garbage: stop walking rather than trust what is left of it
        last = a;
        if (!isTrusted(trusted, a)) return normalizeIp(a);
      }
      if (last) return normalizeIp(last);
    } else {
      const a = headerAddress(joined);
      if (a) return normalizeIp(a);
    }
  }
  return peer.text;
}
