// certificate: load, validate, reload (kept on failure), no-op on unchanged files. Real
// certificates from openssl; the "server" is a recorder of setSecureContext calls. The e2e
// twin with real TLS handshakes: test/server-reload.e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createPki, issueLeaf } from '../../../../test/support/certs';
import { Certificate } from '../../src/server/certificate';
import { CertificateError } from '../../src/common/errors';
import { Logger, type LogEntry } from '../../src/common/log';
import { TLS_POLICY } from '../../src/common/tls';

function setup(t: { after(fn: () => void): void }) {
  const pki = createPki('wss-mp-cert');
  t.after(() => pki.cleanup());
  // Both cover example.test: a replacement must cover the names the served one covers.
  const first = issueLeaf(pki, { name: 'first', hosts: ['example.test'] });
  const second = issueLeaf(pki, { name: 'second', hosts: ['example.test'] });
  const certFile = path.join(pki.dir, 'served.pem');
  const keyFile = path.join(pki.dir, 'served.key');
  copyFileSync(first.fullchain, certFile);
  copyFileSync(first.key, keyFile);
  const logs: LogEntry[] = [];
  const calls: Array<Record<string, unknown>> = [];
  const cert = new Certificate({ certFile, keyFile }, new Logger((e) => logs.push(e), false));
  return { pki, first, second, certFile, keyFile, logs, calls, cert, target: { setSecureContext: (o: object) => void calls.push(o as Record<string, unknown>) } };
}

test('loads and describes the pair; a key that does not match is a CertificateError at once', (t) => {
  const { cert, first, second } = setup(t);
  assert.equal(cert.info.serial.toUpperCase(), first.serial.toUpperCase());
  assert.equal(cert.info.chainLength, 2);
  assert.throws(() => new Certificate({ certFile: first.fullchain, keyFile: second.key }, new Logger(false, false)),
    (e: unknown) => e instanceof CertificateError);
});

test('reload serves the new pair with the whole TLS policy; a broken one is refused and the old kept', (t) => {
  const s = setup(t);
  assert.equal(s.cert.reload('api'), false, 'nothing to reload into before serveOn');
  s.cert.serveOn(s.target);
  copyFileSync(s.second.fullchain, s.certFile);
  copyFileSync(s.second.key, s.keyFile);
  assert.equal(s.cert.reload('SIGHUP'), true);
  assert.equal(s.calls.length, 1);
  for (const [k, v] of Object.entries(TLS_POLICY)) assert.deepEqual(s.calls[0]![k], v, `policy option ${k} passed`);
  assert.deepEqual(s.cert.info.names, ['example.test']);
  const ok = s.logs.find((l) => l.event === 'reload' && l.ok === true);
  assert.equal(ok?.trigger, 'SIGHUP');

  writeFileSync(s.keyFile, 'not a key');
  assert.equal(s.cert.reload('api'), false);
  assert.equal(s.calls.length, 1, 'the server was not touched');
  assert.deepEqual(s.cert.info.names, ['example.test'], 'still the previous pair');
  const bad = s.logs.find((l) => l.event === 'reload' && l.ok === false && l.kept);
  assert.equal(bad?.kept, s.cert.info.serial);
});

test('a file-change reload of identical files changes nothing and logs nothing', (t) => {
  const s = setup(t);
  s.cert.serveOn(s.target);
  const before = s.logs.length;
  assert.equal(s.cert.reload('file change'), true);
  assert.equal(s.calls.length, 0);
  assert.equal(s.logs.length, before);
});

test('inline PEM: served, but there are no files to reload', (t) => {
  const s = setup(t);
  const logs: LogEntry[] = [];
  const inline = new Certificate({ cert: readFileSync(s.first.fullchain), key: readFileSync(s.first.key, 'utf8') }, new Logger((e) => logs.push(e), false));
  inline.serveOn(s.target);
  assert.equal(inline.reload('api'), false);
  assert.match(String(logs[0]?.error), /no certificate files/);
});
