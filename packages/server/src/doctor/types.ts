/**
 * The doctor's data model: what a check result and a report look like. `--json` prints a
 * `DoctorReport` as is, so everything here is plain JSON (no Buffers, no Dates).
 */
import { PING_FRAME } from '@wss-mp/protocol';

/**
 * - `PASS` meets WeChat's rules; `WARN` works today but is fragile or weak; `FAIL` a mini
 *   program will not connect (or iOS will refuse it); `INFO` context or a reminder;
 * - `SKIP` could not run because an earlier check failed (the reason says which).
 */
export type CheckStatus = 'PASS' | 'WARN' | 'FAIL' | 'INFO' | 'SKIP';

/**
 * Stable check ids, in report order: scripts may match on these. Documented in the package
 * docs/troubleshooting.md (a test keeps it in sync with this list).
 */
export const CHECK_IDS = [
  'scheme',
  'host',
  'port',
  'dns',
  'tcp',
  'tls1.2',
  'tls1.3',
  'legacy-tls',
  'ats-forward-secrecy',
  'static-rsa',
  'alpn',
  'chain',
  'trust-anchor',
  'hostname',
  'validity',
  'key',
  'signature',
  'upgrade',
  'echo',
  'remind-domain-list',
  'remind-icp',
  'remind-root-store',
  'remind-devtools',
  'remind-idle-timeout',
] as const;

export type CheckId = (typeof CHECK_IDS)[number];

export interface DoctorCheck {
  id: CheckId;
  status: CheckStatus;
  /** One line: what was found (an error code, a cipher, a status line). */
  summary: string;
  /** One line: what to do about it. Present on every WARN and FAIL and on reminders. */
  fix?: string;
  /** Measured facts behind the verdict (cipher names, days left, latency, …). */
  data?: Record<string, unknown>;
}

export interface DoctorReport {
  /** Bumped on any incompatible change to this shape. */
  schema: 1;
  /** The URL checked, with query values and credentials replaced by `***`. */
  url: string;
  target: {
    host: string;
    port: number;
    path: string;
    /** The IP address every probe connected to (from DNS, `--resolve`, or the URL itself). */
    address: string | null;
    /** True when `--resolve` / `connectTo` chose the address instead of DNS. */
    resolvedByOption: boolean;
  };
  /** False when any check is FAIL; the CLI then exits 1. */
  ok: boolean;
  counts: Record<CheckStatus, number>;
  checks: DoctorCheck[];
  startedAt: string;
  durationMs: number;
}

export interface DoctorOptions {
  /**
   * Extra trusted root certificates (PEM text or Buffers), added to Node's bundled roots, e.g.
   * the root of a test PKI. A chain anchored here passes `chain` but gets an INFO
   * `trust-anchor` line: phones only trust public roots.
   */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Connect to this IP address instead of resolving the URL's host (curl `--resolve`). The TLS
   * SNI name, the certificate check and the HTTP Host header still use the URL's host.
   */
  connectTo?: string;
  /** Deadline for each network step (TCP, each TLS handshake, upgrade, echo), in ms. @default 10000 */
  timeoutMs?: number;
  /**
   * Text sent after the upgrade. The echo passes when the same text, or `{"type":"pong"}`, comes
   * back. @default '{"type":"ping"}' (wss-mp-server answers it with a pong; echo servers echo it)
   */
  echo?: string;
  /** Certificates expiring within this many days WARN. @default 14 */
  expiryWarnDays?: number;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

export const DOCTOR_DEFAULTS = {
  timeoutMs: 10_000,
  echo: PING_FRAME,
  expiryWarnDays: 14,
} as const;
