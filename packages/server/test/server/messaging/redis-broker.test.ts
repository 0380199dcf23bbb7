// RedisBroker against a real redis-server: a publication this node missed on pub/sub (stored in
// the stream, never broadcast) is filled from the stream when the next one arrives ahead of it;
// its own publications are delivered once (the pub/sub echo dropped); option validation.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisBroker } from '../../../src/server/messaging/redis-broker';
import { PUBLISH_LUA } from '../../../src/server/messaging/redis-scripts';
import { resolveMessaging } from '../../../src/server/messaging/options';
import { OptionError } from '../../../src/common/errors';
import { requireBinary } from '../../../../../test/support/binaries';
import { startRedis } from '../../../../../test/support/redis';
import { waitFor } from '../../../../../test/support/wait';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

test('a gap seen on pub/sub (offset ahead) is filled from the stream, in order; own publications once', async (t) => {
  const bin = requireBinary(t, 'redis-server');
  if (!bin) return;
  const r = await startRedis(bin);
  cleanup.push(() => r.stop());
  const o = { url: r.url, historySize: 100, historyTtl: 60_000 };
  const x = new RedisBroker(o);
  const y = new RedisBroker(o);
  const raw = new Redis(r.url);
  cleanup.push(() => x.close(), () => y.close(), async () => raw.disconnect());
  await waitFor(() => x.available && y.available, { what: 'both connected' });

  const got: string[] = [];
  x.onPublication((stream, p) => got.push(`${stream}:${p.offset}:${JSON.parse(p.frame.toString()).data}`));
  x.subscribe('g');
  const h = await x.history('g', undefined);
  assert.deepEqual(h.top.offset, 0);

  await y.publish('g', 'a');
  await waitFor(() => got.length === 1, { what: 'the first publication' });
  // Offset 2 is written the way a publication is, but broadcast on a channel nobody listens to:
  // exactly what a node sees when it misses a pub/sub message.
  const args = ['wss-mp:{g}:m', 'wss-mp:{g}:s', 'unused', '"g"', '"b"', 100, 60_000, 'nowhere', 86_400_000];
  // Past its deadline the script makes nothing (a node that timed out told its caller it was refused).
  await assert.rejects(raw.eval(PUBLISH_LUA, 2, ...args, Date.now() - 1), /LATE/);
  await raw.eval(PUBLISH_LUA, 2, ...args, Date.now() + 60_000);
  await y.publish('g', 'c');
  await waitFor(() => got.length >= 3, { what: 'the gap filled' });
  // Its own publication: delivered before publish() settles, and the pub/sub echo dropped.
  const own = await x.publish('g', 'd');
  assert.equal(own.offset, 4);
  assert.equal(got.at(-1), 'g:4:d');
  await y.publish('g', 'e');
  await waitFor(() => got.length >= 5, { what: 'the last publication' });
  assert.deepEqual(got, ['g:1:a', 'g:2:b', 'g:3:c', 'g:4:d', 'g:5:e']);

  // The history agrees, and a position in another epoch is not recovered.
  const all = await y.history('g', { offset: 1, epoch: own.epoch });
  assert.equal(all.recovered, true);
  assert.deepEqual(all.publications.map((p) => p.offset), [2, 3, 4, 5]);
  assert.equal((await y.history('g', { offset: 1, epoch: 'other' })).recovered, false);
});

test('messaging.redis: a redis:// URL or { url, prefix }; anything else is an OptionError naming the option', () => {
  assert.deepEqual(resolveMessaging({ redis: 'redis://127.0.0.1:6379' })!.redis, { url: 'redis://127.0.0.1:6379', prefix: undefined });
  assert.deepEqual(resolveMessaging({ redis: { url: 'rediss://h:1', prefix: 'app:' } })!.redis, { url: 'rediss://h:1', prefix: 'app:' });
  for (const bad of ['http://x', '', 42, { url: 'redis://x', prefix: '' }]) {
    assert.throws(() => resolveMessaging({ redis: bad as never }), (e: unknown) => e instanceof OptionError && /^messaging\.redis/.test(e.option));
  }
});
