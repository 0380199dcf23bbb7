/**
 * The development certificate behind `--dev-cert` (and `npm start`): a local CA and a
 * `localhost` certificate it signs, created once outside the repository and reused while
 * valid. Trust `ca.pem` once (browser, NODE_EXTRA_CA_CERTS) and every later certificate it
 * issues is trusted too. Built with node:crypto and a small DER writer: no dependency, no
 * openssl binary needed.
 *
 * The CA carries X.509 name constraints (localhost, 127.0.0.0/8, ::1), so even a leaked
 * `ca-key.pem` cannot vouch for a real site in clients that honour them (OpenSSL, Chromium,
 * Apple, Windows).
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import path from 'node:path';
import { WssMpServerError } from '../../common/errors';
import { buildCertificate } from './x509';

export const DEV_CERT_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;
const DAY = 86_400_000;
/** Under the 825 days Apple accepts for certificates from user-trusted roots, and 398 for browsers. */
export const DEV_LEAF_DAYS = 397;
export const DEV_CA_DAYS = 3650;
/** Re-issue when fewer days than this remain. */
export const DEV_RENEW_DAYS = 30;

export interface DevCertPaths {
  dir: string;
  /** The CA certificate to trust. */
  caFile: string;
  /** Leaf + CA (PEM), what the server serves. */
  certFile: string;
  keyFile: string;
  /** What this call had to create. */
  created: 'nothing' | 'certificate' | 'ca and certificate';
}

/** `$WSS_MP_DEV_CERT_DIR`, else `~/.wss-mp/dev-cert`. */
export function defaultDevCertDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.WSS_MP_DEV_CERT_DIR || path.join(homedir(), '.wss-mp', 'dev-cert');
}

function readIf(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function loadCa(dir: string, now: number): { cert: X509Certificate; pem: string; key: KeyObject } | undefined {
  const pem = readIf(path.join(dir, 'ca.pem'));
  const keyPem = readIf(path.join(dir, 'ca-key.pem'));
  if (!pem || !keyPem) return undefined;
  try {
    const cert = new X509Certificate(pem);
    const key = createPrivateKey(keyPem);
    if (!cert.ca || !cert.subject.includes('O=wss-mp development CA')) return undefined;
    if (!cert.checkPrivateKey(key) || !cert.verify(cert.publicKey)) return undefined;
    if (Date.parse(cert.validTo) - now < DEV_RENEW_DAYS * DAY || Date.parse(cert.validFrom) > now) return undefined;
    return { cert, pem, key };
  } catch {
    return undefined;
  }
}

function leafIsGood(dir: string, ca: X509Certificate, now: number): boolean {
  const pem = readIf(path.join(dir, 'cert.pem'));
  const keyPem = readIf(path.join(dir, 'key.pem'));
  if (!pem || !keyPem) return false;
  try {
    const leaf = new X509Certificate(pem);
    return (
      leaf.verify(ca.publicKey) &&
      leaf.checkPrivateKey(createPrivateKey(keyPem)) &&
      leaf.checkHost('localhost') !== undefined &&
      leaf.checkIP('127.0.0.1') !== undefined &&
      leaf.checkIP('::1') !== undefined &&
      Date.parse(leaf.validFrom) <= now &&
      Date.parse(leaf.validTo) - now >= DEV_RENEW_DAYS * DAY
    );
  } catch {
    return false;
  }
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, data, { mode });
  await fsp.rename(tmp, file);
}

/** Cross-process lock (two servers starting at once must not mint two CAs). */
async function withLock<R>(dir: string, fn: () => Promise<R>): Promise<R> {
  const lock = path.join(dir, '.lock');
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await fsp.mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await fsp.stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 30_000) await fsp.rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`${lock} is held by another process; remove it if none is running`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lock, { recursive: true, force: true });
  }
}

function who(): string {
  let user = 'user';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry (containers) */
  }
  return `${user}@${hostname()}`;
}

/** Creates (or reuses) the development CA and localhost certificate in `dir`. */
export async function ensureDevCert(dir = defaultDevCertDir(), now = Date.now()): Promise<DevCertPaths> {
  const paths = {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    certFile: path.join(dir, 'cert.pem'),
    keyFile: path.join(dir, 'key.pem'),
  };
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    return await withLock(dir, async () => {
      let created: DevCertPaths['created'] = 'nothing';
      let ca = loadCa(dir, now);
      if (!ca) {
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const name = { organization: 'wss-mp development CA', commonName: `wss-mp dev CA ${who()}` };
        const pem = buildCertificate({
          subject: name,
          issuer: name,
          publicKey,
          signingKey: privateKey,
          issuerPublicKey: publicKey,
          notBefore: new Date(now - DAY),
          notAfter: new Date(now + DEV_CA_DAYS * DAY),
          ca: { permittedDns: ['localhost'], permittedIpCidrs: [['127.0.0.0', 8], ['::1', 128]] },
        });
        await writeAtomic(path.join(dir, 'ca-key.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
        await writeAtomic(paths.caFile, pem, 0o644);
        ca = { cert: new X509Certificate(pem), pem, key: privateKey };
        created = 'ca and certificate';
      }
      if (created !== 'nothing' || !leafIsGood(dir, ca.cert, now)) {
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        const leaf = buildCertificate({
          subject: { organization: 'wss-mp development certificate', organizationalUnit: who(), commonName: 'localhost' },
          issuer: { organization: 'wss-mp development CA', commonName: ca.cert.subject.split('\n').find((l) => l.startsWith('CN='))!.slice(3) },
          publicKey,
          signingKey: ca.key,
          issuerPublicKey: createPublicKey(ca.key),
          notBefore: new Date(now - DAY),
          notAfter: new Date(now + DEV_LEAF_DAYS * DAY),
          serverNames: [...DEV_CERT_HOSTS],
        });
        await writeAtomic(paths.keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
        // Leaf then CA: the file is a full chain like a real fullchain.pem.
        await writeAtomic(paths.certFile, leaf + ca.pem, 0o644);
        if (created === 'nothing') created = 'certificate';
      }
      return { ...paths, created };
    });
  } catch (err) {
    if (err instanceof WssMpServerError) throw err;
    throw new WssMpServerError('ERR_DEV_CERT', `cannot create the development certificate in ${dir}: ${(err as Error).message}`, { cause: err });
  }
}
