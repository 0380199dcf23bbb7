import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrusted, normalizeIp, parseCidr, parseIp, parseTrustList, resolveClientIp } from '../src/trust-proxy';
import { OptionError } from '../src/errors';

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
