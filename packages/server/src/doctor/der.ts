/**
 * Just enough DER to read a certificate's signature algorithm, which Node 20's
 * X509Certificate does not expose (`signatureAlgorithm` arrived in later Node versions).
 *
 *   Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm AlgorithmIdentifier,
 *                              signatureValue BIT STRING }
 *   AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }
 */

interface Tlv {
  tag: number;
  /** Offset of the value's first byte. */
  start: number;
  /** Offset one past the value's last byte. */
  end: number;
}

function readTlv(buf: Uint8Array, off: number): Tlv {
  if (off + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[off]!;
  let len = buf[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > buf.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > buf.length) throw new Error('DER: value past the end');
  return { tag, start, end };
}

function decodeOid(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06 || t.end <= t.start) throw new Error('DER: expected an OID');
  const parts: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (buf[i]! & 0x7f);
    if (!(buf[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift()!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts].join('.');
}

export interface SignatureAlgorithm {
  oid: string;
  /** OpenSSL-style name, e.g. `sha256WithRSAEncryption`; the OID when unknown. */
  name: string;
  /** Digest used, e.g. `sha256`; `intrinsic` for EdDSA; null when unknown. */
  hash: string | null;
}

const HASH_OIDS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
};

const SIG_OIDS: Record<string, [string, string | null]> = {
  '1.2.840.113549.1.1.2': ['md2WithRSAEncryption', 'md2'],
  '1.2.840.113549.1.1.4': ['md5WithRSAEncryption', 'md5'],
  '1.2.840.113549.1.1.5': ['sha1WithRSAEncryption', 'sha1'],
  '1.2.840.113549.1.1.11': ['sha256WithRSAEncryption', 'sha256'],
  '1.2.840.113549.1.1.12': ['sha384WithRSAEncryption', 'sha384'],
  '1.2.840.113549.1.1.13': ['sha512WithRSAEncryption', 'sha512'],
  '1.2.840.113549.1.1.14': ['sha224WithRSAEncryption', 'sha224'],
  '1.2.840.113549.1.1.10': ['rsassaPss', null],
  '1.2.840.10045.4.1': ['ecdsa-with-SHA1', 'sha1'],
  '1.2.840.10045.4.3.1': ['ecdsa-with-SHA224', 'sha224'],
  '1.2.840.10045.4.3.2': ['ecdsa-with-SHA256', 'sha256'],
  '1.2.840.10045.4.3.3': ['ecdsa-with-SHA384', 'sha384'],
  '1.2.840.10045.4.3.4': ['ecdsa-with-SHA512', 'sha512'],
  '1.2.840.10040.4.3': ['dsa-with-SHA1', 'sha1'],
  '1.3.101.112': ['ED25519', 'intrinsic'],
  '1.3.101.113': ['ED448', 'intrinsic'],
};

/** Reads the outer signatureAlgorithm of a DER certificate. Throws on malformed input. */
export function signatureAlgorithm(der: Uint8Array): SignatureAlgorithm {
  const cert = readTlv(der, 0);
  if (cert.tag !== 0x30) throw new Error('DER: certificate is not a SEQUENCE');
  const tbs = readTlv(der, cert.start);
  const alg = readTlv(der, tbs.end);
  if (alg.tag !== 0x30) throw new Error('DER: signatureAlgorithm is not a SEQUENCE');
  const oidTlv = readTlv(der, alg.start);
  const oid = decodeOid(der, oidTlv);
  const known = SIG_OIDS[oid];
  if (!known) return { oid, name: oid, hash: null };
  let hash = known[1];
  if (oid === '1.2.840.113549.1.1.10') hash = pssHash(der, oidTlv.end, alg.end);
  return { oid, name: known[0], hash };
}

/**
 * RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] EXPLICIT AlgorithmIdentifier DEFAULT sha1, … }
 * (RFC 4055): an absent hash means SHA-1.
 */
function pssHash(der: Uint8Array, off: number, end: number): string | null {
  if (off >= end) return 'sha1';
  const params = readTlv(der, off);
  if (params.tag !== 0x30) return null;
  if (params.start >= params.end) return 'sha1';
  const first = readTlv(der, params.start);
  if (first.tag !== 0xa0) return 'sha1';
  const algId = readTlv(der, first.start);
  const hashOid = decodeOid(der, readTlv(der, algId.start));
  return HASH_OIDS[hashOid] ?? null;
}
