// The signature algorithm is read from the DER by hand (Node 20's X509Certificate lacks it):
// checked against certificates the real openssl CLI signs with each digest and key type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createPki, issueLeaf } from '../../../../test/support/certs';
import { signatureAlgorithm } from '../../src/doctor/der';

const der = (pemFile: string) => new X509Certificate(readFileSync(pemFile)).raw;

test('signature algorithm OIDs of openssl-made certificates', (t) => {
  const pki = createPki('doctor-der');
  t.after(() => pki.cleanup());
  const cases: Array<[Parameters<typeof issueLeaf>[1], string, string]> = [
    [{ digest: 'sha256' }, 'sha256WithRSAEncryption', 'sha256'],
    [{ digest: 'sha384' }, 'sha384WithRSAEncryption', 'sha384'],
    [{ digest: 'sha512' }, 'sha512WithRSAEncryption', 'sha512'],
    [{ digest: 'sha1' }, 'sha1WithRSAEncryption', 'sha1'],
    [{ digest: 'sha224' }, 'sha224WithRSAEncryption', 'sha224'],
  ];
  for (const [i, [opts, name, hash]] of cases.entries()) {
    const leaf = issueLeaf(pki, { ...opts, name: `l${i}`, hosts: ['a.example.test'] });
    const alg = signatureAlgorithm(der(leaf.cert));
    assert.equal(alg.name, name);
    assert.equal(alg.hash, hash);
  }
  // The root signs itself with RSA/SHA-256 too.
  assert.deepEqual(signatureAlgorithm(der(pki.caCert)), { oid: '1.2.840.113549.1.1.11', name: 'sha256WithRSAEncryption', hash: 'sha256' });
});

test('ECDSA, Ed25519 and RSA-PSS (hash from the parameters) signatures', (t) => {
  const pki = createPki('doctor-der2');
  t.after(() => pki.cleanup());
  const dir = pki.dir;
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  ossl('ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', 'ec.key');
  ossl('req', '-x509', '-new', '-key', 'ec.key', '-sha384', '-subj', '/CN=ec', '-days', '1', '-out', 'ec.pem');
  assert.deepEqual(signatureAlgorithm(der(path.join(dir, 'ec.pem'))), { oid: '1.2.840.10045.4.3.3', name: 'ecdsa-with-SHA384', hash: 'sha384' });

  ossl('genpkey', '-algorithm', 'ed25519', '-out', 'ed.key');
  ossl('req', '-x509', '-new', '-key', 'ed.key', '-subj', '/CN=ed', '-days', '1', '-out', 'ed.pem');
  assert.deepEqual(signatureAlgorithm(der(path.join(dir, 'ed.pem'))), { oid: '1.3.101.112', name: 'ED25519', hash: 'intrinsic' });

  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'pss.key', '-sha256', '-sigopt', 'rsa_padding_mode:pss',
    '-subj', '/CN=pss', '-days', '1', '-out', 'pss.pem');
  assert.deepEqual(signatureAlgorithm(der(path.join(dir, 'pss.pem'))), { oid: '1.2.840.113549.1.1.10', name: 'rsassaPss', hash: 'sha256' });

  const leaf = issueLeaf(pki, { keyAlg: 'ec', hosts: ['a.example.test'] });
  assert.equal(signatureAlgorithm(der(leaf.cert)).name, 'sha256WithRSAEncryption', 'an EC leaf signed by an RSA intermediate');
});

test('malformed DER throws instead of guessing', () => {
  assert.throws(() => signatureAlgorithm(new Uint8Array([0x30, 0x82, 0xff])), /DER/);
  assert.throws(() => signatureAlgorithm(new Uint8Array([0x04, 0x00])), /not a SEQUENCE/);
  assert.throws(() => signatureAlgorithm(new Uint8Array([0x30, 0x04, 0x30, 0x00, 0x02, 0x00])), /signatureAlgorithm/);
});
