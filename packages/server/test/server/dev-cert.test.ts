// The dependency-free development CA: certificates must satisfy what real clients check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ensureDevCert, defaultDevCertDir, DEV_LEAF_DAYS } from '../../src/server/dev-cert/index';
import { createServer } from '../../src/index';
import * as der from '../../src/server/dev-cert/der';

const DAY = 86_400_000;
function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'wss-mp-devcert-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('DER writer: lengths, integers, OIDs, times', () => {
  assert.equal(der.tlv(0x04, Buffer.alloc(127)).subarray(0, 2).toString('hex'), '047f');
  assert.equal(der.tlv(0x04, Buffer.alloc(128)).subarray(0, 3).toString('hex'), '048180');
  assert.equal(der.tlv(0x04, Buffer.alloc(300)).subarray(0, 4).toString('hex'), '0482012c');
  assert.equal(der.integer(Buffer.from([0x80])).toString('hex'), '02020080', 'positive: leading zero added');
  assert.equal(der.integer(Buffer.from([0, 0, 5])).toString('hex'), '020105', 'minimal');
  assert.equal(der.oid('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
  assert.equal(der.oid('2.5.29.17').toString('hex'), '0603551d11');
  assert.equal(der.time(new Date('2030-01-02T03:04:05Z')).toString('latin1').slice(2), '300102030405Z');
  assert.equal(der.time(new Date('2050-01-02T03:04:05Z')).toString('latin1').slice(2), '20500102030405Z');
});

test('creates a CA and a localhost certificate that verify, with the right SANs, key usage and lifetimes', async (t) => {
  const dir = tempDir(t);
  const r = await ensureDevCert(dir);
  assert.equal(r.created, 'ca and certificate');
  const ca = new X509Certificate(readFileSync(r.caFile));
  const chain = readFileSync(r.certFile, 'utf8');
  const leaf = new X509Certificate(chain);
  assert.equal(ca.ca, true);
  assert.equal(leaf.ca, false);
  assert.ok(leaf.verify(ca.publicKey), 'signed by the CA');
  assert.ok(ca.verify(ca.publicKey), 'CA self-signed');
  assert.equal(leaf.checkHost('localhost'), 'localhost');
  assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(leaf.checkIP('::1'), '::1');
  assert.equal(leaf.checkHost('example.com'), undefined);
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extendedKeyUsage serverAuth');
  const days = (Date.parse(leaf.validTo) - Date.now()) / DAY;
  assert.ok(days > DEV_LEAF_DAYS - 2 && days <= DEV_LEAF_DAYS, `leaf lifetime ${days}`);
  assert.ok(chain.indexOf('BEGIN CERTIFICATE', 40) > 0, 'cert.pem holds leaf + CA');
  assert.ok(leaf.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(readFileSync(r.keyFile)))));
  assert.equal(statSync(r.keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(dir, 'ca-key.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
});

test('a TLS client trusting only ca.pem connects to localhost, 127.0.0.1 and ::1 (policy on, TLS 1.3 and 1.2)', async (t) => {
  const dir = tempDir(t);
  const r = await ensureDevCert(dir);
  const server = createServer({ tls: { certFile: r.certFile, keyFile: r.keyFile }, host: '::', port: 0, logger: false, heartbeatInterval: 0 });
  await server.listen();
  t.after(() => server.close());
  const port = server.address()!.port;
  const ca = readFileSync(r.caFile);
  for (const [host, servername, maxVersion] of [['127.0.0.1', 'localhost', 'TLSv1.3'], ['127.0.0.1', undefined, 'TLSv1.2'], ['::1', undefined, 'TLSv1.3']] as const) {
    const info = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host, port, servername, ca, maxVersion }, () => {
        resolve(`${s.authorized} ${s.getProtocol()} ${s.getCipher().name}`);
        s.end();
      });
      s.on('error', reject);
    });
    assert.match(info, maxVersion === 'TLSv1.3' ? /^true TLSv1\.3 TLS_/ : /^true TLSv1\.2 ECDHE-ECDSA-/, `${host} ${servername}`);
  }
});

test('reuses valid files; renews only the leaf when it nears expiry; replaces a broken CA', async (t) => {
  const dir = tempDir(t);
  const first = await ensureDevCert(dir);
  const ca1 = readFileSync(first.caFile, 'utf8');
  const leaf1 = readFileSync(first.certFile, 'utf8');
  assert.equal((await ensureDevCert(dir)).created, 'nothing');
  assert.equal(readFileSync(first.certFile, 'utf8'), leaf1);
  // 380 days later the leaf has < 30 days left: a new leaf from the same CA (no re-trust needed).
  const later = await ensureDevCert(dir, Date.now() + 380 * DAY);
  assert.equal(later.created, 'certificate');
  assert.equal(readFileSync(first.caFile, 'utf8'), ca1);
  assert.notEqual(readFileSync(first.certFile, 'utf8'), leaf1);
  writeFileSync(first.caFile, 'garbage');
  assert.equal((await ensureDevCert(dir)).created, 'ca and certificate');
});

test('two servers starting at once agree on one CA (cross-process lock)', async (t) => {
  const dir = tempDir(t);
  const [a, b] = await Promise.all([ensureDevCert(dir), ensureDevCert(dir)]);
  assert.deepEqual([a.created, b.created].sort(), ['ca and certificate', 'nothing']);
  const ca = new X509Certificate(readFileSync(a.caFile));
  assert.ok(new X509Certificate(readFileSync(a.certFile)).verify(ca.publicKey));
});

test('the CA is name-constrained to localhost, 127.0.0.0/8 and ::1', async (t) => {
  const dir = tempDir(t);
  const r = await ensureDevCert(dir);
  const raw = new X509Certificate(readFileSync(r.caFile)).raw;
  // id-ce-nameConstraints, critical, permitted: dNSName localhost, iPAddress 127/8, ::1/128.
  assert.ok(raw.includes(Buffer.from('0603551d1e0101ff', 'hex')), 'critical nameConstraints');
  assert.ok(raw.includes(Buffer.concat([Buffer.from([0x82, 9]), Buffer.from('localhost')])));
  assert.ok(raw.includes(Buffer.from('87087f000000ff000000', 'hex')));
});

test('WSS_MP_DEV_CERT_DIR overrides the per-user directory', () => {
  assert.equal(defaultDevCertDir({ WSS_MP_DEV_CERT_DIR: '/x/y' }), '/x/y');
  assert.match(defaultDevCertDir({}), /\.wss-mp[/\\]dev-cert$/);
});

test('a certificate for a real site signed with the dev CA key is refused by Node (name constraints enforced)', async (t) => {
  const dir = tempDir(t);
  const r = await ensureDevCert(dir);
  const { createPrivateKey, createPublicKey, generateKeyPairSync } = await import('node:crypto');
  const { buildCertificate } = await import('../../src/server/dev-cert/x509');
  const caKey = createPrivateKey(readFileSync(path.join(dir, 'ca-key.pem')));
  const ca = new X509Certificate(readFileSync(r.caFile));
  const cn = ca.subject.split('\n').find((l) => l.startsWith('CN='))!.slice(3);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const evil = buildCertificate({
    subject: { commonName: 'example.com' },
    issuer: { organization: 'wss-mp development CA', commonName: cn },
    publicKey, signingKey: caKey, issuerPublicKey: createPublicKey(caKey),
    notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY), serverNames: ['example.com'],
  });
  assert.ok(new X509Certificate(evil).verify(ca.publicKey), 'really signed by the CA');
  const srv = tls.createServer({ cert: evil, key: privateKey.export({ format: 'pem', type: 'pkcs8' }) });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  t.after(() => srv.close());
  srv.on('tlsClientError', () => {});
  const outcome = await new Promise<string>((resolve) => {
    const c = tls.connect({ port: (srv.address() as { port: number }).port, host: '127.0.0.1', servername: 'example.com', ca: readFileSync(r.caFile) }, () => {
      resolve('authorized');
      c.end();
    });
    c.on('error', (err) => resolve(`refused ${(err as NodeJS.ErrnoException).code}`));
  });
  assert.match(outcome, /^refused/);
});
