// Test-only certificates, made fresh per test run with the real openssl CLI in a temp dir:
// a root CA, an intermediate and a leaf, so tests can serve full chains, leaf-only chains,
// expired or wrong-host certificates. Never deploy these; nothing here is committed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Pki {
  dir: string;
  /** Root CA certificate (PEM path): what a client trusts. */
  caCert: string;
  caKey: string;
  /** Intermediate CA certificate (PEM path). */
  intCert: string;
  intKey: string;
  cleanup(): void;
}

export interface Leaf {
  /** Leaf certificate alone (PEM path). */
  cert: string;
  key: string;
  /** Leaf + intermediate (PEM path): what a server should send. */
  fullchain: string;
  serial: string;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Creates a root CA and an intermediate CA in a fresh temp directory. */
export function createPki(name = 'wss-mp-test'): Pki {
  const dir = mkdtempSync(path.join(tmpdir(), `${name}-`));
  const caExt = path.join(dir, 'ca.ext');
  writeFileSync(caExt, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30', '-subj', `/CN=${name} Root CA`,
    '-keyout', 'ca.key', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name} Intermediate CA`, '-keyout', 'int.key', '-out', 'int.csr'], dir);
  openssl(['x509', '-req', '-in', 'int.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-sha256', '-days', '30',
    '-extfile', caExt, '-out', 'int.pem'], dir);
  return {
    dir,
    caCert: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca.key'),
    intCert: path.join(dir, 'int.pem'),
    intKey: path.join(dir, 'int.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface LeafOptions {
  /** DNS names and IPs for subjectAltName. Default ['localhost', '127.0.0.1']. */
  hosts?: string[];
  /** File name prefix inside the PKI dir. Default 'leaf'. */
  name?: string;
  /** Validity start/end as openssl dates (YYYYMMDDHHMMSSZ); default now-1h .. now+days. */
  notBefore?: Date;
  notAfter?: Date;
  /** Key spec for openssl -newkey. Default 'rsa:2048'. e.g. 'rsa:1024', 'ec -pkeyopt ec_paramgen_curve:P-256' not supported; use keyAlg. */
  rsaBits?: number;
  /** 'rsa' (default) or 'ec' (P-256). */
  keyAlg?: 'rsa' | 'ec';
  /** Signature digest. Default 'sha256'. */
  digest?: string;
  /** Sign with the root directly instead of the intermediate. */
  signedByRoot?: boolean;
}

function asn1Time(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

/** Issues a server certificate from the PKI's intermediate (or root). */
export function issueLeaf(pki: Pki, opts: LeafOptions = {}): Leaf {
  const hosts = opts.hosts ?? ['localhost', '127.0.0.1'];
  const name = opts.name ?? 'leaf';
  const dir = pki.dir;
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  if (opts.keyAlg === 'ec') {
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${hosts[0]}`, '-out', `${name}.csr`], dir);
  } else {
    openssl(['req', '-newkey', `rsa:${opts.rsaBits ?? 2048}`, '-nodes', '-subj', `/CN=${hosts[0]}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  }
  const [caCert, caKey] = opts.signedByRoot ? [pki.caCert, pki.caKey] : [pki.intCert, pki.intKey];
  const notBefore = opts.notBefore ?? new Date(Date.now() - 3600_000);
  const notAfter = opts.notAfter ?? new Date(Date.now() + 30 * 86400_000);
  // `openssl ca` is the only CLI path that takes explicit start/end dates on OpenSSL 3.0.
  const db = path.join(dir, `${name}.db`);
  writeFileSync(db, '');
  writeFileSync(path.join(dir, `${name}.db.attr`), 'unique_subject = no\n');
  // First byte 0x10–0x7f: 16 hex digits with no leading zero and no sign byte, so the serial
  // reads back the same from Node's X509 (which drops leading zeros) as from this string.
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  bytes[0] = 0x10 + (bytes[0]! % 0x70);
  const serial = Buffer.from(bytes).toString('hex').toUpperCase();
  writeFileSync(path.join(dir, `${name}.serial`), serial + '\n');
  const conf = path.join(dir, `${name}.cnf`);
  writeFileSync(conf, [
    '[ca]', 'default_ca=d', '[d]', `database=${db}`, `new_certs_dir=${dir}`, `serial=${path.join(dir, `${name}.serial`)}`,
    `default_md=${opts.digest ?? 'sha256'}`, 'policy=p', 'copy_extensions=none', '[p]', 'commonName=supplied', '',
  ].join('\n'));
  openssl(['ca', '-batch', '-notext', '-config', conf, '-cert', caCert, '-keyfile', caKey, '-in', `${name}.csr`,
    '-startdate', asn1Time(notBefore), '-enddate', asn1Time(notAfter), '-extfile', ext, '-out', `${name}.pem`], dir);
  const cert = path.join(dir, `${name}.pem`);
  const fullchain = path.join(dir, `${name}.fullchain.pem`);
  writeFileSync(fullchain, readFileSync(cert, 'utf8') + (opts.signedByRoot ? '' : readFileSync(pki.intCert, 'utf8')));
  return { cert, key: path.join(dir, `${name}.key`), fullchain, serial };
}
