// Verdict rules on synthetic probe results and real openssl certificates (no network): the
// status-code map, echo outcomes, suite logic, expiry thresholds, key and signature rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DetailedPeerCertificate } from 'node:tls';
import { createPki, issueLeaf } from '../../../../test/support/certs';
import { checkUpgrade, checkEcho, UPGRADE_HINTS } from '../../src/doctor/checks-ws';
import { checkTls12, checkLegacy, checkForwardSecrecy, checkStaticRsa, checkAlpn, type TlsProbes } from '../../src/doctor/checks-tls';
import { checkChain, checkHostname, checkValidity, checkKey, checkSignature, type CertContext } from '../../src/doctor/checks-cert';
import { checkHost, checkScheme } from '../../src/doctor/checks-target';
import { parseTarget } from '../../src/doctor/target';
import { renderReport } from '../../src/doctor/render';
import type { TlsProbe } from '../../src/doctor/tls-probe';
import type { DoctorReport } from '../../src/doctor/types';

test('upgrade: each refused status names a likely cause and a fix', () => {
  const expect: Record<number, RegExp> = {
    200: /not forwarding the Upgrade\/Connection headers/,
    400: /Upgrade\/Connection headers were lost/,
    404: /nothing serves WebSockets on this exact path/,
    426: /Upgrade header did not reach it/,
    502: /backend is down or unreachable/,
  };
  for (const [status, re] of Object.entries(expect)) {
    const c = checkUpgrade({ ok: false, ms: 3, status: Number(status), statusText: 'X', server: 'nginx' }, '/wss');
    assert.equal(c.status, 'FAIL');
    assert.match(c.summary, new RegExp(`^HTTP ${status} X on /wss \\(server: nginx\\): `));
    assert.match(c.summary, re);
    assert.equal(c.fix, UPGRADE_HINTS[Number(status)]![1]);
  }
  assert.match(checkUpgrade({ ok: false, ms: 1, status: 200 }, '/wss').fix!, /proxy_set_header Upgrade \$http_upgrade/);
  assert.match(checkUpgrade({ ok: false, ms: 1, status: 502 }, '/wss').fix!, /upstream address/);
  const redirect = checkUpgrade({ ok: false, ms: 1, status: 301, location: 'https://x/wss/' }, '/wss');
  assert.match(redirect.summary, /redirect to https:\/\/x\/wss\/; sockets do not follow redirects/);
  assert.match(checkUpgrade({ ok: false, ms: 1, errorCode: 'ECONNRESET', errorMessage: 'socket hang up' }, '/wss').summary, /no upgrade \(ECONNRESET/);
  const ok = checkUpgrade({ ok: true, ms: 12, status: 101 }, '/wss');
  assert.equal(ok.status, 'PASS');
  assert.match(ok.summary, /101 Switching Protocols on \/wss in 12 ms/);
});

test('echo: echo or pong passes with latency; silence and other replies warn; drops fail', () => {
  assert.equal(checkEcho({ outcome: 'echo', ms: 4 }, 'tom', 1000).status, 'PASS');
  assert.match(checkEcho({ outcome: 'pong', ms: 2 }, '{"type":"ping"}', 1000).summary, /got \{"type":"pong"\} in 2 ms/);
  assert.equal(checkEcho({ outcome: 'silent' }, 'tom', 1000).status, 'WARN');
  assert.match(checkEcho({ outcome: 'other', other: 'welcome' }, 'tom', 1000).summary, /first: "welcome"/);
  const auth = checkEcho({ outcome: 'closed', closeCode: 4001, closeReason: 'unauthorized' }, 'tom', 1000);
  assert.equal(auth.status, 'WARN');
  assert.match(auth.fix!, /token/);
  const drop = checkEcho({ outcome: 'closed', closeCode: 1006 }, 'tom', 1000);
  assert.equal(drop.status, 'FAIL');
  assert.match(drop.fix!, /proxy_read_timeout/);
});

const ok = (name: string, extra: Partial<TlsProbe> = {}): TlsProbe => ({
  ok: true,
  ms: 1,
  protocol: 'TLSv1.2',
  cipher: { name, standardName: `TLS_${name}` },
  ephemeral: name.startsWith('ECDHE') ? 'ECDH X25519' : '',
  alpn: 'http/1.1',
  ...extra,
});
const refused = (errorCode = 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION'): TlsProbe => ({ ok: false, ms: 1, errorCode, errorMessage: 'x' });
const probes = (p: Partial<TlsProbes>): TlsProbes => ({
  tls12: ok('ECDHE-RSA-AES128-GCM-SHA256'),
  tls13: ok('TLS_AES_128_GCM_SHA256', { protocol: 'TLSv1.3' }),
  tls10: refused(),
  tls11: refused(),
  ats: ok('ECDHE-RSA-AES256-GCM-SHA384'),
  staticRsa: refused('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'),
  main: ok('TLS_AES_128_GCM_SHA256', { protocol: 'TLSv1.3' }),
  ...p,
});

test('TLS verdicts: versions, forward secrecy, static RSA, ALPN', () => {
  const good = probes({});
  for (const c of [checkTls12(good), checkLegacy(good), checkForwardSecrecy(good), checkStaticRsa(good), checkAlpn(good)]) {
    assert.equal(c.status, 'PASS', `${c.id}: ${c.summary}`);
  }
  // TLS 1.0/1.1 only.
  const legacy = probes({ tls12: refused('ERR_SSL_UNSUPPORTED_PROTOCOL'), tls13: refused(), main: refused(), tls10: ok('ECDHE-RSA-AES256-SHA', { protocol: 'TLSv1' }), tls11: ok('ECDHE-RSA-AES256-SHA', { protocol: 'TLSv1.1' }) });
  assert.equal(checkTls12(legacy).status, 'FAIL');
  assert.match(checkTls12(legacy).summary, /only speaks TLS 1.0 and TLS 1.1/);
  assert.equal(checkLegacy(legacy).status, 'WARN');
  assert.equal(checkForwardSecrecy(legacy).status, 'SKIP');
  // TLS 1.3 only: works on modern phones.
  assert.equal(checkTls12(probes({ tls12: refused() })).status, 'WARN');
  // Not TLS at all.
  assert.match(checkTls12(probes({ tls12: refused('ERR_SSL_WRONG_VERSION_NUMBER'), tls13: refused('ERR_SSL_WRONG_VERSION_NUMBER') })).summary, /does not speak TLS/);
  // Nothing handshakes (silent port): legacy is not "refused", it is unknown.
  const silent = probes({ tls12: refused('ETIMEDOUT'), tls13: refused('ETIMEDOUT'), tls10: refused('ETIMEDOUT'), tls11: refused('ETIMEDOUT'), main: refused('ETIMEDOUT') });
  assert.equal(checkLegacy(silent).status, 'SKIP');
  assert.equal(checkTls12(silent).status, 'FAIL');
  // Static RSA only: FAIL, naming the negotiated suite.
  const rsa = probes({ tls12: ok('AES128-GCM-SHA256'), ats: refused('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE'), staticRsa: ok('AES128-GCM-SHA256') });
  const fs = checkForwardSecrecy(rsa);
  assert.equal(fs.status, 'FAIL');
  assert.match(fs.summary, /no ECDHE suite on TLS 1.2: negotiated AES128-GCM-SHA256/);
  assert.match(fs.fix!, /ECDHE-RSA-AES128-GCM-SHA256/);
  assert.equal(checkStaticRsa(rsa).status, 'WARN');
  // Prefers static RSA but has ECDHE: iOS works, warn.
  assert.equal(checkForwardSecrecy(probes({ tls12: ok('AES256-GCM-SHA384') })).status, 'WARN');
  // ECDHE with CBC: passes, says so.
  assert.match(checkForwardSecrecy(probes({ tls12: ok('ECDHE-RSA-AES128-SHA256') })).summary, /CBC/);
  // ALPN.
  assert.equal(checkAlpn(probes({ main: ok('x', { alpn: false }) })).status, 'INFO');
  assert.equal(checkAlpn(probes({ main: refused('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL'), tls12: refused('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') })).status, 'FAIL');
});

test('scheme and host', () => {
  assert.equal(checkScheme(parseTarget('wss://a.example.com/wss')).status, 'PASS');
  assert.match(checkScheme(parseTarget('ws://a.example.com/wss')).fix!, /wss:\/\/a\.example\.com\/wss/);
  assert.equal(checkScheme(parseTarget('https://a.example.com/wss')).status, 'FAIL');
  for (const h of ['127.0.0.1', '[::1]', 'localhost']) {
    const c = checkHost(parseTarget(`wss://${h}:8443/wss`));
    assert.equal(c.status, 'FAIL', h);
    assert.match(c.fix!, /domain name/);
  }
  assert.equal(checkHost(parseTarget('wss://intranet/wss')).status, 'WARN');
});

/** A peer certificate as Node reports it, from a PEM file (leaf only, no issuer links). */
function peerOf(pemFile: string): DetailedPeerCertificate {
  const x = new X509Certificate(readFileSync(pemFile));
  return { raw: x.raw, fingerprint256: x.fingerprint256, subject: { CN: /CN=([^\n]+)/.exec(x.subject)![1] }, subjectaltname: x.subjectAltName } as unknown as DetailedPeerCertificate;
}

test('certificate verdicts: validity thresholds, key size, signature, hostname, chain codes', (t) => {
  const pki = createPki('doctor-verdicts');
  t.after(() => pki.cleanup());
  const host = 'wss.example.test';
  const leaf = issueLeaf(pki, { hosts: [host], name: 'ok' });
  const x = new X509Certificate(readFileSync(leaf.cert));
  const notAfter = new Date(x.validTo).getTime();
  const ctx = (pem: string, over: Partial<CertContext> = {}): CertContext => ({
    probe: { ok: true, ms: 1, authorized: true, peer: peerOf(pem) },
    host,
    extraRoots: new Set(),
    now: new Date(),
    expiryWarnDays: 14,
    ...over,
  });
  assert.equal(checkValidity(ctx(leaf.cert)).status, 'PASS');
  const soon = checkValidity(ctx(leaf.cert, { now: new Date(notAfter - 10 * 86_400_000) }));
  assert.equal(soon.status, 'WARN');
  assert.match(soon.summary, /expires in 10 days/);
  assert.equal(checkValidity(ctx(leaf.cert, { now: new Date(notAfter - 15 * 86_400_000) })).status, 'PASS');
  const expired = checkValidity(ctx(leaf.cert, { now: new Date(notAfter + 86_400_000) }));
  assert.equal(expired.status, 'FAIL');
  assert.match(expired.summary, /^expired: "wss\.example\.test" ended/);
  assert.match(expired.fix!, /renew/);
  assert.equal(checkValidity(ctx(leaf.cert, { now: new Date(Date.now() - 2 * 86_400_000) })).status, 'FAIL');

  assert.match(checkKey(ctx(leaf.cert)).summary, /^RSA 2048$/);
  const small = issueLeaf(pki, { hosts: [host], name: 'small', rsaBits: 1024 });
  const k = checkKey(ctx(small.cert));
  assert.equal(k.status, 'FAIL');
  assert.match(k.summary, /RSA 1024: iOS ATS requires RSA ≥ 2048/);
  const ec = issueLeaf(pki, { hosts: [host], name: 'ec', keyAlg: 'ec' });
  assert.match(checkKey(ctx(ec.cert)).summary, /ECDSA prime256v1 \(256 bits\)/);

  assert.equal(checkSignature(ctx(leaf.cert)).status, 'PASS');
  const sha1 = issueLeaf(pki, { hosts: [host], name: 'sha1', digest: 'sha1' });
  const s = checkSignature(ctx(sha1.cert));
  assert.equal(s.status, 'FAIL');
  assert.match(s.summary, /sha1WithRSAEncryption: iOS ATS requires SHA-256/);

  assert.equal(checkHostname(ctx(leaf.cert)).status, 'PASS');
  const wrong = checkHostname(ctx(leaf.cert, { host: 'other.example.test' }));
  assert.equal(wrong.status, 'FAIL');
  assert.match(wrong.summary, /^ERR_TLS_CERT_ALTNAME_INVALID: .*DNS:wss\.example\.test/);
  assert.match(wrong.fix!, /issue the certificate for other\.example\.test/);

  const untrusted = (code: string) => checkChain(ctx(leaf.cert, { probe: { ok: true, ms: 1, authorized: false, authorizationError: code, peer: peerOf(leaf.cert) } }))[0]!;
  const missing = untrusted('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.equal(missing.status, 'FAIL');
  assert.match(missing.summary, /missing intermediate certificate: the server sends only the leaf "wss\.example\.test", not its issuer "doctor-verdicts Intermediate CA"/);
  assert.match(missing.fix!, /fullchain\.pem/);
  assert.match(untrusted('SELF_SIGNED_CERT_IN_CHAIN').summary, /untrusted root/);
  assert.match(untrusted('CERT_HAS_EXPIRED').summary, /^CERT_HAS_EXPIRED: certificate expired/);
  const selfSigned = checkChain(ctx(pki.caCert, { probe: { ok: true, ms: 1, authorized: false, authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT', peer: peerOf(pki.caCert) } }))[0]!;
  assert.match(selfSigned.summary, /self-signed certificate/);
  assert.match(selfSigned.fix!, /public CA/);
});

test('text report: one line per check, fixes under WARN/FAIL, skipped runs grouped', () => {
  const report: DoctorReport = {
    schema: 1,
    url: 'wss://a.example.test/wss?token=***',
    target: { host: 'a.example.test', port: 443, path: '/wss', address: '127.0.0.1', resolvedByOption: true },
    ok: false,
    counts: { PASS: 1, WARN: 0, FAIL: 1, INFO: 0, SKIP: 2 },
    checks: [
      { id: 'scheme', status: 'PASS', summary: 'wss://', fix: 'never shown' },
      { id: 'tcp', status: 'FAIL', summary: 'cannot connect', fix: 'open the port' },
      { id: 'tls1.2', status: 'SKIP', summary: 'needs tcp' },
      { id: 'tls1.3', status: 'SKIP', summary: 'needs tcp' },
    ],
    startedAt: new Date(0).toISOString(),
    durationMs: 5,
  };
  const text = renderReport(report);
  assert.match(text, /^wss-mp-server doctor wss:\/\/a\.example\.test\/wss\?token=\*\*\*\n  connecting to 127\.0\.0\.1:443 \(--resolve/);
  assert.match(text, /\nFAIL  tcp {18}cannot connect\n {27}fix: open the port\n/);
  assert.doesNotMatch(text, /never shown/);
  assert.match(text, /SKIP  tls1\.2 … tls1\.3 {6}needs tcp \(2 checks\)/);
  assert.match(text, /FAIL: 1 fail, 0 warn, 1 pass, 0 info, 2 skipped in 5 ms\n$/);
});
