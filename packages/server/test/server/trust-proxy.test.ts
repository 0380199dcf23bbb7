import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import {
  clientIpFor, ipCapKey, isTrusted, normalizeIp, parseCidr, parseIp, parseIpGeneral, parsePeer, parseTrustList, resolveClientIp,
} from '../../src/server/trust-proxy';
import { OptionError } from '../../src/common/errors';

test('parseIp: IPv4 becomes IPv4-mapped; IPv6 forms expand; garbage is null', () => {
  assert.deepEqual([...parseIp('127.0.0.1')!], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 127, 0, 0, 1]);
  assert.deepEqual(parseIp('::ffff:127.0.0.1'), parseIp('127.0.0.1'));
  assert.deepEqual(parseIp('::FFFF:7f00:1'), parseIp('127.0.0.1'));
  assert.deepEqual([...parseIp('::1')!], [...Array(15).fill(0), 1]);
  assert.deepEqual([...parseIp('2001:db8::1')!.subarray(0, 4)], [0x20, 0x01, 0x0d, 0xb8]);
  assert.deepEqual(parseIp('[fe80::1%eth0]'), parseIp('fe80::1'));
  for (const bad of ['', 'localhost', '1.2.3', '256.1.1.1', '1.2.3.4:80', ':::', 'unknown']) assert.equal(parseIp(bad), null, bad);
});

test('normalizeIp: mapped to dotted quad, IPv6 lower-case without zone', () => {
  assert.equal(normalizeIp('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeIp('10.1.2.3'), '10.1.2.3');
  assert.equal(normalizeIp('FE80::1%eth0'), 'fe80::1');
  assert.equal(normalizeIp('::1'), '::1');
});

test('normalizeIp: one spelling per IPv6 address (RFC 5952), so caps and logs see one client', () => {
  for (const spelling of ['2001:db8::1', '2001:DB8:0:0::1', '2001:0db8::0001', '[2001:db8:0:0:0:0:0:1]', '2001:db8::1%eth0']) {
    assert.equal(normalizeIp(spelling), '2001:db8::1', spelling);
  }
  assert.equal(normalizeIp('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1', 'the longest zero run is the one shortened');
  assert.equal(normalizeIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1', 'first run on a tie');
  assert.equal(normalizeIp('2001:db8:1:1:1:1:0:1'), '2001:db8:1:1:1:1:0:1', 'a single zero group is not shortened');
});

test('ipCapKey: IPv4 as is, IPv6 by its prefix network', () => {
  assert.equal(ipCapKey('198.51.100.7', 64), '198.51.100.7');
  assert.equal(ipCapKey('unknown', 64), 'unknown');
  assert.equal(ipCapKey('2001:db8:1:2:aaaa::1', 64), '2001:db8:1:2::/64');
  assert.equal(ipCapKey('2001:db8:1:2:ffff:ffff:ffff:ffff', 64), '2001:db8:1:2::/64');
  assert.equal(ipCapKey('2001:db8:1:3::1', 64), '2001:db8:1:3::/64', 'the next /64 is another client');
  assert.equal(ipCapKey('2001:db8:1:2:aaaa::1', 48), '2001:db8:1::/48');
  assert.equal(ipCapKey('2001:db8::1', 128), '2001:db8::1');
});

/** normalizeIp as it was before the fast path, on the general parser: the reference. */
function normalizeIpReference(input: string): string {
  if (isIPv4(input)) return input;
  const b = parseIpGeneral(input);
  if (!b) return input;
  if (b.subarray(0, 12).every((v, i) => v === (i < 10 ? 0 : 0xff))) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  // RFC 5952 text, from an independent implementation: the WHATWG URL host serializer.
  const full = Array.from({ length: 8 }, (_, i) => ((b[i * 2]! << 8) | b[i * 2 + 1]!).toString(16)).join(':');
  return new URL(`http://[${full}]/`).hostname.slice(1, -1);
}

const EDGE_ADDRESSES = [
  '127.0.0.1', '::ffff:127.0.0.1', '::FFFF:10.0.0.1', '::ffff:7f00:1', '::FfFf:192.168.1.1', '::ffff:0.0.0.0',
  '0.0.0.0', '255.255.255.255', '10.0.0.255', '1.2.3.4', '9.99.199.249',
  // Not accepted by net.isIPv4: leading zeros, out of range, wrong shape, stray characters.
  '256.0.0.1', '1.2.3.256', '999.1.1.1', '1000.1.1.1', '01.2.3.4', '1.02.3.4', '1.2.3.04', '00.0.0.0', '1.2.3.00',
  '1.2.3', '1.2.3.4.5', '1.2.3.4.', '.1.2.3.4', '1..2.3', '', '.', '...', '4294967295', '1e2.0.0.1', '+1.2.3.4',
  '1.2.3.-4', '1.2.3.4:80', '\u0661.\u0662.\u0663.\u0664', '1.2.3.4\n',
  // Other spellings the general parser handles (or rejects) on its own.
  ' 1.2.3.4', '1.2.3.4 ', '[::ffff:1.2.3.4]', '::ffff:1.2.3.4%eth0', '::ffff:', '::ffff:1', '::ffff:1.2.3',
  '::ffff:1.2.3.256', '::ffff:001.2.3.4', '::ffff:1.2.3.4x', '::ffff: 1.2.3.4', '::fffe:1.2.3.4', '::fff:1.2.3.4',
  ':ffff:1.2.3.4', '::ffff::1.2.3.4', 'x::ffff:1.2.3.4', '::ffff:ffff:1.2.3.4', '0:0:0:0:0:ffff:1.2.3.4',
  '0::ffff:1.2.3.4', '::ffgf:1.2.3.4', '::1', '::', '::127.0.0.1', '64:ff9b::1.2.3.4', 'fe80::1%lo', '2001:DB8::1',
  '[2001:db8::1]', 'FE80::1%eth0', 'localhost', 'unknown',
];

/** Deterministic mutations of the edge cases: dropped, doubled, swapped characters. */
function* mutations(seed = 1): Generator<string> {
  let x = seed;
  const rnd = (n: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31) % n);
  const alphabet = '0123456789.:fF ';
  for (let k = 0; k < 5_000; k++) {
    const base = EDGE_ADDRESSES[rnd(EDGE_ADDRESSES.length)]!;
    const i = rnd(base.length + 1);
    const c = alphabet[rnd(alphabet.length)]!;
    const op = rnd(3);
    yield op === 0 ? base.slice(0, i) + c + base.slice(i) : op === 1 ? base.slice(0, i) + base.slice(i + 1) : base.slice(0, i) + c + base.slice(i + 1);
  }
}

test('fast path (IPv4, ::ffff:a.b.c.d): parseIp, normalizeIp and parsePeer equal the general parser', () => {
  let fastForms = 0;
  for (const ip of [...EDGE_ADDRESSES, ...mutations()]) {
    assert.deepEqual(parseIp(ip), parseIpGeneral(ip), `parseIp(${JSON.stringify(ip)})`);
    assert.equal(normalizeIp(ip), normalizeIpReference(ip), `normalizeIp(${JSON.stringify(ip)})`);
    const peer = parsePeer(ip);
    if (ip === '') assert.deepEqual(peer, { text: 'unknown', bytes: null });
    else assert.deepEqual(peer, { text: normalizeIp(ip), bytes: parseIp(ip) }, `parsePeer(${JSON.stringify(ip)})`);
    if (isIPv4(ip) || isIPv4(ip.slice(7))) fastForms++;
  }
  assert.ok(fastForms > 500, `the mutations exercise the fast path (${fastForms})`);
  assert.equal(normalizeIp('::FFFF:10.0.0.1'), '10.0.0.1');
  assert.equal(normalizeIp('::ffff:7f00:1'), '127.0.0.1');
  assert.deepEqual(parseIp('::ffff:127.0.0.1'), parseIp('::ffff:7f00:1'));
  assert.deepEqual(parsePeer(undefined), { text: 'unknown', bytes: null });
});

test('clientIpFor: one parse of the peer; untrusted peers get the peer text itself', () => {
  const trust = parseTrustList('loopback');
  const peer = parsePeer('::ffff:203.0.113.9');
  assert.equal(clientIpFor(peer, { 'x-real-ip': '6.6.6.6' }, trust), peer.text);
  assert.equal(peer.text, '203.0.113.9');
  assert.equal(clientIpFor(parsePeer('::ffff:127.0.0.1'), { 'x-real-ip': '198.51.100.1' }, trust), '198.51.100.1');
  assert.equal(clientIpFor(parsePeer('not-an-ip'), { 'x-real-ip': '198.51.100.1' }, trust), 'not-an-ip');
  assert.equal(clientIpFor(parsePeer(undefined), {}, trust), 'unknown');
});

test('CIDR rules: IPv4, IPv6, IPv4-mapped peers, prefix edges', () => {
  const list = parseTrustList('10.0.0.0/8,192.168.1.7,2001:db8::/32');
  assert.equal(isTrusted(list, '10.255.1.1'), true);
  assert.equal(isTrusted(list, '::ffff:10.0.0.1'), true, 'dual-stack sockets report IPv4 peers as mapped');
  assert.equal(isTrusted(list, '11.0.0.1'), false);
  assert.equal(isTrusted(list, '192.168.1.7'), true);
  assert.equal(isTrusted(list, '192.168.1.8'), false);
  assert.equal(isTrusted(list, '2001:db8:ffff::1'), true);
  assert.equal(isTrusted(list, '2001:db9::1'), false);
  assert.equal(isTrusted(list, undefined), false);
  const odd = parseTrustList(['172.16.0.0/12']);
  assert.equal(isTrusted(odd, '172.31.255.255'), true);
  assert.equal(isTrusted(odd, '172.32.0.0'), false);
  assert.equal(isTrusted(parseTrustList('0.0.0.0/0'), '8.8.8.8'), true);
  assert.equal(isTrusted(parseTrustList('0.0.0.0/0'), '2001:db8::1'), false, 'an IPv4 rule never matches real IPv6');
  assert.equal(isTrusted(parseTrustList('::/0'), '2001:db8::1'), true);
});

test('keywords: loopback (default), private, none', () => {
  const loop = parseTrustList('loopback');
  for (const ip of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) assert.equal(isTrusted(loop, ip), true, ip);
  for (const ip of ['128.0.0.1', '::2', '10.0.0.1']) assert.equal(isTrusted(loop, ip), false, ip);
  const priv = parseTrustList('private');
  for (const ip of ['10.1.1.1', '172.20.0.1', '192.168.0.1', 'fd12::1']) assert.equal(isTrusted(priv, ip), true, ip);
  assert.equal(parseTrustList('none').length, 0);
  assert.equal(isTrusted(parseTrustList('none'), '127.0.0.1'), false);
});

test('bad rules throw OptionError naming the option and what it accepts', () => {
  for (const bad of ['10.0.0.0/33', '::/129', 'example.com', '10.0.0.0/x', '1.2.3.4/-1', 'loopbackk']) {
    assert.throws(() => parseCidr(bad, '--trust-proxy'), (err: unknown) => {
      assert.ok(err instanceof OptionError);
      assert.equal(err.code, 'ERR_INVALID_OPTION');
      assert.equal(err.option, '--trust-proxy');
      assert.match(err.message, /CIDRs such as 10\.0\.0\.0\/8/);
      return true;
    }, bad);
  }
});

test('resolveClientIp: headers only from trusted peers', () => {
  const trust = parseTrustList('loopback');
  const forged = { 'x-forwarded-for': '6.6.6.6', 'x-real-ip': '6.6.6.6' };
  assert.equal(resolveClientIp('203.0.113.9', forged, trust), '203.0.113.9', 'untrusted peer: headers ignored');
  assert.equal(resolveClientIp('::ffff:203.0.113.9', forged, trust), '203.0.113.9');
  assert.equal(resolveClientIp('127.0.0.1', { 'x-real-ip': '198.51.100.1' }, trust), '198.51.100.1');
  assert.equal(resolveClientIp('127.0.0.1', {}, trust), '127.0.0.1');
  assert.equal(resolveClientIp(undefined, {}, trust), 'unknown');
});

test('resolveClientIp: X-Real-IP first, then the rightmost untrusted X-Forwarded-For hop', () => {
  const trust = parseTrustList('loopback,10.0.0.0/8');
  // nginx with the FAQ config sets X-Real-IP and passes a client-forged X-Forwarded-For through.
  assert.equal(resolveClientIp('127.0.0.1', { 'x-real-ip': '198.51.100.1', 'x-forwarded-for': '6.6.6.6' }, trust), '198.51.100.1');
  // Apache appends: the client wrote "6.6.6.6", the edge appended the real peer.
  assert.equal(resolveClientIp('127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.2' }, trust), '198.51.100.2');
  // Hops through trusted internal proxies are skipped.
  assert.equal(resolveClientIp('127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.3, 10.0.0.5' }, trust), '198.51.100.3');
  // All hops trusted: the leftmost one.
  assert.equal(resolveClientIp('127.0.0.1', { 'x-forwarded-for': '10.0.0.9, 10.0.0.5' }, trust), '10.0.0.9');
  // Ports and brackets are tolerated; garbage falls back to the peer.
  assert.equal(resolveClientIp('127.0.0.1', { 'x-forwarded-for': '198.51.100.4:5555' }, trust), '198.51.100.4');
  assert.equal(resolveClientIp('127.0.0.1', { 'x-forwarded-for': '[2001:db8::7]:443' }, trust), '2001:db8::7');
  assert.equal(resolveClientIp('127.0.0.1', { 'x-real-ip': 'not-an-ip' }, trust), '127.0.0.1');
  assert.equal(resolveClientIp('127.0.0.1', { 'x-forwarded-for': 'junk' }, trust), '127.0.0.1');
  // Header order is configurable.
  assert.equal(
    resolveClientIp('127.0.0.1', { 'x-real-ip': '198.51.100.1', 'x-forwarded-for': '198.51.100.9' }, trust, ['x-forwarded-for']),
    '198.51.100.9',
  );
});
