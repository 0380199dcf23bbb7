/**
 * One TLS handshake with chosen versions and suites, reporting what was negotiated. Probes never
 * reject an untrusted certificate (`rejectUnauthorized: false`): trust is judged afterwards from
 * `authorized` / `authorizationError`, so a bad chain cannot hide the other findings.
 */
import { connect, type PeerCertificate, type DetailedPeerCertificate, type SecureVersion } from 'node:tls';
import { isIP } from 'node:net';

/** iOS ATS's accepted TLS 1.2 suites (Apple, "Requirements for Connecting Using ATS"), OpenSSL names. */
export const ATS_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-SHA384',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-RSA-AES256-SHA',
  'ECDHE-RSA-AES128-SHA',
].join(':');

/** Static-RSA key exchange (no forward secrecy), the suites Node's and nginx's defaults still accept. */
export const STATIC_RSA_CIPHERS = [
  'AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-SHA256',
  'AES256-SHA256',
  'AES128-SHA',
  'AES256-SHA',
].join(':');

/** OpenSSL 3 will not even offer TLS 1.0/1.1 (SHA-1 handshake signatures) above security level 0. */
export const LEGACY_CIPHERS = 'DEFAULT:@SECLEVEL=0';

export interface ProbeSpec {
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
  alpn?: string[];
}

export interface ProbeEndpoint {
  /** Name for SNI (omitted when it is an IP address). */
  host: string;
  /** Where the TCP connection goes. */
  address: string;
  port: number;
  ca?: Array<string | Buffer>;
  timeoutMs: number;
}

export interface TlsProbe {
  ok: boolean;
  /** Node/OpenSSL error code when the handshake failed, e.g. ERR_SSL_UNSUPPORTED_PROTOCOL. */
  errorCode?: string;
  errorMessage?: string;
  protocol?: string;
  cipher?: { name: string; standardName: string };
  /** Key exchange group, e.g. `ECDH X25519`; empty for static RSA. */
  ephemeral?: string;
  alpn?: string | false;
  authorized?: boolean;
  authorizationError?: string;
  /** Leaf with issuer links (Node adds the trust-store root when it finds it). */
  peer?: DetailedPeerCertificate;
  ms: number;
}

export function probeTls(ep: ProbeEndpoint, spec: ProbeSpec = {}): Promise<TlsProbe> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: Omit<TlsProbe, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...r, ms: Math.round(performance.now() - t0) });
    };
    const socket = connect({
      host: ep.address,
      port: ep.port,
      servername: isIP(ep.host) ? undefined : ep.host,
      rejectUnauthorized: false,
      // Hostname is its own check; keep it out of authorizationError.
      checkServerIdentity: () => undefined,
      ca: ep.ca,
      minVersion: spec.minVersion,
      maxVersion: spec.maxVersion,
      ciphers: spec.ciphers,
      ALPNProtocols: spec.alpn,
    });
    const timer = setTimeout(
      () => finish({ ok: false, errorCode: 'ETIMEDOUT', errorMessage: `no TLS handshake within ${ep.timeoutMs} ms` }),
      ep.timeoutMs,
    );
    socket.once('secureConnect', () => {
      const c = socket.getCipher();
      const e = socket.getEphemeralKeyInfo() as { type?: string; name?: string; size?: number } | null;
      finish({
        ok: true,
        protocol: socket.getProtocol() ?? undefined,
        cipher: { name: c.name, standardName: c.standardName },
        ephemeral: e && e.type ? [e.type, e.name ?? `${e.size} bits`].join(' ') : '',
        alpn: socket.alpnProtocol ?? false,
        authorized: socket.authorized,
        authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
        peer: socket.getPeerCertificate(true),
      });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      finish({ ok: false, errorCode: err.code ?? 'ERROR', errorMessage: tidyOpenSslMessage(err.message) });
    });
    socket.once('close', () => finish({ ok: false, errorCode: 'ECONNRESET', errorMessage: 'closed before the handshake finished' }));
  });
}

/** `80..:error:0A000102:SSL routines:ssl_choose_client_version:unsupported protocol:../deps/…` → `unsupported protocol`. */
export function tidyOpenSslMessage(msg: string): string {
  const m = /SSL routines:[^:]*:([^:]+):/.exec(msg);
  return (m ? m[1]! : msg).trim();
}

/** The chain Node reports, leaf first, stopping at a self-issued certificate or a loop. */
export function walkChain(peer: DetailedPeerCertificate | PeerCertificate | undefined): DetailedPeerCertificate[] {
  const out: DetailedPeerCertificate[] = [];
  const seen = new Set<string>();
  let c = peer as DetailedPeerCertificate | undefined;
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(c);
    c = c.issuerCertificate;
  }
  return out;
}
