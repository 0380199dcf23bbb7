// Headless Debian `chromium` driven by playwright-core (never a downloaded browser), trusting
// a test CA the way a developer would: the CA goes into a fresh NSS database under a private
// HOME ($HOME/.pki/nssdb is where Chromium on Linux reads user trust anchors), so the browser
// really validates the server's chain and hostname against it. Needs `certutil`
// (libnss3-tools). Without it we fall back to --ignore-certificate-errors-spki-list with the
// leaf's SPKI hash, which pins that one key but skips chain validation — weaker, and said so.
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { findBinary } from './binaries';

/** Flags for a machine without internet: nothing in the background may try to phone home. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export type TrustMode = 'nss' | 'spki';

export interface TrustingBrowser {
  browser: Browser;
  /** How the CA is trusted: 'nss' (real chain validation) or 'spki' (leaf key pinned). */
  trust: TrustMode;
  close(): Promise<void>;
}

/** base64(sha256(SubjectPublicKeyInfo)) of a PEM certificate: Chromium's SPKI-list format. */
export function spkiHash(certPem: string | Buffer): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/**
 * Launches `executablePath` headless. `caCert` is the CA to trust; `leafCert` is only used by
 * the SPKI fallback. `WSS_MP_BROWSER_TRUST=spki` forces the fallback (to test it).
 */
export async function launchTrustingChromium(opts: {
  executablePath: string;
  caCert: string;
  leafCert: string;
}): Promise<TrustingBrowser> {
  const home = mkdtempSync(path.join(tmpdir(), 'wss-mp-chromium-home-'));
  const certutil = findBinary('certutil');
  const trust: TrustMode = certutil && process.env.WSS_MP_BROWSER_TRUST !== 'spki' ? 'nss' : 'spki';
  const args = [...CHROMIUM_ARGS];
  if (trust === 'nss') {
    const db = path.join(home, '.pki', 'nssdb');
    mkdirSync(db, { recursive: true });
    execFileSync(certutil!, ['-d', `sql:${db}`, '-N', '--empty-password']);
    // "C,," = trusted CA for issuing server certificates.
    execFileSync(certutil!, ['-d', `sql:${db}`, '-A', '-n', 'wss-mp dev CA (test)', '-t', 'C,,', '-i', opts.caCert]);
  } else {
    console.warn(`!!! chromium: ${certutil ? 'WSS_MP_BROWSER_TRUST=spki' : 'certutil not found (apt-get install libnss3-tools)'}; ` +
      'pinning the server key by SPKI hash instead of trusting the CA (no chain validation)');
    args.push(`--ignore-certificate-errors-spki-list=${spkiHash(readFileSync(opts.leafCert))}`);
  }
  // playwright-core gives every launch a fresh temporary --user-data-dir.
  const browser = await chromium.launch({
    executablePath: opts.executablePath,
    headless: true,
    args,
    env: { ...process.env, HOME: home },
    timeout: 30_000,
  });
  return {
    browser,
    trust,
    async close() {
      await browser.close().catch(() => {});
      rmSync(home, { recursive: true, force: true });
    },
  };
}
