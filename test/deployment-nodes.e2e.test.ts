// docs/deployment.md "Every core, then several machines", run as written: real nginx with the
// config `proxy-config nginx` generates plus the doc's upstream block (addresses replaced by two
// loopback ports), two `wss-mp-server --behind-proxy --messaging --redis` processes, one real
// Redis. A node is SIGKILLed: its clients reconnect through nginx to the other and recover.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type LogEntry } from 'wss-mp-server';
import { renderProxyConfig } from 'wss-mp-server/proxy-config';
import { ProtoClient, type Frame } from './conformance/client';
import { requireBinary } from './support/binaries';
import { createPki, issueLeaf } from './support/certs';
import { startProxy } from './support/proxies';
import { startOnFreePort } from './support/ports';
import { startRedis } from './support/redis';
import { ROOT, startServer, type RunningServer } from './support/server';
import { signHs256, now } from './support/jwt';
import { waitFor } from './support/wait';

const DOMAIN = 'wss-mp.test';
const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

/** The doc's nginx blocks: the upstream group and the proxy_pass line. */
function docBlocks(): { upstream: string; proxyPass: string } {
  const doc = readFileSync(path.join(ROOT, 'docs/deployment.md'), 'utf8');
  const blocks = [...doc.matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const upstream = blocks.find((b) => b.includes('upstream wss_mp_nodes'));
  const proxyPass = blocks.find((b) => b.trim().startsWith('proxy_pass http://wss_mp_nodes'));
  assert.ok(upstream && proxyPass, 'docs/deployment.md shows the upstream group and its proxy_pass');
  return { upstream, proxyPass: proxyPass.trim() };
}

/** Resolves the test domain to loopback for the ws client. */
function lookup(_host: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) {
  if (opts?.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
  else cb(null, '127.0.0.1', 4);
}

test('two nodes behind nginx (upstream group) with Redis: messaging across nodes, a node killed, its clients recover through nginx', async (t) => {
  const nginxBin = requireBinary(t, 'nginx');
  const redisBin = nginxBin && requireBinary(t, 'redis-server');
  if (!nginxBin || !redisBin) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-nodes-'));
  const secretFile = path.join(dir, 'jwt');
  writeFileSync(secretFile, SECRET);
  const pki = createPki('wss-mp-nodes');
  cleanup.push(async () => pki.cleanup());
  const leaf = issueLeaf(pki, { hosts: [DOMAIN] });

  const redis = await startRedis(redisBin);
  cleanup.push(() => redis.stop());
  const node = async () => {
    const s = await startServer(['--behind-proxy', '--messaging', '--redis', redis.url, '--jwt-secret-file', secretFile, '--heartbeat-interval', '0', '--quiet']);
    cleanup.push(() => s.stop('SIGKILL'));
    await s.waitForLog((l) => l.event === 'redis' && l.msg === 'connected');
    return s;
  };
  const nodes: RunningServer[] = [await node(), await node()];
  // The application's own process publishing (a third node, no clients).
  const logs: LogEntry[] = [];
  const api = createServer({ port: 0, host: '127.0.0.1', logger: (e) => logs.push(e), messaging: { redis: redis.url } });
  cleanup.push(() => api.close());
  await api.listen();
  await waitFor(() => logs.some((l) => l.event === 'redis' && l.msg === 'connected'), { what: 'api node connected' });

  const { upstream, proxyPass } = docBlocks();
  let i = 0;
  const group = upstream.replace(/server \S+:8282/g, () => `server 127.0.0.1:${nodes[i++]!.port}`);
  assert.equal(i, 2, 'the doc lists two nodes');
  const proxy = await startOnFreePort((port) => {
    const cfg = renderProxyConfig('nginx', { domain: DOMAIN, path: '/wss', listen: `127.0.0.1:${port}`, upstream: `127.0.0.1:${nodes[0]!.port}`,
      cert: leaf.fullchain, key: leaf.key });
    const single = `proxy_pass http://127.0.0.1:${nodes[0]!.port};`;
    assert.ok(cfg.text.includes(single));
    const site = `${group}\n${cfg.text.replace(single, proxyPass)}`;
    return startProxy('nginx', { site, main: cfg.main, port });
  });
  cleanup.push(() => proxy.stop());

  const url = `wss://${DOMAIN}:${proxy.port}/wss`;
  const open = async (user: string) => {
    const c = await ProtoClient.open(url, { ca: readFileSync(pki.caCert), ...({ lookup } as object),
      headers: { authorization: `Bearer ${signHs256(SECRET, { sub: user, exp: now() + 600 })}` } });
    cleanup.push(() => c.close());
    assert.equal((await c.next((f) => f.t === 'welcome')).user, user);
    return c;
  };
  const sub = async (c: ProtoClient, ch: string, pos?: { offset: number; epoch: string }) => {
    const id = c.id('s');
    c.send({ t: 'sub', id, ch, pos });
    const ack = await c.next((f) => f.t === 'ack' && f.id === id, 15_000);
    assert.equal(ack.error, undefined);
    return ack.data as Frame;
  };
  const got = (c: ProtoClient, ch: string) => c.frames.filter((f) => f.t === 'pub' && f.ch === ch);

  const users = ['n1', 'n2', 'n3', 'n4'];
  const first = await Promise.all(users.map(open));
  // Round robin: both nodes hold clients.
  const p = await api.presence();
  assert.deepEqual(p.users.sort(), users);
  for (const c of first) {
    await sub(c, 'room');
    await sub(c, '$user');
  }
  for (let n = 1; n <= 3; n++) {
    await api.publish('room', { n });
    for (const u of users) await api.sendToUser(u, { n });
  }
  for (const c of first) await waitFor(() => got(c, 'room').length === 3 && got(c, '$user').length === 3, { what: 'first 3 on every client' });

  await nodes[0]!.stop('SIGKILL');
  await waitFor(() => first.some((c) => c.closed), { what: 'clients of the killed node cut' });
  const cut = first.filter((c) => c.closed);
  assert.ok(cut.length > 0 && cut.length < users.length, `nginx spread the clients over both nodes (cut ${cut.length} of ${users.length})`);
  for (let n = 4; n <= 6; n++) {
    await api.publish('room', { n });
    for (const u of users) await api.sendToUser(u, { n });
  }
  // The cut clients reconnect to the same URL: nginx sends them to the live node.
  for (const old of cut) {
    const user = users[first.indexOf(old)]!;
    const c = await open(user);
    for (const ch of ['room', '$user']) {
      const last = got(old, ch).at(-1)!;
      assert.equal((await sub(c, ch, { offset: last.offset, epoch: last.epoch })).recovered, true);
    }
    await c.request('flush');
    for (const ch of ['room', '$user']) {
      assert.deepEqual([...got(old, ch), ...got(c, ch)].map((f) => f.data.n), [1, 2, 3, 4, 5, 6], `${user} ${ch}: no loss, no duplicate`);
    }
  }
  for (const c of first.filter((x) => !x.closed)) {
    await waitFor(() => got(c, 'room').length === 6 && got(c, '$user').length === 6, { what: 'the survivors got everything live' });
  }
});
