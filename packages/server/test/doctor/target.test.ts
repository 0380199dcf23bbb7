import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget, redactUrl, scrub, classifyHost, parseResolve } from '../../src/doctor/target';
import { OptionError } from '../../src/common/errors';

test('parseTarget: ports, paths, schemes', () => {
  const t = parseTarget('wss://wss.example.com/wss');
  assert.equal(t.host, 'wss.example.com');
  assert.equal(t.port, 443);
  assert.equal(t.secure, true);
  assert.equal(t.pathAndQuery, '/wss');
  assert.equal(parseTarget('ws://example.com/x').port, 80);
  assert.equal(parseTarget('https://example.com:8443/x').secure, true);
  assert.equal(parseTarget('wss://[::1]:9000/x').host, '::1');
});

test('parseTarget rejects what is not a ws/wss/http(s) URL with ERR_INVALID_OPTION naming <url>', () => {
  for (const bad of ['example.com/wss', 'ftp://example.com/', 'not a url']) {
    assert.throws(() => parseTarget(bad), (e: unknown) => e instanceof OptionError && e.code === 'ERR_INVALID_OPTION' && e.option === '<url>');
  }
});

test('tokens never appear in what the doctor prints', () => {
  const t = parseTarget('wss://user:pw@example.com/wss?token=s3cr3t-value&room=42#frag');
  assert.equal(t.display, 'wss://***:***@example.com/wss?token=***&room=***');
  assert.equal(redactUrl(new URL('wss://example.com/wss')), 'wss://example.com/wss');
  assert.equal(scrub('GET /wss?token=s3cr3t-value failed, s3cr3t-value again', t.secrets), 'GET /wss?token=*** failed, *** again');
  // An unparsable URL is echoed without its query.
  assert.throws(() => parseTarget('wss//host/x?token=s3cr3t'), (e: Error) => !e.message.includes('s3cr3t'));
});

test('classifyHost: domain, IPs, localhost', () => {
  assert.equal(classifyHost('wss.example.com'), 'domain');
  assert.equal(classifyHost('127.0.0.1'), 'ipv4');
  assert.equal(classifyHost('::1'), 'ipv6');
  assert.equal(classifyHost('LOCALHOST'), 'localhost');
  assert.equal(classifyHost('app.localhost'), 'localhost');
});

test('parseResolve: curl syntax, must match the URL host and port', () => {
  const t = parseTarget('wss://wss.example.test:8443/wss');
  assert.equal(parseResolve('wss.example.test:8443:127.0.0.1', t), '127.0.0.1');
  assert.equal(parseResolve('WSS.example.test:8443:[::1]', t), '::1');
  const named = (spec: string, re: RegExp) =>
    assert.throws(() => parseResolve(spec, t), (e: unknown) => e instanceof OptionError && e.option === '--resolve' && re.test(e.message));
  named('wss.example.test:443:127.0.0.1', /wss\.example\.test:8443:ADDRESS/);
  named('other.test:8443:127.0.0.1', /the URL's host and port/);
  named('wss.example.test:8443:not-an-ip', /must be an IP address/);
  named('127.0.0.1', /HOST:PORT:ADDRESS/);
});
