// proxy-config option validation: every value lands inside nginx/Apache/Caddy syntax, so bad
// input must fail with a typed error naming the option, and nothing that could inject
// config syntax gets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError } from '../../src/common/errors';
import {
  PROXY_CONFIG_DEFAULTS,
  PROXY_KINDS,
  renderProxyConfig,
  resolveProxyConfigOptions,
  type ProxyConfigOptions,
} from '../../src/proxy-config/index';

const ok: ProxyConfigOptions = { domain: 'example.com' };

function rejects(option: keyof ProxyConfigOptions, value: unknown, extra: Partial<ProxyConfigOptions> = {}) {
  const opts = { ...ok, ...extra, [option]: value } as ProxyConfigOptions;
  for (const kind of PROXY_KINDS) {
    assert.throws(
      () => renderProxyConfig(kind, opts),
      (err: unknown) => {
        assert.ok(err instanceof OptionError, `${kind} ${option}=${JSON.stringify(value)}: ${String(err)}`);
        assert.equal(err.code, 'ERR_INVALID_OPTION');
        assert.equal(err.option, option);
        return true;
      },
      `${kind} accepted ${option}=${JSON.stringify(value)}`,
    );
  }
}

test('defaults: /wss, 127.0.0.1:8282, 443, 300 s idle over a 25 s heartbeat, 60 s worker shutdown', () => {
  const o = resolveProxyConfigOptions(ok);
  assert.equal(o.domain, 'example.com');
  assert.equal(o.path, '/wss');
  assert.deepEqual(o.upstream, { host: '127.0.0.1', port: 8282 });
  assert.deepEqual(o.listen, { host: '', port: 443 });
  assert.equal(o.cert, undefined);
  assert.equal(o.idleTimeout, 300);
  assert.equal(o.heartbeatInterval, 25);
  assert.equal(o.workerShutdownTimeout, 60);
  assert.equal(o.postQuantum, false);
  assert.deepEqual(PROXY_CONFIG_DEFAULTS, {
    path: '/wss', upstream: '127.0.0.1:8282', listen: '443', idleTimeout: 300, heartbeatInterval: 25,
    workerShutdownTimeout: 60, postQuantum: false,
  });
});

test('accepted forms are normalised', () => {
  const o = resolveProxyConfigOptions({
    domain: 'WSS.Example.COM', path: '/ws/chat.v1', upstream: '8000', listen: '[::]:8443',
    cert: '/etc/ssl/a+b/fullchain.pem', key: '/etc/ssl/a+b/privkey.pem', idleTimeout: '5m', heartbeatInterval: '30s',
    workerShutdownTimeout: '1h',
  });
  assert.equal(o.domain, 'wss.example.com');
  assert.deepEqual(o.upstream, { host: '127.0.0.1', port: 8000 });
  assert.deepEqual(o.listen, { host: '[::]', port: 8443 });
  assert.equal(o.idleTimeout, 300);
  assert.equal(o.heartbeatInterval, 30);
  assert.equal(o.workerShutdownTimeout, 3600);
  assert.deepEqual(resolveProxyConfigOptions({ domain: 'a.b', upstream: '[::1]:1' }).upstream, { host: '[::1]', port: 1 });
  assert.deepEqual(resolveProxyConfigOptions({ domain: 'a.b', upstream: 'app.internal:8282' }).upstream, { host: 'app.internal', port: 8282 });
  assert.deepEqual(resolveProxyConfigOptions({ domain: 'a.b', listen: 8443 }).listen, { host: '', port: 8443 });
  // Unicode names become punycode, which is what certificates and configs carry.
  assert.equal(resolveProxyConfigOptions({ domain: '例子.测试' }).domain, 'xn--fsqu00a.xn--0zwm56d');
});

test('domain: names only, no IPs, no syntax', () => {
  for (const bad of ['', ' ', '1.2.3.4', '::1', '[::1]', 'exa mple.com', 'example.com;', 'a.com{', 'a.com}', 'a.com#x',
    '-a.com', 'a-.com', 'a..com', '.a.com', 'a.com.', 'a_b.com', '$host', 'a.com\nserver', 'a.com\tx', ' a.com', `${'a'.repeat(64)}.com`,
    `${'abcdefghi.'.repeat(26)}com`, '*.example.com', 'https://example.com', 'example.com/wss', 'example.com:443', 42]) {
    rejects('domain', bad);
  }
  rejects('domain', undefined);
});

test('path: absolute, unreserved characters only, exact', () => {
  for (const bad of ['wss', '', '/wss?token=1', '/wss#x', '/w ss', '/wss;', '/wss{', "/wss'", '/wss"', '/$uri', '/a\\b',
    '/wss\n', '//wss', '/a/../b', '/a/./b', '/..', '/%2e', `/${'a'.repeat(200)}`, 7]) {
    rejects('path', bad);
  }
});

test('upstream: host:port or a port, no scheme, no path, no syntax', () => {
  for (const bad of ['', 'http://127.0.0.1:8282', 'ws://127.0.0.1:8282', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536',
    '127.0.0.1:8282/wss', '127.0.0.1:8282;', '::1:8282', '[::1', '[zz]:1', '999.1.1.1:80', 'a b:80', 'app;x:80', '0', '70000']) {
    rejects('upstream', bad);
  }
});

test('listen: a port or address:port (addresses only)', () => {
  for (const bad of ['', '0', '65536', 'example.com:443', '443;', ':443', '*:443', '1.2.3.4', '[::]']) {
    rejects('listen', bad);
  }
});

test('cert/key: absolute paths without spaces or quotes, always together', () => {
  for (const bad of ['fullchain.pem', './fullchain.pem', '/etc/ssl/my cert.pem', '/etc/ssl/a;b', '/etc/ssl/"a"', '/etc/ssl/{a}',
    '/etc/ssl/$x', '/etc/ssl/a#b', '/etc/ssl/', '/etc/ssl/a\nb']) {
    rejects('cert', bad, { key: '/etc/ssl/key.pem' });
    rejects('key', bad, { cert: '/etc/ssl/cert.pem' });
  }
  rejects('key', undefined, { cert: '/etc/ssl/cert.pem' });
  rejects('cert', undefined, { key: '/etc/ssl/key.pem' });
});

test('idle timeout must be at least three heartbeat intervals', () => {
  rejects('idleTimeout', 74, { heartbeatInterval: 25 });
  rejects('idleTimeout', '60s'); // nginx's and Apache's 60 s default against a 25 s heartbeat
  assert.equal(resolveProxyConfigOptions({ ...ok, idleTimeout: 75, heartbeatInterval: 25 }).idleTimeout, 75);
  assert.equal(resolveProxyConfigOptions({ ...ok, idleTimeout: 3, heartbeatInterval: 1 }).idleTimeout, 3);
  for (const bad of [0, -1, 1.5, '1.5', '5 m', '5d', 'forever', '86401', NaN]) rejects('idleTimeout', bad, { heartbeatInterval: 1 });
  for (const bad of [0, '0', 3601, 'x']) rejects('heartbeatInterval', bad);
  for (const bad of [0, '10x', 86_401]) rejects('workerShutdownTimeout', bad);
  rejects('postQuantum', 'yes');
});

test('the error message names the option and what it accepts; CLI naming uses flags', () => {
  assert.throws(() => resolveProxyConfigOptions({ domain: '1.2.3.4' }), /^OptionError: domain: expected a DNS name/);
  assert.throws(() => resolveProxyConfigOptions({ domain: 'a.com', idleTimeout: 30 }, 'cli'), (err: unknown) => {
    assert.ok(err instanceof OptionError);
    assert.equal(err.option, '--idle-timeout');
    assert.match(err.message, /at least 3 × --heartbeat-interval \(25 s → ≥ 75 s\)/);
    return true;
  });
  assert.throws(() => renderProxyConfig('haproxy' as never, ok), (err: unknown) => err instanceof OptionError && err.option === 'kind');
});
