/**
 * TLS policy and certificate handling for the native-TLS mode.
 *
 * Policy: Mozilla Server Side TLS 6.0 "intermediate" (mozilla/ssl-config-generator,
 * src/static/guidelines/6.0.json): TLS 1.2 and 1.3 only; on 1.2 only ECDHE key exchange with
 * AEAD ciphers (forward secrecy, which iOS ATS and so WeChat on iPhone require); TLS 1.3
 * suites are OpenSSL's defaults. Node's own default cipher list still accepts static-RSA
 * suites such as AES128-GCM-SHA256, so `ciphers` is always passed explicitly.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, watch, watchFile, unwatchFile, type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { CertificateError } from './errors';

/** TLS 1.2 suites of Mozilla "intermediate" 6.0, in its order (OpenSSL names). */
export const MOZILLA_INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const TLS_MIN_VERSION = 'TLSv1.2' as const;
export const TLS_MAX_VERSION = 'TLSv1.3' as const;

/** True when the linked OpenSSL (≥ 3.5) has the X25519MLKEM768 hybrid group. */
export function opensslHasMlkem(version = process.versions.openssl ?? ''): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return !!m && (Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 5));
}

/**
 * Key-exchange groups, Mozilla's order. The post-quantum hybrid X25519MLKEM768 is listed
 * only when the OpenSSL Node links has it (3.5+; Node 20 ships 3.0), since OpenSSL rejects
 * unknown group names.
 */
export const TLS_CURVES = (opensslHasMlkem() ? 'X25519MLKEM768:' : '') + 'X25519:prime256v1:secp384r1';

/** The policy as Node TLS options: spread into https.createServer / tls.createSecureContext. */
export const TLS_POLICY = Object.freeze({
  minVersion: TLS_MIN_VERSION,
  maxVersion: TLS_MAX_VERSION,
  ciphers: MOZILLA_INTERMEDIATE_CIPHERS,
  ecdhCurve: TLS_CURVES,
  // Mozilla: no server preference, so clients without AES hardware can choose ChaCha20.
  honorCipherOrder: false,
} satisfies tls.SecureContextOptions);

/** HSTS value Mozilla recommends (2 years). Sent on static responses in TLS mode. */
export const HSTS_HEADER = 'max-age=63072000';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface CertificateInfo {
  /** Leaf serial number, upper-case hex as openssl prints it. */
  serial: string;
  subject: string;
  issuer: string;
  /** DNS names and IP addresses from subjectAltName. */
  names: string[];
  validFrom: string;
  validTo: string;
  /** Certificates in the file: leaf plus intermediates. */
  chainLength: number;
  /** Subject equals issuer (self-signed leaf). */
  selfSigned: boolean;
  fingerprint256: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Parses the leaf (first certificate) and counts the chain. Throws CertificateError. */
export function describeCertificate(certPem: string): CertificateInfo {
  const blocks = certPem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new CertificateError('no PEM certificate found (expected -----BEGIN CERTIFICATE-----)');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(blocks[0]!);
  } catch (err) {
    throw new CertificateError(`cannot parse certificate: ${(err as Error).message}`, { cause: err });
  }
  const names = (leaf.subjectAltName ?? '')
    .split(', ')
    .map((s) => s.replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
  return {
    serial: leaf.serialNumber.toUpperCase(),
    subject: leaf.subject.replace(/\n/g, ', '),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    names,
    validFrom: new Date(leaf.validFrom).toISOString(),
    validTo: new Date(leaf.validTo).toISOString(),
    chainLength: blocks.length,
    selfSigned: leaf.subject === leaf.issuer,
    fingerprint256: leaf.fingerprint256,
  };
}

/** Warnings worth logging about a certificate we are about to serve. */
export function certificateWarnings(info: CertificateInfo, now = Date.now()): string[] {
  const out: string[] = [];
  const to = Date.parse(info.validTo);
  if (to < now) out.push(`certificate expired on ${info.validTo}`);
  else if (to - now < 14 * 86_400_000) out.push(`certificate expires soon (${info.validTo})`);
  if (Date.parse(info.validFrom) > now) out.push(`certificate not valid before ${info.validFrom}`);
  if (info.chainLength === 1 && !info.selfSigned) {
    out.push('certificate file holds the leaf only: phones (WeChat) fail without the intermediates; use fullchain.pem');
  }
  return out;
}

/** True when certificate name `pattern` (a SAN entry, maybe `*.example.com`) covers `name`. */
export function nameCovers(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const n = name.toLowerCase();
  if (p === n) return true;
  // A wildcard covers exactly one left-most label (RFC 6125 §6.4.3), never an IP address.
  if (!p.startsWith('*.') || n.startsWith('*.') || !n.includes('.')) return false;
  const dot = n.indexOf('.');
  return dot > 0 && n.slice(dot + 1) === p.slice(2);
}

/**
 * Why `next` must not replace the certificate being served (`current`), or [] when it may:
 * expired, not valid yet, or a name the current one covers that the new one does not (a
 * certificate for another site would break every client on the old names).
 */
export function replacementProblems(current: CertificateInfo | undefined, next: CertificateInfo, now = Date.now()): string[] {
  const out: string[] = [];
  if (Date.parse(next.validTo) < now) out.push(`new certificate expired on ${next.validTo}`);
  if (Date.parse(next.validFrom) > now) out.push(`new certificate is not valid before ${next.validFrom}`);
  if (current) {
    const lost = current.names.filter((n) => !next.names.some((p) => nameCovers(p, n)));
    if (lost.length > 0) out.push(`new certificate does not cover ${lost.join(', ')} (it names ${next.names.join(', ') || 'nothing'})`);
  }
  return out;
}

/**
 * Builds a secure context with the policy from PEM text; this is also the validation step
 * (a key that does not match the certificate fails here with "key values mismatch").
 */
export function createPolicyContext(pair: KeyPair): tls.SecureContext {
  try {
    return tls.createSecureContext({ ...TLS_POLICY, cert: pair.cert, key: pair.key });
  } catch (err) {
    throw new CertificateError(`certificate and key rejected: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads a PEM pair from files. Throws CertificateError naming the file. */
export function readKeyPair(certFile: string, keyFile: string): KeyPair {
  const read = (f: string, what: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (err) {
      throw new CertificateError(`cannot read ${what} ${f}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  };
  const cert = read(certFile, 'certificate');
  const key = read(keyFile, 'key');
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new CertificateError(`cannot parse key ${keyFile}: ${(err as Error).message}`, { cause: err });
  }
  return { cert, key };
}

/** After the watched directory went away: how often to look for its replacement (ms). */
const REARM_MS = 50;

/** The files' names grouped by their (absolute) directory. */
function filesByDir(files: readonly string[]): Map<string, Set<string>> {
  const byDir = new Map<string, Set<string>>();
  for (const f of files) {
    const abs = path.resolve(f);
    const dir = path.dirname(abs);
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(path.basename(abs));
  }
  return byDir;
}

/** True for a path through a symbolic link; false for a missing file (its directory's watch sees it appear). */
function isSymlinked(f: string): boolean {
  try {
    return path.resolve(f) !== realpathSync(f);
  } catch {
    return false;
  }
}

/**
 * Calls `onChange` (debounced) when either file changes: written in place, replaced by a
 * rename (editors, `mv`), a symlink retargeted (certbot's live/ → archive/), or the whole
 * directory removed and created again (a deploy that swaps the directory). Watches the
 * parent directories with fs.watch, falling back to stat polling where fs.watch fails (e.g.
 * inotify limits). Returns a function that stops watching.
 *
 * An fs.watch on a directory dies silently with that directory (inotify drops the watch),
 * so each directory is also stat-polled every `dirPollMs`: when it changes, the watch is
 * re-armed on whatever directory is there now and the files are reloaded.
 */
export function watchKeyPair(
  files: readonly string[],
  onChange: () => void,
  { debounceMs = 300, pollMs = 5_000, dirPollMs = 1_000 }: { debounceMs?: number; pollMs?: number; dirPollMs?: number } = {},
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const fire = () => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  const watchers = new Map<string, FSWatcher>();
  const polled = new Set<string>();
  const byDir = filesByDir(files);
  const poll = (f: string) => {
    if (polled.has(f)) return;
    polled.add(f);
    watchFile(f, { interval: pollMs, persistent: false }, fire);
  };
  // The watched directory itself was removed or renamed (inotify names it in the event): re-arm
  // on whatever directory is there once one is. The stat poll below does the same, except when
  // the replacement has the same inode and timestamps within one clock tick of the old one:
  // identical stats, no change seen (it happened on Node 24 about once in 40 swaps).
  const rearmSoon = (dir: string, names: Set<string>) => {
    const t = setTimeout(() => {
      if (stopped) return;
      if (!existsSync(dir)) return rearmSoon(dir, names);
      watchDir(dir, names);
      fire();
    }, REARM_MS);
    t.unref();
  };
  const watchDir = (dir: string, names: Set<string>) => {
    watchers.get(dir)?.close();
    watchers.delete(dir);
    const self = path.basename(dir);
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        const n = name?.toString();
        if (n === undefined || names.has(n)) fire();
        else if (n === self && watchers.get(dir) === w) rearmSoon(dir, names);
      });
      w.on('error', () => {
        w.close();
        if (watchers.get(dir) === w) watchers.delete(dir);
        for (const n of names) poll(path.join(dir, n));
      });
      watchers.set(dir, w);
    } catch {
      for (const n of names) poll(path.join(dir, n));
    }
  };
  const dirListeners: Array<[string, (curr: Stats, prev: Stats) => void]> = [];
  for (const [dir, names] of byDir) {
    watchDir(dir, names);
    // Called when the directory's stat changes. ino 0: it is gone (for now). Otherwise it may
    // have been replaced, and a replacement can reuse the inode number (ext4 does), so any
    // change re-arms the watch: cheap, and the reload that follows is a no-op when the files
    // are the same.
    const onDirStat = (curr: Stats) => {
      if (curr.ino === 0) return;
      watchDir(dir, names);
      fire();
    };
    watchFile(dir, { interval: dirPollMs, persistent: false }, onDirStat);
    dirListeners.push([dir, onDirStat]);
  }
  // Symlinked files (certbot): the link's directory sees nothing when the target is
  // rewritten in place, so also poll those by stat.
  for (const f of files) if (isSymlinked(f)) poll(f);
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const w of watchers.values()) w.close();
    for (const f of polled) unwatchFile(f, fire);
    for (const [dir, l] of dirListeners) unwatchFile(dir, l);
  };
}
