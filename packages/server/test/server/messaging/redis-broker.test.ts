// RedisBroker against a real redis-server: a publication this node missed on pub/sub (stored in
// the stream, never broadcast) is filled from the stream when the next one arrives ahead of it;
// its own publications are delivered once (the pub/sub echo dropped); option validation.
import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisBroker, type RedisBrokerOptions } from '../../../src/server/messaging/redis-broker';
import { PUBLISH_LUA } from '../../../src/server/messaging/redis-scripts';
import { REDIS_DEFAULTS, resolveMessaging } from '../../../src/server/messaging/options';
import { OptionError } from '../../../src/common/errors';
import { requireBinary } from '../../../../../test/support/binaries';
import { startRedis } from '../../../../../test/support/redis';
import { waitFor } from '../../../../../test/support/wait';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

/** A real redis-server and two brokers (two nodes) connected to it, both torn down after; undefined when redis-server is missing (skipped loudly, or failed under CI). */
async function twoNodes(t: TestContext, extra: Partial<RedisBrokerOptions> = {}) {
  const bin = requireBinary(t, 'redis-server');
  if (!bin) return undefined;
  const r = await startRedis(bin);
  cleanup.push(() => r.stop());
  const o = { url: r.url, historySize: 100, historyTtl: 60_000, ...extra };
  const x = new RedisBroker(o);
  const y = new RedisBroker(o);
  cleanup.push(() => x.close(), () => y.close());
  await waitFor(() => x.available && y.available, { what: 'both connected' });
  return { r, o, x, y };
}

test('a gap seen on pub/sub (offset ahead) is filled from the stream, in order; own publications once', async (t) => {
  const nodes = await twoNodes(t);
  if (!nodes) return;
  const { r, x, y } = nodes;
  const raw = new Redis(r.url);
  cleanup.push(async () => raw.disconnect());

  const got: string[] = [];
  x.onPublication((stream, p) => got.push(`${stream}:${p.offset}:${JSON.parse(p.frame.toString()).data}`));
  x.subscribe('g');
  const h = await x.history('g', undefined);
  assert.deepEqual(h.top.offset, 0);

  await y.publish('g', 'a');
  await waitFor(() => got.length === 1, { what: 'the first publication' });
  // Offset 2 is written the way a publication is, but broadcast on a channel nobody listens to:
  // exactly what a node sees when it misses a pub/sub message.
  const args = ['wss-mp:{g}:m', 'wss-mp:{g}:s', 'wss-mp:{g}:i:', 'unused', '"g"', '"b"', 100, 60_000, 'nowhere', 86_400_000];
  // Past its deadline the script makes nothing (a node that timed out told its caller it was refused).
  await assert.rejects(raw.eval(PUBLISH_LUA, 3, ...args, Date.now() - 1, 0), /LATE/);
  await raw.eval(PUBLISH_LUA, 3, ...args, Date.now() + 60_000, 0);
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

test('an idempotency key: a retry on any node settles with the first position and publishes nothing; other keys, streams and no key publish', async (t) => {
  const nodes = await twoNodes(t);
  if (!nodes) return;
  const { x, y } = nodes;
  const got: string[] = [];
  x.onPublication((stream, p) => got.push(`${stream}:${p.offset}:${JSON.parse(p.frame.toString()).data}`));
  x.subscribe('k');
  await x.history('k', undefined);

  const first = await y.publish('k', 'a', { idempotencyKey: 'order-1' });
  const again = await x.publish('k', 'a', { idempotencyKey: 'order-1' });
  assert.deepEqual([again.offset, again.epoch, again.repeated], [first.offset, first.epoch, true]);
  assert.equal(JSON.parse(again.frame.toString()).data, 'a', 'the first publication, as stored');
  const other = await x.publish('k', 'b', { idempotencyKey: 'order-2' });
  const plain = await x.publish('k', 'c');
  const plain2 = await x.publish('k', 'c');
  const elsewhere = await x.publish('k2', 'a', { idempotencyKey: 'order-1' });
  assert.deepEqual([other.offset, plain.offset, plain2.offset, elsewhere.offset], [2, 3, 4, 1]);
  await waitFor(() => got.length >= 4, { what: 'the publications' });
  assert.deepEqual(got, ['k:1:a', 'k:2:b', 'k:3:c', 'k:4:c'], 'the retry was delivered nowhere');
  const h = await y.history('k', { offset: 0, epoch: first.epoch });
  assert.deepEqual(h.publications.map((p) => JSON.parse(p.frame.toString()).data), ['a', 'b', 'c', 'c']);
});

test('messaging.redis: a redis:// URL or { url, prefix, heartbeat, presenceTtl }; anything else is an OptionError naming the option', () => {
  assert.deepEqual(resolveMessaging({ redis: 'redis://127.0.0.1:6379' })!.redis, { url: 'redis://127.0.0.1:6379', ...REDIS_DEFAULTS });
  assert.deepEqual(resolveMessaging({ redis: { url: 'rediss://h:1', prefix: 'app:' } })!.redis, { url: 'rediss://h:1', ...REDIS_DEFAULTS, prefix: 'app:' });
  assert.deepEqual(resolveMessaging({ redis: { url: 'redis://h:1', heartbeat: 200, presenceTtl: 400 } })!.redis, { url: 'redis://h:1', prefix: 'wss-mp:', heartbeat: 200, presenceTtl: 400 });
  for (const bad of ['http://x', '', 42, { url: 'redis://x', prefix: '' }]) {
    assert.throws(() => resolveMessaging({ redis: bad as never }), (e: unknown) => e instanceof OptionError && /^messaging\.redis/.test(e.option));
  }
  const named = (redis: object, option: string, accepted: RegExp) =>
    assert.throws(() => resolveMessaging({ redis: { url: 'redis://x', ...redis } }), (e: unknown) => e instanceof OptionError && e.option === option && accepted.test(e.accepted));
  named({ heartbeat: 50 }, 'messaging.redis.heartbeat', /at least 100/);
  named({ heartbeat: 1.5 }, 'messaging.redis.heartbeat', /at least 100/);
  // A ttl under two heartbeats would expire a node after one late beat.
  named({ heartbeat: 1000, presenceTtl: 1999 }, 'messaging.redis.presenceTtl', /2 × heartbeat \(2000\)/);
  named({ presenceTtl: '15s' }, 'messaging.redis.presenceTtl', /milliseconds/);
});

test('presence across brokers: overall and per channel, with connection counts; a close drops a node at once; a node that stops beating stops counting after presenceTtl', async (t) => {
  // Short enough to wait for, long enough that a loaded machine's late beat does not expire a node.
  const nodes = await twoNodes(t, { heartbeat: 200, presenceTtl: 2000 });
  if (!nodes) return;
  const { r, o, x, y } = nodes;

  x.connection('alice', 1);
  x.member('room', 'alice', 1);
  x.connection(null, 1);
  x.member('room', null, 1);
  y.connection('alice', 1);
  y.member('room', 'alice', 1);
  y.connection('bob', 1);
  y.member('other', 'bob', 1);
  const want = {
    all: { users: ['alice', 'bob'], connections: 4, userConnections: { alice: 2, bob: 1 } },
    room: { users: ['alice'], connections: 3, userConnections: { alice: 2 } },
    other: { users: ['bob'], connections: 1, userConnections: { bob: 1 } },
  };
  const sorted = (p: { users: string[] }) => ({ ...p, users: [...p.users].sort() });
  for (const b of [x, y]) {
    await waitFor(async () => (await b.presence()).connections === 4, { what: 'both nodes counted' });
    assert.deepEqual(sorted(await b.presence()), want.all);
    assert.deepEqual(await b.presence('room'), want.room);
    assert.deepEqual(await b.presence('other'), want.other);
  }

  // What a pause longer than presenceTtl leaves behind (SIGSTOP, a frozen VM): the node dropped
  // from the live set and its overall hash expired. Its next heartbeat sees that it had expired
  // and writes everything again, under a new generation.
  const raw = new Redis(r.url);
  cleanup.push(async () => raw.disconnect());
  const gens = await raw.zrange('wss-mp:nodes', 0, -1);
  assert.equal(gens.length, 2);
  const xGen = gens.find((g) => g.startsWith(x.nodeId))!;
  await raw.multi().zrem('wss-mp:nodes', xGen).del(`wss-mp:node:${xGen}`).exec();
  await waitFor(async () => (await y.presence()).connections === 4, { what: 'x counted again' });
  assert.deepEqual(sorted(await y.presence()), want.all);
  assert.deepEqual(await y.presence('room'), want.room);
  assert.ok(!(await raw.zrange('wss-mp:nodes', 0, -1)).includes(xGen), 'under a new generation');

  // y drained: gone at once, its keys deleted.
  y.member('other', 'bob', -1);
  await y.close();
  assert.deepEqual(await x.presence('room'), { users: ['alice'], connections: 2, userConnections: { alice: 1 } });
  assert.deepEqual(await x.presence('other'), { users: [], connections: 0, userConnections: {} });
  assert.deepEqual((await raw.keys('wss-mp:*pr:*')).filter((k) => !k.includes(x.nodeId)), []);

  // x stops beating without leaving (its Redis connections simply stop, as in a SIGKILL): a
  // third node stops counting it once presenceTtl has passed.
  const z = new RedisBroker(o);
  cleanup.push(() => z.close());
  await waitFor(() => z.available, { what: 'z connected' });
  assert.equal((await z.presence('room')).connections, 2);
  (x as unknown as { heartbeat: NodeJS.Timeout }).heartbeat.close();
  (x as unknown as { cmd: Redis; sub: Redis }).cmd.disconnect();
  (x as unknown as { cmd: Redis; sub: Redis }).sub.disconnect();
  await waitFor(async () => (await z.presence('room')).connections === 0, { what: 'x expired', timeout: 10_000 });
  assert.deepEqual(await z.presence(), { users: [], connections: 0, userConnections: {} });
});

test('Redis restarted without its data: each node writes its presence again on reconnect', async (t) => {
  const nodes = await twoNodes(t);
  if (!nodes) return;
  const { r, x, y } = nodes;
  x.connection('alice', 1);
  x.member('room', 'alice', 1);
  y.connection('bob', 1);
  y.member('room', 'bob', 1);
  const room = async () => {
    const p = await y.presence('room');
    return { ...p, users: [...p.users].sort() };
  };
  await waitFor(async () => (await room()).connections === 2, { what: 'both counted' });
  await r.restart('SIGKILL'); // no appendonly: everything in Redis is gone
  // While Redis is away, a change only updates the node's own state; the rewrite carries it.
  x.connection('carol', 1);
  x.member('room', 'carol', 1);
  await waitFor(async () => (await room().catch(() => undefined))?.connections === 3, { what: 'presence rewritten after the restart', timeout: 20_000 });
  assert.deepEqual(await room(), { users: ['alice', 'bob', 'carol'], connections: 3, userConnections: { alice: 1, bob: 1, carol: 1 } });
});

test('the presence changes of one event-loop turn are one write per key (a reconnect storm is not a write per client)', async (t) => {
  const bin = requireBinary(t, 'redis-server');
  if (!bin) return;
  const r = await startRedis(bin);
  cleanup.push(() => r.stop());
  const x = new RedisBroker({ url: r.url, historySize: 100, historyTtl: 60_000 });
  const raw = new Redis(r.url);
  cleanup.push(() => x.close(), async () => raw.disconnect());
  await waitFor(() => x.available, { what: 'connected' });
  await waitFor(async () => (await raw.zcard('wss-mp:nodes')) === 1, { what: 'the first heartbeat' });
  const scripts = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
  const before = await scripts();
  for (let i = 0; i < 200; i++) {
    x.connection(`u${i}`, 1);
    x.member('big', `u${i}`, 1);
  }
  x.member('big', 'u0', -1); // nets out within the turn
  x.member('big', 'u0', 1);
  await waitFor(async () => (await x.presence('big')).connections === 200, { what: 'all 200 counted' });
  const p = await x.presence('big');
  assert.equal(p.users.length, 200);
  assert.equal(p.userConnections.u0, 1);
  assert.equal((await x.presence()).connections, 200);
  // Two keys changed (the node's hash and big's): two script calls, and at most a heartbeat's.
  assert.ok((await scripts()) - before <= 3, `${(await scripts()) - before} script calls`);
});
