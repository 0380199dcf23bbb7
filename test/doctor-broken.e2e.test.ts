// `wss-mp-server doctor` (built CLI) against deliberately broken wss endpoints on loopback:
// each must get the right verdict with its fix, and everything not broken must still pass.
// The endpoints are node:https + ws (support/doctor-endpoints.ts) because the product refuses
// to serve most of these mistakes. A real domain name is checked against 127.0.0.1 with
// --resolve, trusting the test PKI with --ca.
import { test, before, after } from 'node:test';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { createPki, issueLeaf, type Leaf, type Pki } from './support/certs';
import { startEndpoint, MOZILLA_CIPHERS, type EndpointOptions } from './support/doctor-endpoints';
import { refusingPort } from './support/ports';
import { doctorJson, expectCheck, problems, runDoctorCli, selfSignedLeaf, type DoctorReport, type DoctorResult } from './support/doctor';

const HOST = 'wss.example.test';
const DAY = 86_400_000;
let pki: Pki;
let good: Leaf;

before(() => {
  pki = createPki('doctor-broken');
  good = issueLeaf(pki, { hosts: [HOST], name: 'good' });
});
after(() => pki?.cleanup());

/** Starts the endpoint, runs `doctor --json` on wss://HOST:port/wss pinned to it, stops it. */
async function diagnose(ep: EndpointOptions, extra: string[] = [], { ca = true, path = '/wss' } = {}): Promise<DoctorResult> {
  const server = await startEndpoint(ep);
  try {
    const port = server.port;
    return await doctorJson([
      `wss://${HOST}:${port}${path}`,
      '--resolve', `${HOST}:${port}:127.0.0.1`,
      ...(ca ? ['--ca', pki.caCert] : []),
      '--timeout', '5s',
      ...extra,
    ]);
  } finally {
    await server.close();
  }
}

const only = (r: DoctorReport, ...ids: string[]) =>
  assert.deepEqual(problems(r).filter((p) => !ids.some((id) => p.split(' ')[1] === `${id}:`)), [], 'unexpected problems');

test('control: the same endpoint with a full chain and the Mozilla policy passes everything', async () => {
  const seen: string[] = [];
  const r = await diagnose({ key: good.key, cert: good.fullchain, onUpgrade: (u) => seen.push(u) }, [], { path: '/wss?token=s3cr3t-t0ken' });
  assert.equal(r.ok, true);
  assert.deepEqual(problems(r), []);
  expectCheck(r, 'echo', 'PASS', /got it back in \d+ ms/);
  // A verified server gets the URL as given, token included; the report never shows it.
  assert.deepEqual(seen, ['/wss?token=s3cr3t-t0ken']);
  assert.equal(r.url, `wss://${HOST}:${r.target.port}/wss?token=***`);
  assert.doesNotMatch(r.stdout, /s3cr3t/);
});

test('leaf-only chain → FAIL chain: UNABLE_TO_VERIFY_LEAF_SIGNATURE, missing intermediate named', async () => {
  const r = await diagnose({ key: good.key, cert: good.cert });
  assert.equal(r.code, 1);
  expectCheck(r, 'chain', 'FAIL',
    /^UNABLE_TO_VERIFY_LEAF_SIGNATURE: missing intermediate certificate: the server sends only the leaf "wss\.example\.test", not its issuer "doctor-broken Intermediate CA"/,
    /serve the full chain.*fullchain\.pem/);
  only(r, 'chain');
});

test('TLS 1.0/1.1 only → FAIL tls1.2, WARN legacy-tls; the upgrade is skipped', async () => {
  const r = await diagnose({ key: good.key, cert: good.fullchain, tls: { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' } });
  assert.equal(r.code, 1);
  expectCheck(r, 'tls1.2', 'FAIL', /TLS 1\.2 refused \(ERR_SSL_UNSUPPORTED_PROTOCOL\); the server only speaks TLS 1\.0 and TLS 1\.1/, /ssl_protocols TLSv1\.2 TLSv1\.3/);
  expectCheck(r, 'legacy-tls', 'WARN', /accepts TLS 1\.0 and TLS 1\.1/, /minVersion: 'TLSv1\.2'/);
  expectCheck(r, 'upgrade', 'SKIP', /needs a TLS 1\.2\+ handshake/);
  // The certificate is still judged, from the legacy handshake.
  expectCheck(r, 'chain', 'PASS', /seen over TLSv1\.1/);
});

test('static-RSA suites only on TLS 1.2 → FAIL ats-forward-secrecy naming the suite', async () => {
  const r = await diagnose({ key: good.key, cert: good.fullchain, tls: { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:AES256-GCM-SHA384' } });
  assert.equal(r.code, 1);
  expectCheck(r, 'ats-forward-secrecy', 'FAIL', /no ECDHE suite on TLS 1\.2: negotiated AES128-GCM-SHA256 \(TLS_RSA_WITH_AES_128_GCM_SHA256\)/, /ECDHE-RSA-AES128-GCM-SHA256/);
  expectCheck(r, 'static-rsa', 'WARN', /AES128-GCM-SHA256/);
  expectCheck(r, 'tls1.3', 'INFO', /not offered/);
  only(r, 'ats-forward-secrecy', 'static-rsa');
});

test('server preferring static RSA (but offering ECDHE) → WARN, exit 0', async () => {
  const r = await diagnose({
    key: good.key, cert: good.fullchain,
    tls: { maxVersion: 'TLSv1.2', ciphers: `AES128-GCM-SHA256:${MOZILLA_CIPHERS}`, honorCipherOrder: true },
  });
  assert.equal(r.code, 0);
  expectCheck(r, 'ats-forward-secrecy', 'WARN', /prefers AES128-GCM-SHA256 \(no forward secrecy\) over ECDHE; iOS still gets ECDHE-/, /honorCipherOrder: false/);
});

test('ALPN h2 only → FAIL alpn, while TLS 1.2 itself passes', async () => {
  const r = await diagnose({ key: good.key, cert: good.fullchain, tls: { ALPNProtocols: ['h2'] } });
  expectCheck(r, 'alpn', 'FAIL', /refused ALPN http\/1\.1 \(no_application_protocol\)/, /allow http\/1\.1 in ALPN/);
  expectCheck(r, 'tls1.2', 'PASS');
  only(r, 'alpn');
});

test('no Upgrade handling (plain HTTPS answering 200) → FAIL upgrade with the proxy hint', async () => {
  const r = await diagnose({ key: good.key, cert: good.fullchain, mode: 'no-upgrade' });
  assert.equal(r.code, 1);
  expectCheck(r, 'upgrade', 'FAIL', /^HTTP 200 OK on \/wss: .*not forwarding the Upgrade\/Connection headers.*"hello from a plain web server"/,
    /proxy_set_header Upgrade \$http_upgrade/);
  expectCheck(r, 'echo', 'SKIP');
  only(r, 'upgrade', 'echo');
});

test('expired certificate → FAIL chain (CERT_HAS_EXPIRED) and FAIL validity, both naming the expiry', async () => {
  const leaf = issueLeaf(pki, { hosts: [HOST], name: 'expired', notBefore: new Date(Date.now() - 40 * DAY), notAfter: new Date(Date.now() - 2 * DAY) });
  const r = await diagnose({ key: leaf.key, cert: leaf.fullchain });
  assert.equal(r.code, 1);
  expectCheck(r, 'chain', 'FAIL', /^CERT_HAS_EXPIRED: certificate expired: "wss\.example\.test" on \d{4}-\d\d-\d\d/, /renew/);
  expectCheck(r, 'validity', 'FAIL', /^expired: "wss\.example\.test" ended \d{4}-\d\d-\d\d \(2 days ago\)/, /renew/);
  only(r, 'chain', 'validity');
});

test('expiring in 10 days → WARN validity, exit 0', async () => {
  const leaf = issueLeaf(pki, { hosts: [HOST], name: 'soon', notAfter: new Date(Date.now() + 10 * DAY + 3_600_000) });
  const r = await diagnose({ key: leaf.key, cert: leaf.fullchain });
  assert.equal(r.code, 0);
  expectCheck(r, 'validity', 'WARN', /^expires in 10 days/, /renew/);
  only(r, 'validity');
});

test('self-signed certificate → FAIL chain: DEPTH_ZERO_SELF_SIGNED_CERT', async () => {
  const ss = selfSignedLeaf(pki.dir, HOST);
  const r = await diagnose({ key: ss.key, cert: ss.cert }, [], { ca: false });
  expectCheck(r, 'chain', 'FAIL', /^DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate "wss\.example\.test"/, /public CA.*--dev-cert is for DevTools only/);
  only(r, 'chain');
});

test('private CA without --ca → FAIL chain: UNABLE_TO_GET_ISSUER_CERT_LOCALLY', async () => {
  const r = await diagnose({ key: good.key, cert: good.fullchain }, [], { ca: false });
  expectCheck(r, 'chain', 'FAIL', /^UNABLE_TO_GET_ISSUER_CERT_LOCALLY: issued by a private or unknown CA: "doctor-broken Root CA"/, /--ca root\.pem/);
  only(r, 'chain');
});

test('certificate for another name → FAIL hostname: ERR_TLS_CERT_ALTNAME_INVALID', async () => {
  const other = issueLeaf(pki, { hosts: ['other.example.test'], name: 'other' });
  const r = await diagnose({ key: other.key, cert: other.fullchain });
  expectCheck(r, 'hostname', 'FAIL', /^ERR_TLS_CERT_ALTNAME_INVALID: Host: wss\.example\.test\. is not in the cert's altnames: DNS:other\.example\.test/,
    /issue the certificate for wss\.example\.test/);
  only(r, 'hostname');
});

test('RSA 1024 key → FAIL key; SHA-1 signature → FAIL signature', async () => {
  const weak = issueLeaf(pki, { hosts: [HOST], name: 'rsa1024', rsaBits: 1024 });
  // Node >= 22's OpenSSL (security level 2) will not even load an RSA 1024 key: serve it at level 0.
  const r1 = await diagnose({ key: weak.key, cert: weak.fullchain, tls: { ciphers: `${MOZILLA_CIPHERS}:@SECLEVEL=0` } });
  expectCheck(r1, 'key', 'FAIL', /^RSA 1024: iOS ATS requires RSA ≥ 2048/, /rsa:2048/);
  // Where OpenSSL's default security level refuses the key (OpenSSL 3.5 in Node 24), the
  // doctor's verifying handshake refuses it too: the chain fails as well, as it would for a client.
  let refusedByDefault = false;
  try {
    tls.createSecureContext({ key: readFileSync(weak.key), cert: readFileSync(weak.fullchain) });
  } catch {
    refusedByDefault = true;
  }
  if (refusedByDefault) {
    expectCheck(r1, 'chain', 'FAIL');
    only(r1, 'key', 'chain');
  } else only(r1, 'key');
  // OpenSSL 3 will not even load a SHA-1 certificate above security level 0.
  const sha1 = issueLeaf(pki, { hosts: [HOST], name: 'sha1', digest: 'sha1' });
  const r2 = await diagnose({ key: sha1.key, cert: sha1.fullchain, tls: { ciphers: `${MOZILLA_CIPHERS}:@SECLEVEL=0` } });
  expectCheck(r2, 'signature', 'FAIL', /"wss\.example\.test" is signed with sha1WithRSAEncryption: iOS ATS requires SHA-256/, /SHA-256/);
  expectCheck(r2, 'chain', 'FAIL', /weak signature/);
  only(r2, 'signature', 'chain');
});

test('nothing listening → FAIL tcp, the rest skipped', async (t) => {
  const { port, release } = await refusingPort();
  t.after(release);
  const r = await doctorJson([`wss://${HOST}:${port}/wss`, '--resolve', `${HOST}:${port}:127.0.0.1`, '--timeout', '3s']);
  expectCheck(r, 'tcp', 'FAIL', /ECONNREFUSED/, /nothing listens there/);
  expectCheck(r, 'upgrade', 'SKIP', /needs a TCP connection/);
});

test('plain HTTP on the port (no TLS) → FAIL tls1.2 "does not speak TLS", the rest skipped', async (t) => {
  const plain = http.createServer((_req, res) => res.end('plain'));
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => plain.close(() => resolve())));
  const port = (plain.address() as AddressInfo).port;
  const r = await doctorJson([`wss://${HOST}:${port}/wss`, '--resolve', `${HOST}:${port}:127.0.0.1`, '--timeout', '3s']);
  expectCheck(r, 'tls1.2', 'FAIL', /the port does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER/, /terminate TLS on this port/);
  expectCheck(r, 'legacy-tls', 'SKIP');
  expectCheck(r, 'upgrade', 'SKIP');
});

test('text output: verdict lines, fixes, tokens redacted and withheld from an untrusted server, --echo round trip', async () => {
  const seen: string[] = [];
  const server = await startEndpoint({ key: good.key, cert: good.cert, onUpgrade: (u) => seen.push(u) });
  try {
    const port = server.port;
    const r = await runDoctorCli([`wss://${HOST}:${port}/wss?token=s3cr3t-t0ken`, '--resolve', `${HOST}:${port}:127.0.0.1`, '--ca', pki.caCert, '--echo', 'tom']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^wss-mp-server doctor wss://${HOST}:${port}/wss\\?token=\\*\\*\\*\\n`));
    assert.match(r.stdout, /\nFAIL  chain {16}UNABLE_TO_VERIFY_LEAF_SIGNATURE: missing intermediate/);
    assert.match(r.stdout, /\n {27}fix: serve the full chain/);
    assert.match(r.stdout, /\nPASS  echo {17}sent "tom", got it back in \d+ ms/);
    assert.match(r.stdout, /\nFAIL: 1 fail, 0 warn, \d+ pass/);
    assert.doesNotMatch(r.stdout + r.stderr, /s3cr3t/);
    // The chain did not verify: the upgrade went out without the query.
    assert.deepEqual(seen, ['/wss']);
    assert.match(r.stdout, /PASS  upgrade {14}101 Switching Protocols on \/wss in \d+ ms \(query string not sent: the certificate is not trusted\)/);
  } finally {
    await server.close();
  }
});
