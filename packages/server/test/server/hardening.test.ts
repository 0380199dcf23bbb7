// Unit tests for the small policies of issue 11: strict Origin parsing, subprotocol choice,
// certificate replacement checks, HSTS hosts, the doctor's redaction, and the new options.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { originRefusal } from '../../src/server/origin';
import { protocolSelector } from '../../src/server/subprotocols';
import { nameCovers, replacementProblems, watchKeyPair, type CertificateInfo } from '../../src/common/tls';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from '../../../../test/support/wait';
import { hstsApplies } from '../../src/server/static';
import { parseTarget, redactUrl, scrub } from '../../src/doctor/target';
import { resolveOptions, SERVER_DEFAULTS } from '../../src/server/options';
import { OptionError } from '../../src/common/errors';
import { jsonLines, Logger } from '../../src/common/log';
import type { IncomingMessage } from 'node:http';

const allowed = new Set(['https://app.example.com']);

test('originRefusal: strict with an allow-list, permissive without one', () => {
  for (const ok of [undefined, 'https://app.example.com', 'https://APP.example.com:443', 'weapp://wechat-game-runtime', 'app-scheme://x', 'servicewechat.com', 'weapp://a, weapp://b']) {
    assert.equal(originRefusal(ok, allowed), undefined, String(ok));
  }
  for (const [bad, why] of [
    ['null', /opaque/], ['NULL', /opaque/], ['https://app.example.com/', /scheme:\/\/host/], ['https://app.example.com/x', /scheme:\/\/host/],
    ['https://app.example.com, https://evil.example', /more than one/], ['https://evil.example', /^origin not allowed$/],
    ['https://app.example.com@evil.example', /scheme:\/\/host/], [' https://app.example.com', /scheme:\/\/host/],
    ['https://app.example.com:8443', /^origin not allowed$/], ['http://app.example.com', /^origin not allowed$/],
  ] as const) {
    assert.match(originRefusal(bad, allowed) ?? 'passed', why, bad);
  }
  assert.match(originRefusal(['https://app.example.com', 'https://app.example.com'], allowed)!, /more than one/);
  assert.equal(originRefusal('null', new Set()), undefined, 'no allow-list: anything goes');
});

test('protocolSelector: the client\'s first offered protocol that the server knows, else none', () => {
  const req = {} as IncomingMessage;
  assert.equal(protocolSelector([])(new Set(['mqtt', 'chat']), req), false);
  assert.equal(protocolSelector(['chat'])(new Set(['mqtt', 'chat']), req), 'chat');
  assert.equal(protocolSelector(['chat', 'v2'])(new Set(['v2', 'chat']), req), 'v2');
  assert.equal(protocolSelector(['chat'])(new Set(['Chat']), req), false, 'case-sensitive, as RFC 6455 tokens are');
});

const info = (names: string[], from: number, to: number): CertificateInfo => ({
  serial: '01', subject: 'CN=x', issuer: 'CN=ca', names, validFrom: new Date(from).toISOString(), validTo: new Date(to).toISOString(),
  chainLength: 2, selfSigned: false, fingerprint256: '',
});

test('replacementProblems: expired, not yet valid, names not covered; wildcards cover one label', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const day = 86_400_000;
  const current = info(['example.com', 'www.example.com', '127.0.0.1'], now - 10 * day, now + 10 * day);
  assert.deepEqual(replacementProblems(current, info(['example.com', '*.example.com', '127.0.0.1'], now - day, now + 90 * day), now), []);
  assert.match(replacementProblems(current, info(current.names, now - 90 * day, now - day), now).join(), /expired/);
  assert.match(replacementProblems(current, info(current.names, now + day, now + 90 * day), now).join(), /not valid before/);
  assert.match(replacementProblems(current, info(['evil.example'], now - day, now + 90 * day), now).join(),
    /does not cover example\.com, www\.example\.com, 127\.0\.0\.1/);
  assert.equal(nameCovers('*.example.com', 'www.example.com'), true);
  assert.equal(nameCovers('*.example.com', 'a.b.example.com'), false);
  assert.equal(nameCovers('*.example.com', 'example.com'), false);
  assert.equal(nameCovers('WWW.example.com', 'www.EXAMPLE.com'), true);
  assert.deepEqual(replacementProblems(undefined, info(['x'], now - day, now + day), now), [], 'nothing served yet: dates only');
});

test('hstsApplies: real domain names only', () => {
  for (const h of ['app.example.com', 'app.example.com:8443', 'example.com.']) assert.equal(hstsApplies(h), true, h);
  for (const h of [undefined, '', 'localhost', 'LOCALHOST:8282', 'app.localhost', '127.0.0.1', '127.0.0.1:8282', '[::1]', '[::1]:8282', '10.0.0.1']) {
    assert.equal(hstsApplies(h), false, String(h));
  }
});

test('doctor redaction: bare-token queries, credentials, and reflected variants', () => {
  const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0b20ifQ.c2lnbmF0dXJlLXZhbHVl';
  const bare = parseTarget(`wss://example.com/wss?${token}`);
  assert.equal(bare.display, 'wss://example.com/wss?***');
  assert.equal(redactUrl(new URL('wss://h/x?room=1&token=abc')), 'wss://h/x?room=***&token=***');
  const t = parseTarget(`wss://alice:s3cret-pass@example.com/wss?token=${token}&room=42`);
  const reflected = [
    token.toUpperCase(), encodeURIComponent(token).replace(/\./g, '%2E'), token.slice(0, 12), token.slice(-10),
    token.slice(0, 20) + 'X' + token.slice(21), Buffer.from('alice:s3cret-pass').toString('base64'), 'S3CRET-PASS',
  ];
  const out = scrub(`reason: ${reflected.join(' | ')} path=/wss?token=${token}&x=1`, t.secrets);
  for (const v of reflected) assert.ok(!out.includes(v), `${v} in ${out}`);
  assert.ok(!out.toLowerCase().includes('s3cret'), out);
  assert.match(out, /^reason: \*\*\*/);
  assert.match(out, /\?token=\*\*\*&x=1$/, 'parameter names stay readable');
  assert.equal(scrub('nothing secret here, just words', t.secrets), 'nothing secret here, just words');
});

test('new options: defaults, validation naming the option and what it accepts', () => {
  const o = resolveOptions({});
  assert.equal(o.maxPendingConnections, SERVER_DEFAULTS.maxPendingConnections);
  assert.equal(o.maxUnfinishedBytes, SERVER_DEFAULTS.maxUnfinishedBytes);
  assert.equal(resolveOptions({ maxPayload: 4 << 20 }).maxUnfinishedBytes, 8 << 20, 'at least 2 × maxPayload by default');
  assert.equal(resolveOptions({ maxPayload: 4 << 20, maxUnfinishedBytes: 1000 }).maxUnfinishedBytes, 1000, 'explicit wins');
  assert.deepEqual(o.subprotocols, []);
  for (const [opts, name, accepted] of [
    [{ ipv6Prefix: 0 }, 'ipv6Prefix', /1–128/], [{ ipv6Prefix: 129 }, 'ipv6Prefix', /1–128/],
    [{ maxPendingPerIp: -1 }, 'maxPendingPerIp', /0 \(unlimited\)/], [{ messageTimeout: 0 }, 'messageTimeout', /at least 1/],
    [{ subprotocols: ['has space'] }, 'subprotocols', /RFC 6455 tokens/], [{ subprotocols: 'chat' }, 'subprotocols', /array/],
    [{ maxUnfinishedTotal: 0 }, 'maxUnfinishedTotal', /at least 1/],
  ] as const) {
    assert.throws(() => resolveOptions(opts as never), (e: unknown) => e instanceof OptionError && e.option === name && accepted.test(e.accepted), name);
  }
});

test('jsonLines: a stream that fails (EPIPE) is dropped, not thrown at the process', async () => {
  const stream = new PassThrough();
  const log = new Logger(jsonLines(stream), false);
  log.info('first');
  stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
  log.info('after'); // must neither throw nor write
  assert.equal(stream.read()?.toString().trim().split('\n').length, 1);
  assert.equal(stream.listenerCount('error'), 1, 'one listener per stream, however many sinks');
  jsonLines(stream);
  assert.equal(stream.listenerCount('error'), 1);
});

/**
 * Swaps the directory of a watched file (removed, made again, the file written), waits for the
 * swap's reloads to settle, then writes the file once more: resolves once that write reloaded.
 */
async function swapThenWrite(t: TestContext, dirPollMs: number): Promise<void> {
  const base = mkdtempSync(path.join(tmpdir(), 'wss-mp-watch-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dir = path.join(base, 'live');
  mkdirSync(dir);
  const file = path.join(dir, 'cert.pem');
  writeFileSync(file, 'a');
  let fired = 0;
  const stop = watchKeyPair([file], () => fired++, { debounceMs: 20, dirPollMs });
  t.after(stop);
  rmSync(dir, { recursive: true });
  mkdirSync(dir);
  writeFileSync(file, 'b');
  await waitFor(() => fired >= 1, { timeout: 10_000, what: 'a reload after the swap' });
  // Settled: the re-armed watch must see the next write in the new directory.
  await waitFor(async () => {
    const before = fired;
    await new Promise((r) => setTimeout(r, 300)); // a quiet period: no more events from the swap
    return fired === before;
  }, { timeout: 10_000, what: `the swap events to settle (${fired} so far)` });
  const before = fired;
  writeFileSync(file, 'c');
  await waitFor(() => fired > before, { timeout: 10_000, what: `a reload after writing into the new directory (${before} before)` });
}

test('watchKeyPair: a directory swapped for one with the same inode and timestamps (a stat poll sees nothing) is watched again', async (t) => {
  // The stat poll of the directory out of the way (an hour): what it cannot tell apart when the
  // swap reuses the inode within one clock tick, only the watch's own event about it can.
  await swapThenWrite(t, 3_600_000);
});

test('watchKeyPair: the watch survives its directory being removed and created again (even with the same inode)', async (t) => {
  await swapThenWrite(t, 100);
});
