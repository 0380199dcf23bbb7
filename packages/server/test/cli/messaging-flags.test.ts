import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SERVE, flagsToOptions } from '../../src/cli/serve';
import { parseFlags } from '../../src/cli/flags';
import { OptionError } from '../../src/common/errors';

const opts = (argv: string[]) => flagsToOptions(parseFlags(SERVE, argv).values);
const fails = (argv: string[], option: string) =>
  assert.throws(() => opts(argv), (e: unknown) => e instanceof OptionError && e.option === option, argv.join(' '));

test('--messaging with history flags; --conformance answers publish requests through the server', async () => {
  assert.equal(opts([]).messaging, undefined);
  const o = opts(['--messaging', '--history-size', '20', '--history-ttl', '30s']);
  assert.deepEqual(o.messaging, { historySize: 20, historyTtl: 30_000 });
  const c = opts(['--messaging', '--conformance']) as ReturnType<typeof opts> & { conformanceRef: { server?: unknown } };
  const onRequest = (c.messaging as { onRequest: (conn: unknown, d: unknown) => unknown }).onRequest;
  c.conformanceRef.server = { publish: async (ch: string, data: unknown) => ({ offset: 1, epoch: `${ch}:${String(data)}` }) };
  assert.deepEqual(await onRequest({}, { publish: { ch: 'a', data: 'x' } }), { offset: 1, epoch: 'a:x' });
  assert.deepEqual(onRequest({}, { limits: true }), { historySize: 1000, rateLimit: { messagesPerSecond: 50, messagesBurst: 100 } });
  const off = opts(['--messaging', '--conformance', '--no-rate-limit']) as ReturnType<typeof opts>;
  assert.deepEqual((off.messaging as { onRequest: (conn: unknown, d: unknown) => unknown }).onRequest({}, { limits: true }), { historySize: 1000, rateLimit: null });
  assert.equal(onRequest({}, 'tom'), 'tom');
  assert.equal(onRequest({}, { publish: { ch: '$user', data: 1 } }) instanceof Promise, false, 'never a $ channel');
  fails(['--conformance'], '--conformance');
  fails(['--history-size', '5'], '--history-size');
});

test('--jwt-secret-file, --single-session and --wechat-* read secrets from files and name what is missing', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-flags-'));
  try {
    const secret = path.join(dir, 'jwt');
    writeFileSync(secret, 's'.repeat(40) + '\n');
    const wx = path.join(dir, 'wx');
    writeFileSync(wx, 'wx-secret\n');
    const o = opts(['--jwt-secret-file', secret, '--single-session', '--wechat-appid', 'wx1', '--wechat-secret-file', wx, '--wechat-api-base', 'http://127.0.0.1:9']);
    assert.deepEqual(o.jwt, { secret: 's'.repeat(40) });
    assert.equal(o.singleSession, true);
    assert.deepEqual(o.wechatLogin, { appId: 'wx1', appSecret: 'wx-secret', apiBase: 'http://127.0.0.1:9' });
    fails(['--jwt-secret-file', path.join(dir, 'missing')], '--jwt-secret-file');
    fails(['--wechat-appid', 'wx1'], '--wechat-appid');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--redis needs --messaging and becomes messaging.redis; --workers takes N or auto', async () => {
  assert.deepEqual(opts(['--messaging', '--redis', 'redis://127.0.0.1:6379']).messaging, { redis: { url: 'redis://127.0.0.1:6379' } });
  fails(['--redis', 'redis://127.0.0.1:6379'], '--redis');
  // Presence timing: durations, only with --redis; createServer checks the ttl against the heartbeat.
  const timed = opts(['--messaging', '--redis', 'redis://h:1', '--redis-heartbeat', '250ms', '--redis-presence-ttl', '2s']);
  assert.deepEqual(timed.messaging, { redis: { url: 'redis://h:1', heartbeat: 250, presenceTtl: 2000 } });
  fails(['--messaging', '--redis-heartbeat', '1s'], '--redis-heartbeat');
  fails(['--messaging', '--redis-presence-ttl', '1s'], '--redis-presence-ttl');
  const { parseWorkers } = await import('../../src/cli/workers');
  const { availableParallelism } = await import('node:os');
  assert.equal(parseWorkers('3'), 3);
  assert.equal(parseWorkers('auto'), availableParallelism());
  for (const bad of ['0', '-1', '1.5', 'many', '']) {
    assert.throws(() => parseWorkers(bad), (e: unknown) => e instanceof OptionError && e.option === '--workers', bad);
  }
});
