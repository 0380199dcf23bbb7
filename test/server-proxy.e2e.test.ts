// --behind-proxy against the built CLI: plain ws on 127.0.0.1, and the client IP taken from
// X-Real-IP / X-Forwarded-For only when the TCP peer is a trusted proxy.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type LogLine, type RunningServer } from './support/server';
import { echoes, openWs } from './support/net-tools';

async function connectAndLog(server: RunningServer, headers: Record<string, string>): Promise<LogLine> {
  const before = server.logs.length;
  const c = await openWs(server.url, { headers });
  await echoes(c);
  c.ws.close();
  const [code] = await c.closed;
  assert.equal(code, 1005);
  const conn = await server.waitForLog((l) => server.logs.indexOf(l) >= before && l.event === 'connection');
  const close = await server.waitForLog((l) => server.logs.indexOf(l) >= before && l.event === 'close' && l.id === conn.id);
  assert.equal(close.ip, conn.ip, 'close line carries the same ip');
  return conn;
}

describe('behind a proxy', { concurrency: true }, () => {
  test('plain ws on 127.0.0.1; a trusted (loopback) peer\'s X-Forwarded-For / X-Real-IP are used', async () => {
    const server = await startServer(['--behind-proxy']);
    try {
      assert.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+\/wss$/);
      const listening = await server.waitForLog((l) => l.event === 'listening');
      assert.equal(listening.address, '127.0.0.1');
      const xff = await connectAndLog(server, { 'X-Forwarded-For': '198.51.100.7' });
      assert.equal(xff.ip, '198.51.100.7');
      assert.equal(xff.peer, '127.0.0.1');
      assert.equal(xff.path, '/wss');
      const real = await connectAndLog(server, { 'X-Real-IP': '2001:db8::42' });
      assert.equal(real.ip, '2001:db8::42');
      // A client-forged entry to the left of what the proxy appended is not believed.
      const chain = await connectAndLog(server, { 'X-Forwarded-For': '6.6.6.6, 198.51.100.8' });
      assert.equal(chain.ip, '198.51.100.8');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('a forged X-Forwarded-For / X-Real-IP from an untrusted peer is ignored', async () => {
    const server = await startServer(['--behind-proxy', '--trust-proxy', '10.0.0.0/8,fd00::/8']);
    try {
      const forged = await connectAndLog(server, { 'X-Forwarded-For': '6.6.6.6', 'X-Real-IP': '6.6.6.6' });
      assert.equal(forged.ip, '127.0.0.1');
      assert.equal(forged.peer, undefined);
    } finally {
      await server.stop();
    }
  });

  test('logs never carry the query string (tokens)', async () => {
    const server = await startServer(['--behind-proxy']);
    try {
      const c = await openWs(server.url + '?token=s3cr3t-t0ken&x=1');
      c.ws.send('tom');
      await c.next();
      c.ws.close();
      await c.closed;
      const conn = await server.waitForLog((l) => l.event === 'close');
      assert.equal(conn.path, '/wss');
      const all = [...server.logs.map((l) => JSON.stringify(l)), ...server.text].join('\n');
      assert.doesNotMatch(all, /s3cr3t|token=/);
    } finally {
      await server.stop();
    }
  });

  test('--quiet drops per-connection lines but keeps the listening line', async () => {
    const server = await startServer(['--behind-proxy', '--quiet']);
    try {
      const c = await openWs(server.url);
      c.ws.send('tom');
      await c.next();
      c.ws.close();
      await c.closed;
      assert.equal(await server.stop(), 0);
      assert.ok(server.logs.some((l) => l.event === 'listening'));
      assert.ok(server.logs.some((l) => l.event === 'stopped'), 'the process logged its shutdown');
      assert.deepEqual(server.logs.filter((l) => l.event === 'connection' || l.event === 'close'), []);
    } finally {
      await server.stop();
    }
  });
});
