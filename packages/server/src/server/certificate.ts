/**
 * The certificate being served (TLS mode): loaded and validated at start, reloaded on demand
 * (API, SIGHUP) or when its files change. A bad new pair is refused and the old one kept.
 */
import { CertificateError } from '../common/errors';
import type { Logger } from '../common/log';
import {
  TLS_POLICY,
  certificateWarnings,
  createPolicyContext,
  describeCertificate,
  readKeyPair,
  replacementProblems,
  watchKeyPair,
  type CertificateInfo,
  type KeyPair,
} from '../common/tls';
import type { TlsOptions } from './options';

/** Where a reloaded pair goes: the https server. */
export interface SecureContextTarget {
  setSecureContext(options: object): void;
}

export class Certificate {
  /** The pair being served. */
  pair: KeyPair;
  info: CertificateInfo;
  private readonly files: { cert: string; key: string } | undefined;
  private target: SecureContextTarget | undefined;
  private stopWatching: (() => void) | undefined;

  /** Reads and validates the pair; throws CertificateError (and fs errors) like createServer. */
  constructor(tls: TlsOptions, private readonly log: Logger) {
    this.files = 'certFile' in tls && tls.certFile ? { cert: tls.certFile, key: tls.keyFile! } : undefined;
    this.pair = this.files
      ? readKeyPair(this.files.cert, this.files.key)
      : { cert: tls.cert!.toString(), key: tls.key!.toString() };
    createPolicyContext(this.pair); // validates: throws CertificateError on mismatch
    this.info = describeCertificate(this.pair.cert);
  }

  /** Reloads go to `target` from now on. */
  serveOn(target: SecureContextTarget): void {
    this.target = target;
  }

  /** Logs the served certificate and any warnings (expiry…). */
  announce(): void {
    const info = this.info;
    this.log.info('certificate', {
      serial: info.serial,
      subject: info.subject,
      names: info.names,
      validTo: info.validTo,
      chainLength: info.chainLength,
    });
    for (const w of certificateWarnings(info)) this.log.warn('certificate', { serial: info.serial, msg: w });
  }

  /** Watches the files (if any) and reloads when they change. */
  watch(): void {
    if (!this.files || this.stopWatching) return;
    this.stopWatching = watchKeyPair([this.files.cert, this.files.key], () => this.reload('file change'));
  }

  unwatch(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
  }

  /** See WssMpServer.reloadCertificate. */
  reload(trigger: string, { force = false }: { force?: boolean } = {}): boolean {
    if (!this.files || !this.target) {
      this.log.warn('reload', { ok: false, trigger, error: 'no certificate files to reload (TLS off or PEM given inline)' });
      return false;
    }
    let next: KeyPair;
    let info: CertificateInfo;
    try {
      next = readKeyPair(this.files.cert, this.files.key);
      if (trigger === 'file change' && next.cert === this.pair.cert && next.key === this.pair.key) return true;
      createPolicyContext(next);
      info = describeCertificate(next.cert);
      // A pair that matches its key can still be wrong to serve: expired, early, or for
      // other names. Refused unless forced (SIGUSR2 from the CLI), which is logged.
      const problems = replacementProblems(this.info, info);
      if (problems.length > 0 && !force) {
        throw new CertificateError(`${problems.join('; ')} (force with SIGUSR2 or reloadCertificate(trigger, { force: true }))`);
      }
      if (problems.length > 0) {
        this.log.warn('reload', { forced: true, trigger, serial: info.serial, problems, msg: 'serving a certificate that failed validation, as forced' });
      }
      // setSecureContext resets every TLS option it is not given: pass the whole policy.
      this.target.setSecureContext({ ...TLS_POLICY, cert: next.cert, key: next.key });
    } catch (err) {
      this.log.error('reload', {
        ok: false,
        trigger,
        error: err,
        kept: this.info.serial,
        msg: 'new certificate rejected; still serving the previous one',
      });
      return false;
    }
    this.pair = next;
    this.info = info;
    this.log.info('reload', { ok: true, trigger, serial: info.serial, names: info.names, validTo: info.validTo });
    for (const w of certificateWarnings(info)) this.log.warn('certificate', { serial: info.serial, msg: w });
    return true;
  }
}

/** The reload answer when TLS is off. */
export function reloadWithoutTls(log: Logger, trigger: string): false {
  log.warn('reload', { ok: false, trigger, error: 'no certificate files to reload (TLS off or PEM given inline)' });
  return false;
}
