/**
 * Verdicts on the certificate: chain, trust-anchor, hostname, validity, key, signature.
 * Rules: full chain to a public root, name match, in date, RSA ≥ 2048 or EC ≥ 256, SHA-256+
 * signatures (WeChat network doc; Apple ATS).
 */
import { checkServerIdentity, type DetailedPeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { DoctorCheck } from './types';
import { signatureAlgorithm } from './der';
import { walkChain, type TlsProbe } from './tls-probe';

const DAY = 86_400_000;

export interface CertContext {
  /** The probe that produced the certificate (the verifying one, or a fallback). */
  probe: TlsProbe;
  /** Host from the URL. */
  host: string;
  /** SHA-256 fingerprints (colon hex, as Node prints) of the `--ca` certificates. */
  extraRoots: Set<string>;
  now: Date;
  expiryWarnDays: number;
}

interface CertSummary {
  name: string;
  issuer: string;
  selfIssued: boolean;
  notBefore: Date;
  notAfter: Date;
  x509: X509Certificate;
  peer: DetailedPeerCertificate;
}

function cn(dn: string): string {
  const m = /(?:^|\n)CN=([^\n]+)/.exec(dn);
  return m ? m[1]! : dn.split('\n')[0] ?? dn;
}

function summarize(peer: DetailedPeerCertificate): CertSummary {
  const x509 = new X509Certificate(peer.raw);
  return {
    name: cn(x509.subject),
    issuer: cn(x509.issuer),
    selfIssued: x509.subject === x509.issuer,
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    x509,
    peer,
  };
}

export function chainOf(probe: TlsProbe): CertSummary[] {
  return walkChain(probe.peer).map(summarize);
}

/** Below SHA-256: iOS ATS refuses these (md2, md5, sha1, sha224). */
export function isWeakHash(hash: string | null): boolean {
  return hash === 'md2' || hash === 'md5' || hash === 'sha1' || hash === 'sha224';
}

const day = (d: Date) => d.toISOString().slice(0, 10);

const PUBLIC_CA = 'use a certificate from a public CA (e.g. Let\'s Encrypt via certbot/acme.sh, or your cloud provider\'s free DV certificate)';
const FULLCHAIN = 'serve the full chain, leaf + intermediate(s): fullchain.pem (nginx ssl_certificate, Apache SSLCertificateFile, wss-mp-server --cert), not cert.pem';

export function checkChain(c: CertContext): DoctorCheck[] {
  const chain = chainOf(c.probe);
  const path = chain.map((x) => x.name).join(' ← ');
  const leaf = chain[0];
  if (!leaf) return [{ id: 'chain', status: 'FAIL', summary: 'the server sent no certificate', fix: FULLCHAIN }];
  const data = { chain: chain.map((x) => ({ subject: x.name, issuer: x.issuer, notAfter: x.notAfter.toISOString() })) };
  const via = c.probe.protocol && c.probe.protocol !== 'TLSv1.2' && c.probe.protocol !== 'TLSv1.3' ? ` (seen over ${c.probe.protocol})` : '';
  if (c.probe.authorized) {
    const top = chain[chain.length - 1]!;
    const out: DoctorCheck[] = [{ id: 'chain', status: 'PASS', summary: `complete and trusted: ${path}${via}`, data }];
    if (c.extraRoots.has(top.peer.fingerprint256)) {
      out.push({
        id: 'trust-anchor',
        status: 'INFO',
        summary: `trusted only through --ca ("${top.name}"): phones trust public roots only, so this works in tests and DevTools, not on a release device`,
        fix: `for production, ${PUBLIC_CA}`,
      });
    }
    return out;
  }
  const code = c.probe.authorizationError ?? 'UNKNOWN';
  const last = chain[chain.length - 1]!;
  const fail = (summary: string, fix: string): DoctorCheck[] => [
    { id: 'chain', status: 'FAIL', summary: `${code}: ${summary}${via}`, fix, data: { ...data, code } },
  ];
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
      return chain.length === 1
        ? fail(`missing intermediate certificate: the server sends only the leaf "${leaf.name}", not its issuer "${leaf.issuer}"`, FULLCHAIN)
        : fail(`incomplete chain: the issuer "${last.issuer}" of "${last.name}" was not sent and is not a trusted root`, FULLCHAIN);
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return fail(`issued by a private or unknown CA: "${last.issuer}" is not a trusted root (${path})`, `${PUBLIC_CA}; to test a private CA pass --ca root.pem`);
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return fail(`the chain ends in the untrusted root "${last.name}" (private CA): phones reject it`, `${PUBLIC_CA}; to test a private CA pass --ca root.pem`);
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return fail(`self-signed certificate "${leaf.name}": iOS always rejects it, Android too outside debug mode`, `${PUBLIC_CA}; wss-mp-server --dev-cert is for DevTools only`);
    case 'CERT_HAS_EXPIRED': {
      const expired = chain.filter((x) => x.notAfter.getTime() < c.now.getTime());
      const which = expired.map((x) => `"${x.name}" on ${day(x.notAfter)}`).join(', ') || 'a certificate in the chain';
      return fail(`certificate expired: ${which}`, 'renew the certificate (certbot renew / your CA), install the new fullchain and reload the server');
    }
    case 'CERT_NOT_YET_VALID':
      return fail(`certificate not valid yet (from ${day(leaf.notBefore)})`, 'check the server clock, or wait for the validity start');
    case 'EE_KEY_TOO_SMALL':
    case 'CA_KEY_TOO_SMALL':
    case 'CA_MD_TOO_WEAK':
      return fail('the chain uses a key or digest OpenSSL rejects as too weak (see key / signature)', 'reissue with RSA ≥ 2048 or ECDSA P-256 and SHA-256');
    case 'CERT_REVOKED':
      return fail('the certificate was revoked', 'get a new certificate');
    case 'INVALID_PURPOSE':
      return fail(
        `"${leaf.name}" is not a TLS server certificate (a CA certificate, or extendedKeyUsage without serverAuth)${leaf.selfIssued ? ', and self-signed' : ''}`,
        `${PUBLIC_CA}; a server certificate has basicConstraints CA:FALSE and extendedKeyUsage serverAuth`,
      );
    default: {
      // OpenSSL reports some security-level refusals without a specific code (Node: UNSPECIFIED).
      const weak = chain.filter((x, i) => (i === 0 || !x.selfIssued) && isWeakHash(signatureAlgorithm(x.peer.raw).hash));
      if (weak.length) {
        return fail(`OpenSSL refuses the chain: "${weak[0]!.name}" has a weak signature (see signature)`, 'reissue with a SHA-256 signature');
      }
      if (chain.length === 1 && leaf.selfIssued) return fail(`self-signed certificate "${leaf.name}"`, `${PUBLIC_CA}`);
      return fail(`certificate not trusted (${path})`, `${PUBLIC_CA}; serve the full chain`);
    }
  }
}

export function checkHostname(c: CertContext): DoctorCheck {
  const leaf = walkChain(c.probe.peer)[0];
  if (!leaf) return { id: 'hostname', status: 'SKIP', summary: 'no certificate' };
  const err = checkServerIdentity(c.host, leaf) as (Error & { code?: string; reason?: string }) | undefined;
  const san = leaf.subjectaltname ?? '(none)';
  if (!err) return { id: 'hostname', status: 'PASS', summary: `${c.host} matches the certificate (${san})` };
  const reason = (err.reason ?? err.message).replace(/[:\s]+$/, '');
  return {
    id: 'hostname',
    status: 'FAIL',
    summary: `${err.code ?? 'ERR_TLS_CERT_ALTNAME_INVALID'}: ${reason}${reason.includes(san) ? '' : ` (certificate names: ${san})`}`,
    fix: `issue the certificate for ${c.host} (subjectAltName DNS:${c.host}) and make sure this SNI name gets it (nginx server_name)`,
    data: { code: err.code, subjectAltName: san },
  };
}

export function checkValidity(c: CertContext): DoctorCheck {
  const chain = chainOf(c.probe);
  if (!chain.length) return { id: 'validity', status: 'SKIP', summary: 'no certificate' };
  const now = c.now.getTime();
  const renew = 'renew it (certbot renew / your CA), install the new fullchain and reload the server; automate renewal';
  const expired = chain.find((x) => x.notAfter.getTime() < now);
  if (expired) {
    return {
      id: 'validity',
      status: 'FAIL',
      summary: `expired: "${expired.name}" ended ${day(expired.notAfter)} (${Math.floor((now - expired.notAfter.getTime()) / DAY)} days ago)`,
      fix: renew,
      data: { notAfter: expired.notAfter.toISOString(), subject: expired.name },
    };
  }
  const early = chain.find((x) => x.notBefore.getTime() > now);
  if (early) {
    return {
      id: 'validity',
      status: 'FAIL',
      summary: `not valid yet: "${early.name}" starts ${early.notBefore.toISOString()}`,
      fix: 'check the server (and this machine\'s) clock',
      data: { notBefore: early.notBefore.toISOString() },
    };
  }
  const soonest = chain.reduce((a, b) => (b.notAfter < a.notAfter ? b : a));
  const days = Math.floor((soonest.notAfter.getTime() - now) / DAY);
  const data = { notAfter: soonest.notAfter.toISOString(), daysLeft: days, subject: soonest.name };
  const who = soonest === chain[0] ? '' : ` ("${soonest.name}" is the first to expire)`;
  if (days < c.expiryWarnDays) {
    return {
      id: 'validity',
      status: 'WARN',
      summary: `expires in ${days} days, on ${day(soonest.notAfter)}${who}`,
      fix: renew,
      data,
    };
  }
  return { id: 'validity', status: 'PASS', summary: `valid until ${day(soonest.notAfter)} (${days} days)${who}`, data };
}

export function checkKey(c: CertContext): DoctorCheck {
  const leaf = chainOf(c.probe)[0];
  if (!leaf) return { id: 'key', status: 'SKIP', summary: 'no certificate' };
  const k = leaf.x509.publicKey;
  const type = k.asymmetricKeyType ?? 'unknown';
  const det = (k.asymmetricKeyDetails ?? {}) as { modulusLength?: number; namedCurve?: string };
  const reissue = 'reissue with RSA 2048+ (or ECDSA P-256): openssl req -newkey rsa:2048, or certbot --key-type ecdsa';
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = det.modulusLength ?? 0;
    if (bits >= 2048) return { id: 'key', status: 'PASS', summary: `RSA ${bits}`, data: { type, bits } };
    return { id: 'key', status: 'FAIL', summary: `RSA ${bits}: iOS ATS requires RSA ≥ 2048`, fix: reissue, data: { type, bits } };
  }
  if (type === 'ec') {
    const curve = det.namedCurve ?? 'unknown';
    const bits = ({ prime256v1: 256, secp384r1: 384, secp521r1: 521 } as Record<string, number>)[curve];
    if (bits) return { id: 'key', status: 'PASS', summary: `ECDSA ${curve} (${bits} bits)`, data: { type, curve, bits } };
    return {
      id: 'key',
      status: curve === 'secp224r1' || curve === 'prime192v1' ? 'FAIL' : 'WARN',
      summary: `ECDSA on ${curve}: iOS ATS accepts P-256/P-384 (ECC ≥ 256)`,
      fix: reissue,
      data: { type, curve },
    };
  }
  return {
    id: 'key',
    status: type === 'dsa' ? 'FAIL' : 'WARN',
    summary: `${type} key: phones expect RSA or ECDSA certificates`,
    fix: reissue,
    data: { type },
  };
}

export function checkSignature(c: CertContext): DoctorCheck {
  const chain = chainOf(c.probe);
  if (!chain.length) return { id: 'signature', status: 'SKIP', summary: 'no certificate' };
  // A root's self-signature is never checked by clients; the leaf's and intermediates' are.
  const signed = chain.filter((x, i) => i === 0 || !x.selfIssued);
  const algs = signed.map((x) => ({ subject: x.name, ...signatureAlgorithm(x.peer.raw) }));
  const weak = algs.filter((a) => isWeakHash(a.hash));
  const data = { signatures: algs.map(({ subject, name, oid }) => ({ subject, algorithm: name, oid })) };
  if (weak.length) {
    return {
      id: 'signature',
      status: 'FAIL',
      summary: weak.map((a) => `"${a.subject}" is signed with ${a.name}`).join('; ') + ': iOS ATS requires SHA-256 or better',
      fix: 'reissue with a SHA-256 signature (openssl -sha256; every public CA does this by default)',
      data,
    };
  }
  const unknown = algs.filter((a) => a.hash === null || a.hash === 'intrinsic');
  if (unknown.length) {
    return {
      id: 'signature',
      status: 'WARN',
      summary: unknown.map((a) => `"${a.subject}": ${a.name}`).join('; ') + ': not an RSA/ECDSA SHA-2 signature phones are known to accept',
      fix: 'reissue with sha256WithRSAEncryption or ecdsa-with-SHA256',
      data,
    };
  }
  return { id: 'signature', status: 'PASS', summary: [...new Set(algs.map((a) => a.name))].join(', '), data };
}
