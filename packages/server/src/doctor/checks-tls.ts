/**
 * Verdicts on protocol versions and suites: tls1.2, tls1.3, legacy-tls, ats-forward-secrecy,
 * static-rsa, alpn. Rules: WeChat needs TLS ≥ 1.2; iOS ATS needs an ECDHE suite on TLS 1.2
 * (docs/tls-policy.md#why-these-rules).
 */
import type { DoctorCheck } from './types';
import type { TlsProbe } from './tls-probe';

export interface TlsProbes {
  /** TLS 1.2 only, the client's default suites, no ALPN. */
  tls12: TlsProbe;
  tls13: TlsProbe;
  tls10: TlsProbe;
  tls11: TlsProbe;
  /** TLS 1.2 offering only the iOS ATS suites. */
  ats: TlsProbe;
  /** TLS 1.2 offering only static-RSA suites. */
  staticRsa: TlsProbe;
  /** TLS 1.2–1.3 as a modern client, verifying against the roots (chain, ALPN, certificate). */
  main: TlsProbe;
}

const ENABLE_12 = "enable TLS 1.2 and 1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3; Node: minVersion: 'TLSv1.2')";
const MOZILLA_12 =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';

/** True when the failure means "this version is refused", as opposed to "no TLS at all here". */
function isVersionRefusal(code: string | undefined): boolean {
  return (
    code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' ||
    code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' ||
    code === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE'
  );
}

function isNotTls(code: string | undefined): boolean {
  return code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_HTTP_REQUEST';
}

export function checkTls12(p: TlsProbes): DoctorCheck {
  const r = p.tls12;
  if (r.ok) {
    return { id: 'tls1.2', status: 'PASS', summary: `TLS 1.2 offered (${r.cipher!.standardName})`, data: { cipher: r.cipher, ms: r.ms } };
  }
  const data = { errorCode: r.errorCode, error: r.errorMessage };
  if (isNotTls(r.errorCode)) {
    return {
      id: 'tls1.2',
      status: 'FAIL',
      summary: `the port does not speak TLS (${r.errorCode}: ${r.errorMessage})`,
      fix: 'terminate TLS on this port: a proxy with the certificate (listen 443 ssl), or wss-mp-server --cert/--key; a plain-ws backend belongs on 127.0.0.1 behind it',
      data,
    };
  }
  if (p.tls13.ok) {
    return {
      id: 'tls1.2',
      status: 'WARN',
      summary: `TLS 1.3 only, TLS 1.2 refused (${r.errorCode}): phones without TLS 1.3 (iOS < 12.2, older Android) cannot connect`,
      fix: `${ENABLE_12}, with ECDHE suites on 1.2`,
      data,
    };
  }
  const legacy = [p.tls10.ok && 'TLS 1.0', p.tls11.ok && 'TLS 1.1'].filter(Boolean);
  return {
    id: 'tls1.2',
    status: 'FAIL',
    summary: legacy.length
      ? `TLS 1.2 refused (${r.errorCode}); the server only speaks ${legacy.join(' and ')}: WeChat requires TLS ≥ 1.2`
      : `no TLS 1.2 handshake (${r.errorCode}: ${r.errorMessage})`,
    fix: isVersionRefusal(r.errorCode) || legacy.length ? ENABLE_12 : 'check the TLS configuration of the server on this port (see its error log)',
    data,
  };
}

export function checkTls13(p: TlsProbes): DoctorCheck {
  if (p.tls13.ok) return { id: 'tls1.3', status: 'INFO', summary: `TLS 1.3 offered (${p.tls13.cipher!.standardName})` };
  return {
    id: 'tls1.3',
    status: 'INFO',
    summary: `TLS 1.3 not offered (${p.tls13.errorCode}); TLS 1.2 is enough for WeChat, 1.3 saves a round trip`,
  };
}

export function checkLegacy(p: TlsProbes): DoctorCheck {
  const accepted = [p.tls10.ok && 'TLS 1.0', p.tls11.ok && 'TLS 1.1'].filter(Boolean) as string[];
  if (accepted.length === 0 && !p.tls12.ok && !p.tls13.ok && !p.main.ok) {
    // Nothing handshakes at all (not TLS, or silent): "refused" would be a false PASS.
    return { id: 'legacy-tls', status: 'SKIP', summary: 'no TLS handshake works on this port (see tls1.2)' };
  }
  if (accepted.length === 0) return { id: 'legacy-tls', status: 'PASS', summary: 'TLS 1.0 and 1.1 refused' };
  return {
    id: 'legacy-tls',
    status: 'WARN',
    summary: `accepts ${accepted.join(' and ')} (deprecated, RFC 8996); probed with OpenSSL security level 0`,
    fix: "turn them off: nginx ssl_protocols TLSv1.2 TLSv1.3; Apache SSLProtocol -all +TLSv1.2 +TLSv1.3; Node minVersion: 'TLSv1.2'",
    data: { accepted },
  };
}

const isEcdhe = (name: string | undefined) => !!name && name.startsWith('ECDHE-');
const isAead = (name: string) => /GCM|CHACHA20|CCM/.test(name);

export function checkForwardSecrecy(p: TlsProbes): DoctorCheck {
  if (!p.tls12.ok) return { id: 'ats-forward-secrecy', status: 'SKIP', summary: 'needs a TLS 1.2 handshake (see tls1.2)' };
  const negotiated = p.tls12.cipher!;
  const data = { negotiated: negotiated.name, standardName: negotiated.standardName, ecdheOnlyOffer: p.ats.ok ? p.ats.cipher!.name : p.ats.errorCode };
  if (!p.ats.ok) {
    return {
      id: 'ats-forward-secrecy',
      status: 'FAIL',
      summary: `no ECDHE suite on TLS 1.2: negotiated ${negotiated.name} (${negotiated.standardName}); an offer of only the iOS ATS suites was refused (${p.ats.errorCode}), so iOS will not connect`,
      fix: `offer ECDHE suites only (Mozilla intermediate): ${MOZILLA_12}`,
      data,
    };
  }
  if (!isEcdhe(negotiated.name)) {
    return {
      id: 'ats-forward-secrecy',
      status: 'WARN',
      summary: `the server prefers ${negotiated.name} (no forward secrecy) over ECDHE; iOS still gets ${p.ats.cipher!.name}`,
      fix: `turn off server cipher preference (nginx ssl_prefer_server_ciphers off; Node honorCipherOrder: false) and offer ECDHE suites only: ${MOZILLA_12}`,
      data,
    };
  }
  const eph = p.tls12.ephemeral ? ` with ${p.tls12.ephemeral}` : '';
  if (!isAead(negotiated.name)) {
    return {
      id: 'ats-forward-secrecy',
      status: 'PASS',
      summary: `${negotiated.standardName}${eph} (forward secret; a CBC suite — ATS accepts it, GCM/ChaCha20 are preferred)`,
      data,
    };
  }
  return { id: 'ats-forward-secrecy', status: 'PASS', summary: `${negotiated.standardName}${eph}`, data };
}

export function checkStaticRsa(p: TlsProbes): DoctorCheck {
  if (!p.tls12.ok) return { id: 'static-rsa', status: 'SKIP', summary: 'needs a TLS 1.2 handshake (see tls1.2)' };
  if (!p.staticRsa.ok) return { id: 'static-rsa', status: 'PASS', summary: 'static-RSA (non-forward-secret) suites refused' };
  return {
    id: 'static-rsa',
    status: 'WARN',
    summary: `accepts the static-RSA suite ${p.staticRsa.cipher!.name} (no forward secrecy) when a client offers nothing better`,
    fix: `offer ECDHE suites only (Node's default list still has static RSA: pass ciphers explicitly): ${MOZILLA_12}`,
    data: { accepted: p.staticRsa.cipher!.name },
  };
}

export function checkAlpn(p: TlsProbes): DoctorCheck {
  const r = p.main;
  if (r.errorCode === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL') {
    return {
      id: 'alpn',
      status: 'FAIL',
      summary: 'the server refused ALPN http/1.1 (no_application_protocol): it only speaks h2 on this port',
      fix: 'WebSockets from WeChat use the HTTP/1.1 Upgrade: allow http/1.1 in ALPN on this port (nginx does by default)',
    };
  }
  if (!r.ok) return { id: 'alpn', status: 'SKIP', summary: `needs a TLS 1.2+ handshake (${r.errorCode})` };
  if (r.alpn === 'http/1.1') return { id: 'alpn', status: 'PASS', summary: 'http/1.1 selected' };
  if (!r.alpn) {
    return { id: 'alpn', status: 'INFO', summary: 'the server negotiates no ALPN; clients fall back to HTTP/1.1, which is what the upgrade needs' };
  }
  return {
    id: 'alpn',
    status: 'FAIL',
    summary: `the server selected ${r.alpn} although only http/1.1 was offered`,
    fix: 'allow http/1.1 in the ALPN configuration of this port',
  };
}
