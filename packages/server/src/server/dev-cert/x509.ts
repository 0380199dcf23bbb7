/**
 * Builds X.509 v3 certificates with node:crypto keys and the DER writer: enough for a local
 * development CA and a localhost server certificate, no dependency. ECDSA P-256 keys,
 * ecdsa-with-SHA256 signatures.
 */
import { createHash, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIPv4 } from 'node:net';
import * as der from './der';
import { parseIp } from '../trust-proxy';

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  nameConstraints: '2.5.29.30',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

export interface Name {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
}

function encodeName(n: Name): Buffer {
  const rdn = (type: string, value: string) => der.set(der.sequence(der.oid(type), der.utf8String(value)));
  const parts: Buffer[] = [];
  if (n.organization) parts.push(rdn(OID.organization, n.organization));
  if (n.organizationalUnit) parts.push(rdn(OID.organizationalUnit, n.organizationalUnit));
  parts.push(rdn(OID.commonName, n.commonName));
  return der.sequence(...parts);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (the EC point). */
export function keyIdentifier(publicKey: KeyObject): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return createHash('sha1').update(point).digest();
}

/** A GeneralName for subjectAltName: IP addresses as iPAddress, the rest as dNSName. */
function generalName(host: string): Buffer {
  const ip = parseIp(host);
  if (!ip) return der.implicitPrimitive(2, Buffer.from(host, 'ascii'));
  return der.implicitPrimitive(7, Buffer.from(isIPv4(host) ? ip.subarray(12) : ip));
}

export interface CertificateSpec {
  subject: Name;
  issuer: Name;
  publicKey: KeyObject;
  /** The issuer's private key (the subject's own for a self-signed CA). */
  signingKey: KeyObject;
  /** The issuer's public key, for authorityKeyIdentifier. */
  issuerPublicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** A CA certificate: basicConstraints CA:TRUE, pathLen 0. */
  ca?: { permittedDns: string[]; permittedIpCidrs: Array<[string, number]> };
  /** A server certificate for these names (dNSName or iPAddress). */
  serverNames?: string[];
}

/** 16 random bytes, positive and non-zero as RFC 5280 §4.1.2.2 requires. */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

function ipConstraint(addr: string, bits: number): Buffer {
  const full = parseIp(addr)!;
  const v4 = isIPv4(addr);
  const bytes = v4 ? full.subarray(12) : full;
  const mask = Buffer.alloc(bytes.length);
  for (let i = 0; i < mask.length; i++) mask[i] = (0xff << (8 - Math.max(0, Math.min(8, bits - i * 8)))) & 0xff;
  return der.implicitPrimitive(7, Buffer.concat([bytes, mask]));
}

/** Builds and signs a certificate; returns it as PEM. */
export function buildCertificate(spec: CertificateSpec): string {
  const sigAlg = der.sequence(der.oid(OID.ecdsaWithSha256));
  const spki = spec.publicKey.export({ format: 'der', type: 'spki' });
  const exts: Buffer[] = [];
  if (spec.ca) {
    exts.push(extension(OID.basicConstraints, true, der.sequence(der.boolean(true), der.integer(0))));
    // digitalSignature, keyCertSign, cRLSign: bits 0, 5, 6 → 1000 0110, one unused bit.
    exts.push(extension(OID.keyUsage, true, der.bitString(Buffer.from([0x86]), 1)));
    // Name constraints: even if this CA's key leaked, it could only vouch for local names.
    const subtree = (gn: Buffer) => der.sequence(gn);
    const permitted = [
      ...spec.ca.permittedDns.map((d) => subtree(der.implicitPrimitive(2, Buffer.from(d, 'ascii')))),
      ...spec.ca.permittedIpCidrs.map(([a, bits]) => subtree(ipConstraint(a, bits))),
    ];
    exts.push(extension(OID.nameConstraints, true, der.sequence(der.implicitConstructed(0, ...permitted))));
  } else {
    exts.push(extension(OID.basicConstraints, true, der.sequence()));
    // digitalSignature only (bit 0), seven unused bits: what an ECDSA TLS server key does.
    exts.push(extension(OID.keyUsage, true, der.bitString(Buffer.from([0x80]), 7)));
    exts.push(extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))));
    exts.push(extension(OID.subjectAltName, false, der.sequence(...(spec.serverNames ?? []).map(generalName))));
  }
  exts.push(extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spec.publicKey))));
  exts.push(extension(OID.authorityKeyIdentifier, false,
    der.sequence(der.implicitPrimitive(0, keyIdentifier(spec.issuerPublicKey)))));

  const tbs = der.sequence(
    der.explicit(0, der.integer(2)), // v3
    der.integer(randomSerial()),
    sigAlg,
    encodeName(spec.issuer),
    der.sequence(der.time(spec.notBefore), der.time(spec.notAfter)),
    encodeName(spec.subject),
    spki,
    der.explicit(3, der.sequence(...exts)),
  );
  const signature = sign('sha256', tbs, { key: spec.signingKey, dsaEncoding: 'der' });
  const cert = der.sequence(tbs, sigAlg, der.bitString(signature));
  const b64 = cert.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

export { createPublicKey };
