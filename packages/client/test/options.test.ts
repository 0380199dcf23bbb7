import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PING_FRAME, PONG_FRAME, TERMINAL_MAX, TERMINAL_MIN, CLIENT_HEARTBEAT_INTERVAL_MS, CLIENT_HEARTBEAT_TIMEOUT_MS, MAX_MESSAGE_BYTES } from '@wss-mp/protocol';
import { CLIENT_DEFAULTS, SocketError, defaultIsPong, defaultShouldReconnect } from '../src/index';
import { resolveOptions, toEndpoint } from '../src/options';

const url = 'wss://example.test/';
const optionError = (name: string, accepts: RegExp) => (e: SocketError) =>
  e instanceof SocketError && e.code === 'ERR_OPTION' && e.message.includes(`"${name}"`) && accepts.test(e.message);

test('defaults come from the shared protocol leaf where it has them', () => {
  assert.equal(CLIENT_DEFAULTS.heartbeatInterval, CLIENT_HEARTBEAT_INTERVAL_MS);
  assert.equal(CLIENT_DEFAULTS.heartbeatTimeout, CLIENT_HEARTBEAT_TIMEOUT_MS);
  assert.equal(CLIENT_DEFAULTS.pingMessage, PING_FRAME);
  assert.equal(CLIENT_DEFAULTS.pongMessage, PONG_FRAME);
  assert.equal(CLIENT_DEFAULTS.maxMessageSize, MAX_MESSAGE_BYTES);
  // A server's ping is not a pong (the client tells its own echoed ping apart itself).
  assert.ok(defaultIsPong(PONG_FRAME) && !defaultIsPong(PING_FRAME) && !defaultIsPong('{"type":"other"}'));
  for (const code of [1000, 1001, 1006, 1011, 1013, 3000, 3012, 4000, 4002, 4499, 4500, 4503, 4999]) assert.ok(defaultShouldReconnect(code, ''), String(code));
  for (const code of [TERMINAL_MIN, 4001, 4003, 4009, TERMINAL_MAX]) assert.ok(!defaultShouldReconnect(code, ''), String(code));
});

test('every option is validated; the error names the option and what it accepts', () => {
  const bad: [Record<string, unknown>, string, RegExp][] = [
    [{ connectTimeout: -1 }, 'connectTimeout', /of type number >= 0/],
    [{ connectTimeout: '5000' }, 'connectTimeout', /of type number >= 0/],
    [{ backoffMax: Infinity }, 'backoffMax', /of type number >= 0/],
    [{ heartbeatInterval: NaN }, 'heartbeatInterval', /of type number >= 0/],
    [{ maxRetries: -1 }, 'maxRetries', /of type number >= 0/],
    [{ queueOverflow: 'drop-newest' }, 'queueOverflow', /"drop-oldest" or "reject"/],
    [{ lifecycle: 'yes' }, 'lifecycle', /of type boolean/],
    [{ isPong: 'pong' }, 'isPong', /of type function/],
    [{ shouldReconnect: true }, 'shouldReconnect', /of type function/],
    [{ random: 0.5 }, 'random', /of type function/],
    [{ clock: 5 }, 'clock', /of type object/],
    [{ heartbeatIntervall: 1000 }, 'heartbeatIntervall', /a known option/],
  ];
  for (const [extra, name, accepts] of bad) {
    assert.throws(() => resolveOptions({ url, ...extra } as never), optionError(name, accepts), name);
  }
  assert.equal(resolveOptions({ url, maxRetries: Infinity }).maxRetries, Infinity);
  assert.equal(resolveOptions({ url, maxMessageSize: Infinity }).maxMessageSize, Infinity);
  assert.throws(() => resolveOptions({ url, maxMessageSize: -1 }), optionError('maxMessageSize', /of type number >= 0/));
  assert.equal(resolveOptions({ url, connectTimeout: undefined }).connectTimeout, CLIENT_DEFAULTS.connectTimeout);
});

test('url: a ws(s):// string, {url, header, protocols}, or a (possibly async) function; checked at creation when static', () => {
  for (const u of [undefined, '', 'https://x/', 'example.test', { url: 'ftp://x' }, 42]) {
    assert.throws(() => resolveOptions({ url: u } as never), optionError('url', /ws\(s\):\/\//), String(u));
  }
  assert.doesNotThrow(() => resolveOptions({ url: 'ws://127.0.0.1:1/' }));
  assert.doesNotThrow(() => resolveOptions({ url: () => 'nonsense' })); // checked per attempt
  assert.doesNotThrow(() => resolveOptions({ url: Promise.resolve(url) }));
  assert.deepEqual(toEndpoint({ url, header: { a: 'b' }, protocols: 'x' }), { url, header: { a: 'b' }, protocols: ['x'] });
  assert.deepEqual(toEndpoint(url), { url, protocols: undefined });
  // WeChat's own connectSocket options pass through; the result is a copy.
  const input = { url, tcpNoDelay: true, perMessageDeflate: true, timeout: 5000, forceCellularNetwork: true };
  const ep = toEndpoint(input);
  assert.deepEqual(ep, { ...input, protocols: undefined });
  assert.notEqual(ep, input);
});
