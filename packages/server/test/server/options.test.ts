import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveOptions, SERVER_DEFAULTS } from '../../src/server/options';
import { OptionError, WssMpServerError } from '../../src/common/errors';
import { formatDuration, formatSize, parseDuration, parseSize, parseCount } from '../../src/common/units';
import { SERVE, flagsToOptions } from '../../src/cli/serve';
import { helpText, parseFlags } from '../../src/cli/flags';
import { createServer } from '../../src/index';

function rejects(fn: () => unknown, option: string, accepted: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OptionError, String(err));
    assert.ok(err instanceof WssMpServerError);
    assert.equal(err.code, 'ERR_INVALID_OPTION');
    assert.equal(err.name, 'OptionError');
    assert.equal(err.option, option);
    assert.match(err.accepted, accepted);
    assert.ok(err.message.startsWith(`${option}: expected `), err.message);
    return true;
  });
}

test('defaults are applied from SERVER_DEFAULTS', () => {
  const o = resolveOptions({});
  assert.equal(o.port, SERVER_DEFAULTS.port);
  assert.deepEqual(o.paths, ['/wss', '/']);
  assert.equal(o.host, '127.0.0.1', 'plain ws binds loopback');
  assert.equal(resolveOptions({ tls: { cert: 'x', key: 'y' } }).host, undefined, 'TLS binds all interfaces');
  assert.equal(o.maxPayload, 65536);
  assert.equal(o.heartbeatInterval, 25_000);
  assert.equal(o.handshakeTimeout, 10_000);
  assert.equal(o.trustProxy.length, 2, 'loopback = 127.0.0.0/8 and ::1');
  assert.ok(Object.isFrozen(SERVER_DEFAULTS));
});

test('paths are normalised; a string may hold several', () => {
  assert.deepEqual(resolveOptions({ path: '/ws/' }).paths, ['/ws']);
  assert.deepEqual(resolveOptions({ path: '/a,/b,/a' }).paths, ['/a', '/b']);
  rejects(() => resolveOptions({ path: 'wss' }), 'path', /starting with "\/"/);
  rejects(() => resolveOptions({ path: '/wss?x=1' }), 'path', /without query/);
  rejects(() => resolveOptions({ path: [] }), 'path', /one or more/);
});

test('every numeric option validates its range and names what it accepts', () => {
  rejects(() => resolveOptions({ port: 70000 }), 'port', /0–65535/);
  rejects(() => resolveOptions({ port: 1.5 }), 'port', /integer/);
  rejects(() => resolveOptions({ maxPayload: 0 }), 'maxPayload', /bytes/);
  rejects(() => resolveOptions({ maxConnections: -1 }), 'maxConnections', /0 \(unlimited\)/);
  rejects(() => resolveOptions({ maxConnectionsPerIp: NaN }), 'maxConnectionsPerIp', /0 \(unlimited\)/);
  rejects(() => resolveOptions({ maxBufferedAmount: 0 }), 'maxBufferedAmount', /bytes/);
  rejects(() => resolveOptions({ handshakeTimeout: 0 }), 'handshakeTimeout', /milliseconds/);
  rejects(() => resolveOptions({ heartbeatInterval: -5 }), 'heartbeatInterval', /0 \(off\)/);
  rejects(() => resolveOptions({ drainTimeout: 2 ** 31 }), 'drainTimeout', /milliseconds/);
});

test('tls, origins, headers, hooks, logger are validated', () => {
  rejects(() => resolveOptions({ tls: {} as never }), 'tls', /certFile, keyFile/);
  rejects(() => resolveOptions({ tls: { cert: 'a', key: 'b', certFile: 'c', keyFile: 'd' } as never }), 'tls', /certFile/);
  rejects(() => resolveOptions({ allowedOrigins: ['example.com'] }), 'allowedOrigins', /https:\/\/example\.com/);
  assert.deepEqual([...resolveOptions({ allowedOrigins: ['HTTPS://App.Example.com:443/'] }).allowedOrigins], ['https://app.example.com']);
  rejects(() => resolveOptions({ ipHeaders: ['x real ip'] }), 'ipHeaders', /header names/);
  rejects(() => resolveOptions({ onMessage: 'echo' as never }), 'onMessage', /function/);
  rejects(() => resolveOptions({ logger: true as never }), 'logger', /false or a function/);
  rejects(() => resolveOptions({ trustProxy: 'everyone' }), 'trustProxy', /CIDRs/);
  rejects(() => resolveOptions({ host: '' }), 'host', /host name/);
});

test('plainHttpAnswer: on by default, a boolean, off with --no-plain-http-answer', () => {
  assert.equal(resolveOptions({}).plainHttpAnswer, true);
  assert.equal(resolveOptions({ plainHttpAnswer: false }).plainHttpAnswer, false);
  rejects(() => resolveOptions({ plainHttpAnswer: 'no' as never }), 'plainHttpAnswer', /true or false/);
  assert.equal(flagsToOptions({ 'no-plain-http-answer': true }).plainHttpAnswer, false);
  assert.equal(flagsToOptions({}).plainHttpAnswer, undefined);
  assert.match(helpText(SERVE), /^\s+--no-plain-http-answer\s/m);
});

test('coalesceWrites: on by default, a boolean, off with --no-coalesce-writes', () => {
  assert.equal(resolveOptions({}).coalesceWrites, true);
  assert.equal(resolveOptions({ coalesceWrites: false }).coalesceWrites, false);
  rejects(() => resolveOptions({ coalesceWrites: 0 as never }), 'coalesceWrites', /true or false/);
  assert.equal(flagsToOptions({ 'no-coalesce-writes': true }).coalesceWrites, false);
  assert.equal(flagsToOptions({}).coalesceWrites, undefined);
  assert.match(helpText(SERVE), /^\s+--no-coalesce-writes\s/m);
});

test('createServer validates before doing anything', () => {
  rejects(() => createServer({ port: -1, logger: false }), 'port', /0–65535/);
  assert.throws(() => createServer({ tls: { cert: 'not a pem', key: 'nope' }, logger: false }), { code: 'ERR_CERTIFICATE' });
  assert.throws(() => createServer({ tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' }, logger: false }),
    (err: WssMpServerError) => err.code === 'ERR_CERTIFICATE' && /\/nonexistent\/cert\.pem/.test(err.message));
});

test('durations and sizes need a unit; a bare number is refused with the unit form', () => {
  assert.equal(parseDuration('x', '25s'), 25_000);
  assert.equal(parseDuration('x', '200ms'), 200);
  assert.equal(parseDuration('x', '2m'), 120_000);
  assert.equal(parseDuration('x', '1h'), 3_600_000);
  assert.equal(parseDuration('x', '1.5s'), 1_500);
  assert.equal(parseDuration('x', '0'), 0, '0 is 0 in every unit');
  assert.equal(parseSize('x', '64KiB'), 65536);
  assert.equal(parseSize('x', '64kib'), 65536);
  assert.equal(parseSize('x', '1MiB'), 1048576);
  assert.equal(parseSize('x', '100B'), 100);
  assert.equal(parseCount('--port', '0', 65535), 0);
  rejects(() => parseDuration('--heartbeat-interval', '25'), '--heartbeat-interval', /write 25s for seconds or 25ms/);
  rejects(() => parseDuration('--heartbeat-interval', '25 seconds'), '--heartbeat-interval', /25s/);
  rejects(() => parseDuration('--drain-timeout', '5S'), '--drain-timeout', /500ms, 25s, 5m or 1h/);
  rejects(() => parseSize('--max-payload', '65536'), '--max-payload', /write 65536B for bytes or 64KiB/);
  rejects(() => parseSize('--max-payload', '64'), '--max-payload', /write 64B for bytes\)/);
  rejects(() => parseSize('--max-payload', '64k'), '--max-payload', /64KiB/);
  rejects(() => parseSize('--max-payload', '64KB'), '--max-payload', /64KiB/);
  rejects(() => parseSize('--max-payload', '-1'), '--max-payload', /64KiB/);
  rejects(() => parseCount('--port', '65536', 65535), '--port', /0–65535/);
  rejects(() => parseCount('--max-connections', 'lots'), '--max-connections', /integer/);
  assert.deepEqual([0, 200, 25_000, 60_000, 300_000, 3_600_000, 1_500].map(formatDuration), ['0', '200ms', '25s', '1m', '5m', '1h', '1500ms']);
  assert.deepEqual([100, 1024, 65536, 1048576, 1536].map(formatSize), ['100B', '1KiB', '64KiB', '1MiB', '1536B']);
});

test('the CLI reads typed values from the flag table; bare durations are refused', () => {
  const v = parseFlags(SERVE, ['--port', '0', '--max-payload', '1KiB', '--heartbeat-interval', '500ms', '--drain-timeout', '0']).values;
  assert.deepEqual([v.port, v['max-payload'], v['heartbeat-interval'], v['drain-timeout']], [0, 1024, 500, 0]);
  rejects(() => parseFlags(SERVE, ['--heartbeat-interval', '25']), '--heartbeat-interval', /25s/);
  rejects(() => parseFlags(SERVE, ['--max-buffered', '1048576']), '--max-buffered', /1MiB/);
  rejects(() => parseFlags(SERVE, ['--nope']), '--nope', /one of --host, --port/);
  rejects(() => parseFlags(SERVE, ['--port']), '--port', /a value after it \(PORT\)/);
  rejects(() => parseFlags(SERVE, ['stray']), '<argument>', /flags only/);
});

test('CLI flags: modes exclude each other; values map onto options', () => {
  assert.equal(flagsToOptions({}).mode, 'dev-cert');
  assert.equal(flagsToOptions({ 'behind-proxy': true }).mode, 'behind-proxy');
  assert.equal(flagsToOptions({ cert: 'c', key: 'k' }).mode, 'cert');
  rejects(() => flagsToOptions({ cert: 'c' }), '--key', /together/);
  rejects(() => flagsToOptions({ key: 'k' }), '--cert', /together/);
  rejects(() => flagsToOptions({ 'behind-proxy': true, 'dev-cert': true }), '--behind-proxy', /TLS twice/);
  rejects(() => flagsToOptions({ 'behind-proxy': true, cert: 'c', key: 'k' }), '--behind-proxy', /TLS twice/);
  const o = flagsToOptions(parseFlags(SERVE, [
    '--port', '0', '--path', '/a, /b', '--trust-proxy', '10.0.0.0/8', '--max-payload', '1KiB', '--max-connections', '5',
    '--max-connections-per-ip', '2', '--max-buffered', '2MiB', '--handshake-timeout', '3s', '--heartbeat-interval', '500ms',
    '--drain-timeout', '1s', '--allow-origin', 'https://a.example', '--no-watch', '--quiet',
  ]).values);
  assert.deepEqual(
    { port: o.port, path: o.path, maxPayload: o.maxPayload, maxConnections: o.maxConnections, perIp: o.maxConnectionsPerIp,
      buffered: o.maxBufferedAmount, hs: o.handshakeTimeout, hb: o.heartbeatInterval, drain: o.drainTimeout,
      watch: o.watchCertificate, quiet: o.quiet, origins: o.allowedOrigins },
    { port: 0, path: ['/a', '/b'], maxPayload: 1024, maxConnections: 5, perIp: 2, buffered: 2 * 1024 * 1024, hs: 3000,
      hb: 500, drain: 1000, watch: false, quiet: true, origins: ['https://a.example'] },
  );
});
