// Certificate hot reload against the built CLI: on file change and on SIGHUP, open
// connections untouched, new handshakes get the new certificate, a bad pair is refused and
// the old one kept, and the TLS policy survives the reload.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { startServer, type LogLine, type RunningServer } from './support/server';
import { createPki, issueLeaf, type Pki, type Leaf } from './support/certs';
import { echoes, handshakeSerial, openWs } from './support/net-tools';

/** Resolves with an error code if a TLS 1.2 client offering only `cipher` is refused. */
function offerOnly(port: number, ca: string, cipher: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: readFileSync(ca), maxVersion: 'TLSv1.2', ciphers: cipher }, () => {
      s.end();
      resolve(null);
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

function after_(server: RunningServer) {
  const start = server.logs.length;
  return (pred: (l: LogLine) => boolean, timeout?: number) =>
    server.waitForLog((l) => server.logs.indexOf(l) >= start && pred(l), timeout);
}

function install(leaf: Leaf, certFile: string, keyFile: string, { keyToo = true } = {}) {
  // Write in place, like `cp` does: the watcher must see modifications, not only renames.
  writeFileSync(certFile, readFileSync(leaf.fullchain));
  if (keyToo) writeFileSync(keyFile, readFileSync(leaf.key));
}

describe('certificate hot reload', () => {
  let pki: Pki;
  let a: Leaf, b: Leaf, c: Leaf;
  let certFile: string, keyFile: string;

  before(() => {
    pki = createPki('wss-mp-reload');
    a = issueLeaf(pki, { name: 'a' });
    b = issueLeaf(pki, { name: 'b' });
    c = issueLeaf(pki, { name: 'c' });
  });
  after(() => pki?.cleanup());

  test('file change: open connection survives, new handshakes see the new serial, policy kept; bad pair refused, old kept', async () => {
    certFile = path.join(pki.dir, 'live-cert.pem');
    keyFile = path.join(pki.dir, 'live-key.pem');
    install(a, certFile, keyFile);
    const server = await startServer(['--cert', certFile, '--key', keyFile, '--heartbeat-interval', '0']);
    try {
      assert.equal(await handshakeSerial(server.port, pki.caCert), a.serial);
      const live = await openWs(server.url, { ca: readFileSync(pki.caCert) });
      await echoes(live, 'before');

      let next = after_(server);
      install(b, certFile, keyFile);
      const ok = await next((l) => l.event === 'reload' && l.ok === true && l.serial === b.serial);
      assert.equal(ok.trigger, 'file change');
      assert.equal(await handshakeSerial(server.port, pki.caCert), b.serial);
      await echoes(live, 'after', 'the open connection is untouched');
      assert.equal(live.ws.readyState, 1);
      // setSecureContext resets options it is not given: the cipher policy must survive.
      assert.ok(await offerOnly(server.port, pki.caCert, 'AES128-GCM-SHA256'), 'static RSA must stay refused after reload');
      assert.equal(await offerOnly(server.port, pki.caCert, 'ECDHE-RSA-AES128-GCM-SHA256'), null);

      // c's certificate with b's key: refused, b keeps serving.
      next = after_(server);
      install(c, certFile, keyFile, { keyToo: false });
      const bad = await next((l) => l.event === 'reload' && l.ok === false);
      assert.equal(bad.level, 'error');
      assert.match(String(bad.error), /key values mismatch/);
      assert.equal(bad.kept, b.serial);
      assert.equal(await handshakeSerial(server.port, pki.caCert), b.serial);
      await echoes(live, 'still');
      live.ws.close();
    } finally {
      await server.stop();
    }
  });

  test('SIGHUP reloads (with --no-watch)', async () => {
    const cf = path.join(pki.dir, 'hup-cert.pem');
    const kf = path.join(pki.dir, 'hup-key.pem');
    copyFileSync(a.fullchain, cf);
    copyFileSync(a.key, kf);
    const server = await startServer(['--cert', cf, '--key', kf, '--no-watch', '--quiet']);
    try {
      assert.equal(await handshakeSerial(server.port, pki.caCert), a.serial);
      copyFileSync(c.fullchain, cf);
      copyFileSync(c.key, kf);
      const next = after_(server);
      server.proc.kill('SIGHUP');
      const ok = await next((l) => l.event === 'reload' && l.ok === true);
      assert.equal(ok.trigger, 'SIGHUP');
      assert.equal(ok.serial, c.serial);
      assert.equal(await handshakeSerial(server.port, pki.caCert), c.serial);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('certbot-style renewal (live/ symlinks retargeted to new archive/ files) is picked up', async () => {
    const live = path.join(pki.dir, 'live');
    const archive = path.join(pki.dir, 'archive');
    mkdirSync(live);
    mkdirSync(archive);
    copyFileSync(a.fullchain, path.join(archive, 'fullchain1.pem'));
    copyFileSync(a.key, path.join(archive, 'privkey1.pem'));
    symlinkSync('../archive/fullchain1.pem', path.join(live, 'fullchain.pem'));
    symlinkSync('../archive/privkey1.pem', path.join(live, 'privkey.pem'));
    const server = await startServer(['--cert', path.join(live, 'fullchain.pem'), '--key', path.join(live, 'privkey.pem'), '--quiet']);
    try {
      assert.equal(await handshakeSerial(server.port, pki.caCert), a.serial);
      copyFileSync(b.fullchain, path.join(archive, 'fullchain2.pem'));
      copyFileSync(b.key, path.join(archive, 'privkey2.pem'));
      const next = after_(server);
      // certbot replaces each link atomically: a new symlink renamed over the old one.
      for (const [name, target] of [['privkey.pem', 'privkey2.pem'], ['fullchain.pem', 'fullchain2.pem']]) {
        symlinkSync(`../archive/${target}`, path.join(live, `${name}.new`));
        renameSync(path.join(live, `${name}.new`), path.join(live, name!));
      }
      const ok = await next((l) => l.event === 'reload' && l.ok === true && l.serial === b.serial);
      assert.equal(ok.trigger, 'file change');
      assert.equal(await handshakeSerial(server.port, pki.caCert), b.serial);
    } finally {
      await server.stop();
    }
  });
});
