/**
 * `runDoctor(url, options)`: runs every probe against one wss URL and returns the report.
 * Order: URL → DNS → TCP → TLS probes (in parallel) → certificate → upgrade → echo → reminders.
 * A step that cannot run because an earlier one failed is reported as SKIP with the reason.
 */
import { isIP } from 'node:net';
import { OptionError } from '../common/errors';
import { DOCTOR_DEFAULTS, type CheckId, type CheckStatus, type DoctorCheck, type DoctorOptions, type DoctorReport } from './types';
import { parseTarget, scrub, type Target } from './target';
import { resolveHost, probeTcp } from './net-probe';
import { probeTls, ATS_CIPHERS, STATIC_RSA_CIPHERS, LEGACY_CIPHERS, type ProbeEndpoint, type TlsProbe } from './tls-probe';
import { probeWebSocket } from './ws-probe';
import { checkScheme, checkHost, checkPort, checkDns, checkTcp } from './checks-target';
import {
  checkTls12,
  checkTls13,
  checkLegacy,
  checkForwardSecrecy,
  checkStaticRsa,
  checkAlpn,
  type TlsProbes,
} from './checks-tls';
import { checkChain, checkHostname, checkValidity, checkKey, checkSignature, type CertContext } from './checks-cert';
import { checkUpgrade, checkEcho } from './checks-ws';
import { reminders } from './reminders';
import { loadCa } from './ca';

const TLS_IDS: CheckId[] = ['tls1.2', 'tls1.3', 'legacy-tls', 'ats-forward-secrecy', 'static-rsa', 'alpn'];
const CERT_IDS: CheckId[] = ['chain', 'hostname', 'validity', 'key', 'signature'];
const WS_IDS: CheckId[] = ['upgrade', 'echo'];

/** The whole run's deadline, in network steps of `timeoutMs` (DNS, TCP, TLS, upgrade + echo). */
export const RUN_BUDGET_STEPS = 4;

const skip = (ids: CheckId[], summary: string): DoctorCheck[] => ids.map((id) => ({ id, status: 'SKIP', summary }));

export async function runDoctor(url: string, options: DoctorOptions = {}): Promise<DoctorReport> {
  const startedAt = new Date();
  const t0 = performance.now();
  const target = parseTarget(url);
  const o = resolveRunOptions(options, t0);

  const checks: DoctorCheck[] = [checkScheme(target), checkHost(target), checkPort(target)];
  let address: string | null = null;
  const finish = (): DoctorReport => {
    checks.push(...reminders(target.host));
    return buildReport(target, address, options.connectTo !== undefined, checks, startedAt, t0);
  };
  const rest: CheckId[] = ['tcp', ...(target.secure ? [...TLS_IDS, ...CERT_IDS] : []), ...WS_IDS];

  address = await dnsStep(target, options.connectTo, o.stepMs(), checks);
  if (address === null) {
    checks.push(...skip(rest, 'needs DNS (see dns)'));
    return finish();
  }

  // TCP.
  const tcp = await probeTcp(address, target.port, o.stepMs());
  checks.push(checkTcp(address, target.port, tcp));
  if (!tcp.ok) {
    checks.push(...skip(rest.slice(1), 'needs a TCP connection (see tcp)'));
    return finish();
  }

  // TLS and certificate. `trusted` decides whether the URL's query (often a token) may be sent.
  let trusted = !target.secure;
  if (target.secure) {
    const tls = await tlsSteps(target, address, o, checks);
    if (!tls.usable) {
      checks.push(...skip(WS_IDS, 'needs a TLS 1.2+ handshake (see tls1.2)'));
      return finish();
    }
    trusted = tls.trusted;
  }

  await wsSteps(target, address, o, trusted, checks);
  return finish();
}

/** Options after defaults and checks (throws OptionError naming the option). */
interface RunOptions {
  timeoutMs: number;
  expiryWarnDays: number;
  payload: string;
  ca: ReturnType<typeof loadCa>['ca'];
  extraRoots: ReturnType<typeof loadCa>['extraRoots'];
  now: () => Date;
  /** A network step's time: timeoutMs, or what is left of the whole run's budget if less.
   * Each step's own timer runs from the step's start, whatever the server trickles. */
  stepMs(): number;
  /** performance.now() at which the whole run must end (RUN_BUDGET_STEPS × timeoutMs). */
  deadline: number;
}

function resolveRunOptions(options: DoctorOptions, t0: number): RunOptions {
  const timeoutMs = options.timeoutMs ?? DOCTOR_DEFAULTS.timeoutMs;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new OptionError('timeoutMs', 'a positive number of milliseconds', timeoutMs);
  const expiryWarnDays = options.expiryWarnDays ?? DOCTOR_DEFAULTS.expiryWarnDays;
  const payload = options.echo ?? DOCTOR_DEFAULTS.echo;
  if (typeof payload !== 'string' || payload.length === 0) throw new OptionError('echo', 'a non-empty string', payload);
  if (options.connectTo !== undefined && !isIP(options.connectTo)) {
    throw new OptionError('connectTo', 'an IP address', options.connectTo);
  }
  const { ca, extraRoots } = loadCa(options.ca, 'ca');
  const now = options.now ?? (() => new Date());
  const deadline = t0 + RUN_BUDGET_STEPS * timeoutMs;
  const stepMs = () => Math.max(1, Math.min(timeoutMs, Math.floor(deadline - performance.now())));
  return { timeoutMs, expiryWarnDays, payload, ca, extraRoots, now, stepMs, deadline };
}

/** DNS (or the --resolve pin): the address to connect to, or null when DNS failed (reported). */
async function dnsStep(target: Target, connectTo: string | undefined, timeoutMs: number, checks: DoctorCheck[]): Promise<string | null> {
  if (connectTo) {
    checks.push(checkDns(target, null, connectTo));
    return connectTo;
  }
  if (isIP(target.host)) return target.host;
  const dns = await resolveHost(target.host, timeoutMs);
  checks.push(checkDns(target, dns, null));
  return dns.ok ? dns.addresses[0]! : null;
}

/** The seven TLS probes and the certificate checks. `usable`: a TLS 1.2+ handshake worked. */
async function tlsSteps(target: Target, address: string, o: RunOptions, checks: DoctorCheck[]): Promise<{ usable: boolean; trusted: boolean }> {
  const ep: ProbeEndpoint = { host: target.host, address, port: target.port, ca: o.ca, timeoutMs: o.stepMs() };
  const [tls12, tls13, tls10, tls11, ats, staticRsa, main] = await Promise.all([
    // No ALPN here: an h2-only ALPN setup must not read as "no TLS 1.2" (the alpn check uses main).
    probeTls(ep, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }),
    probeTls(ep, { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }),
    probeTls(ep, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: LEGACY_CIPHERS }),
    probeTls(ep, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: LEGACY_CIPHERS }),
    probeTls(ep, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: ATS_CIPHERS }),
    probeTls(ep, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: STATIC_RSA_CIPHERS }),
    probeTls(ep, { minVersion: 'TLSv1.2', alpn: ['http/1.1'] }),
  ]);
  const p: TlsProbes = { tls12, tls13, tls10, tls11, ats, staticRsa, main };
  checks.push(checkTls12(p), checkTls13(p), checkLegacy(p), checkForwardSecrecy(p), checkStaticRsa(p), checkAlpn(p));

  let trusted = false;
  // Certificates come from the modern handshake; if only a legacy one worked, judge that one.
  const source: TlsProbe | undefined = [main, tls12, tls13, tls11, tls10].find((x) => x.ok && x.peer?.raw);
  if (source) {
    const ctx: CertContext = { probe: source, host: target.host, extraRoots: o.extraRoots, now: o.now(), expiryWarnDays: o.expiryWarnDays };
    const chain = checkChain(ctx);
    const hostname = checkHostname(ctx);
    checks.push(...chain, hostname, checkValidity(ctx), checkKey(ctx), checkSignature(ctx));
    trusted = chain[0]!.status === 'PASS' && hostname.status === 'PASS';
  } else {
    checks.push(...skip(CERT_IDS, `no TLS handshake succeeded (${main.errorCode}: ${main.errorMessage})`));
  }
  return { usable: main.ok || tls12.ok, trusted };
}

/** Upgrade and echo. */
async function wsSteps(target: Target, address: string, o: RunOptions, trusted: boolean, checks: DoctorCheck[]): Promise<void> {
  // Never hand a token to a server whose certificate did not verify: upgrade without the
  // query and without user:pass@ (which would go out as `Authorization: Basic`).
  const hasQuery = target.url.search.length > 1;
  const hasCredentials = target.url.username !== '' || target.url.password !== '';
  const withholdSecrets = !trusted && (hasQuery || hasCredentials);
  // The upgrade and the echo share what is left: half each at most.
  const wsTimeoutMs = Math.max(1, Math.min(o.timeoutMs, Math.floor((o.deadline - performance.now()) / 2)));
  const ws = await probeWebSocket(target, { address, ca: o.ca, timeoutMs: wsTimeoutMs, payload: o.payload, withholdSecrets });
  const upgrade = checkUpgrade(ws.upgrade, target.url.pathname);
  if (withholdSecrets) {
    const what = hasQuery && hasCredentials ? 'query string and credentials' : hasQuery ? 'query string' : 'credentials';
    upgrade.summary += ` (${what} not sent: the certificate is not trusted)`;
    upgrade.data = { ...upgrade.data, queryWithheld: hasQuery, credentialsWithheld: hasCredentials };
  }
  checks.push(upgrade);
  if (ws.echo) checks.push(checkEcho(ws.echo, o.payload, o.timeoutMs));
  else checks.push(...skip(['echo'], 'needs the upgrade (see upgrade)'));
}

function buildReport(
  target: Target,
  address: string | null,
  resolvedByOption: boolean,
  raw: DoctorCheck[],
  startedAt: Date,
  t0: number,
): DoctorReport {
  const checks = raw.map((c) => scrubValue(c, target.secrets) as DoctorCheck);
  const counts: Record<CheckStatus, number> = { PASS: 0, WARN: 0, FAIL: 0, INFO: 0, SKIP: 0 };
  for (const c of checks) counts[c.status]++;
  return {
    schema: 1,
    url: target.display,
    target: { host: target.host, port: target.port, path: target.url.pathname, address, resolvedByOption },
    ok: counts.FAIL === 0,
    counts,
    checks,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
  };
}

/** Query values never leave the doctor, whatever a server echoes back into an error text. */
function scrubValue(v: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0) return v;
  if (typeof v === 'string') return scrub(v, secrets);
  if (Array.isArray(v)) return v.map((x) => scrubValue(x, secrets));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubValue(x, secrets)]));
  }
  return v;
}
