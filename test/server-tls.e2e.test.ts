// Native TLS against the built CLI: the Mozilla "intermediate" policy seen by the real
// openssl s_client, the development certificate, plain HTTP and junk on the TLS port.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startServer, type RunningServer } from './support/server';
import { createPki, issueLeaf, type Pki, type Leaf } from './support/certs';
import { findBinary, requireBinary } from './support/binaries';
import { echoes, openWs, rawExchange, sClient, tlsExchange } from './support/net-tools';
import { serverFlagsForBench } from './bench/lib/server-flags';

describe('TLS policy (openssl s_client, RSA certificate with an intermediate)', { concurrency: true }, () => {
  let pki: Pki;
  let leaf: Leaf;
  let server: RunningServer;
  const openssl = findBinary('openssl');

  before(async () => {
    if (!openssl) return;
    pki = createPki('wss-mp-tls');
    leaf = issueLeaf(pki);
    server = await startServer(['--cert', leaf.fullchain, '--key', leaf.key, '--quiet']);
  });
  after(async () => {
    await server?.stop();
    pki?.cleanup();
  });

  test('TLS 1.1 is refused with a protocol_version alert', async (t) => {
    const bin = requireBinary(t, 'openssl');
    if (!bin) return;
    // SECLEVEL=0 so OpenSSL 3 really offers 1.1: the refusal must come from the server.
    const r = await sClient(bin, server.port, ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0']);
    assert.equal(r.ok, false, r.output);
    assert.match(r.output, /alert protocol version|SSL alert number 70/, r.output);
  });

  test('TLS 1.2 negotiates an ECDHE + AEAD suite and serves the intermediate', async (t) => {
    const bin = requireBinary(t, 'openssl');
    if (!bin) return;
    const r = await sClient(bin, server.port, ['-tls1_2']);
    assert.equal(r.ok, true, r.output);
    assert.equal(r.protocol, 'TLSv1.2');
    assert.match(r.cipher!, /^ECDHE-RSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    assert.equal(r.chain, 2, 'leaf + intermediate');
    assert.equal(r.serial, leaf.serial);
  });

  test('TLS 1.2 static-RSA (AES128-GCM-SHA256) and ECDHE-CBC offers are refused', async (t) => {
    const bin = requireBinary(t, 'openssl');
    if (!bin) return;
    for (const cipher of ['AES128-GCM-SHA256', 'AES128-SHA', 'ECDHE-RSA-AES128-SHA256']) {
      const r = await sClient(bin, server.port, ['-tls1_2', '-cipher', cipher]);
      assert.equal(r.ok, false, `${cipher} must be refused:\n${r.output}`);
      assert.match(r.output, /handshake failure|alert number 40/, r.output);
    }
  });

  test('TLS 1.3 works', async (t) => {
    const bin = requireBinary(t, 'openssl');
    if (!bin) return;
    const r = await sClient(bin, server.port, ['-tls1_3']);
    assert.equal(r.ok, true, r.output);
    assert.equal(r.protocol, 'TLSv1.3');
    assert.match(r.cipher!, /^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/);
  });
});

describe('development certificate', { concurrency: true }, () => {
  let dir: string;
  let server: RunningServer;
  let caFile: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-devcert-'));
    server = await startServer(['--dev-cert', '--heartbeat-interval', '0'], { env: { WSS_MP_DEV_CERT_DIR: dir } });
    const line = await server.waitForLog((l) => l.event === 'dev-cert');
    caFile = line.ca as string;
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('prints the CA path, under WSS_MP_DEV_CERT_DIR, and a wss://localhost URL', () => {
    assert.equal(caFile, path.join(dir, 'ca.pem'));
    assert.match(server.url, /^wss:\/\/localhost:\d+\/wss$/);
    assert.ok(server.text.length === 0 || !server.text.some((l) => /error/i.test(l)), server.text.join('\n'));
  });

  test('a ws client trusting the dev CA sends "tom" and receives "tom" (text), binary stays binary', async () => {
    const c = await openWs(server.url, { caFile });
    c.ws.send('tom');
    const [data, isBinary] = await c.next();
    assert.equal(data.toString(), 'tom');
    assert.equal(isBinary, false);
    c.ws.send(Buffer.from([0, 1, 2, 255]));
    const [bin, isBin] = await c.next();
    assert.deepEqual([...bin], [0, 1, 2, 255]);
    assert.equal(isBin, true);
    c.ws.close();
    assert.deepEqual((await c.closed)[0], 1005);
  });

  test('both FAQ URLs work: wss://host:port (path /) and /wss; other paths get 404', async () => {
    const root = await openWs(server.url.replace(/\/wss$/, ''), { caFile });
    await echoes(root);
    root.ws.close();
    await assert.rejects(openWs(server.url.replace(/\/wss$/, '/nope'), { caFile }), (err: { status?: number; body?: string }) => {
      assert.equal(err.status, 404);
      assert.match(err.body ?? '', /\/wss/);
      return true;
    });
    const reject = await server.waitForLog((l) => l.event === 'reject' && l.status === 404);
    assert.equal(reject.path, '/nope');
  });

  test('the application heartbeat {"type":"ping"} is answered with {"type":"pong"}', async () => {
    const c = await openWs(server.url, { caFile });
    c.ws.send('{"type":"ping"}');
    const [data, isBinary] = await c.next();
    assert.equal(data.toString(), '{"type":"pong"}');
    assert.equal(isBinary, false);
    c.ws.close();
  });

  test('the certificate is reused on the next start, not recreated', async () => {
    const again = await startServer(['--dev-cert', '--quiet'], { env: { WSS_MP_DEV_CERT_DIR: dir } });
    try {
      const line = await again.waitForLog((l) => l.event === 'dev-cert');
      assert.equal(line.created, 'nothing');
      const c = await openWs(again.url, { caFile });
      await echoes(c);
      c.ws.close();
    } finally {
      await again.stop();
    }
  });

  test('plain HTTP on the TLS port gets 400 naming wss://', async () => {
    const r = await rawExchange(server.port, 'GET /wss HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const text = r.data.toString();
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(text, /use wss:\/\//);
    const log = await server.waitForLog((l) => l.event === 'plain-http');
    assert.equal(log.ip, '127.0.0.1');
  });

  test('a ws:// client on the TLS port gets HTTP 400 naming wss://, not a reset', async () => {
    await assert.rejects(openWs(server.url.replace(/^wss:/, 'ws:')), (err: { status?: number; body?: string }) => {
      assert.equal(err.status, 400);
      assert.match(err.body ?? '', /wss:\/\//);
      return true;
    });
  });

  test('random bytes and a TLS header with junk are closed; other clients are unaffected', async () => {
    const bystander = await openWs(server.url, { caFile });
    // Random, after a first byte that is no TLS record type: a record type (0x14–0x17) with a
    // random length makes the TLS layer wait for the rest of the record, until the handshake
    // timeout, which is what this test's deadline is too (CI on Node 24 hit it once).
    const junk = await rawExchange(server.port, Buffer.concat([Buffer.from([0x00]), randomBytes(511)]));
    assert.doesNotMatch(junk.data.toString('latin1'), /HTTP\/1\.1/);
    const tlsJunk = await rawExchange(server.port, Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), randomBytes(64)]));
    assert.ok(tlsJunk.data.length < 64, 'at most a TLS alert');
    await echoes(bystander, 'still here');
    bystander.ws.close();
    const fresh = await openWs(server.url, { caFile });
    await echoes(fresh);
    fresh.ws.close();
  });

  test('a plain GET over TLS on the WebSocket path answers 426 with a hint', async () => {
    const res = await tlsExchange(server.port, caFile, 'GET /wss HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.match(res, /^HTTP\/1\.1 426 /);
    assert.match(res, /wss:\/\//);
  });
});

describe('--no-plain-http-answer', () => {
  let dir: string;
  let server: RunningServer;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-plain-off-'));
    server = await startServer(['--dev-cert', '--no-plain-http-answer', '--heartbeat-interval', '0'], { env: { WSS_MP_DEV_CERT_DIR: dir } });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('plain HTTP on the TLS port is closed without a response; wss still works', async () => {
    const r = await rawExchange(server.port, 'GET /wss HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(r.data.length, 0, r.data.toString());
    const log = await server.waitForLog((l) => l.event === 'tls-error' && l.error === 'ERR_SSL_HTTP_REQUEST');
    assert.equal(log.ip, '127.0.0.1');
    assert.ok(!server.logs.some((l) => l.event === 'plain-http'));
    const caFile = (await server.waitForLog((l) => l.event === 'dev-cert')).ca as string;
    const c = await openWs(server.url, { caFile });
    await echoes(c);
    c.ws.close();
  });

  test('the benchmark finds the flag in --help (its detect mode)', async () => {
    assert.equal((await serverFlagsForBench()).detectOffFlag, '--no-plain-http-answer');
  });
});
