/**
 * Readiness: /readyz answers 200 only while every check passes. The server adds its own
 * (listening, not draining, certificate loaded); a broker that can be unreachable (Redis)
 * implements HealthReporter and is checked too. A check that throws, rejects or does not
 * answer within CHECK_TIMEOUT_MS counts as failing: a probe must answer, not hang.
 */
export interface HealthReporter {
  /** True while this part can do its job (a broker: connected and answering). */
  healthy(): boolean | Promise<boolean>;
}

export interface ReadyCheck {
  name: string;
  check(): boolean | Promise<boolean>;
}

export const CHECK_TIMEOUT_MS = 2_000;

/** True when `x` implements HealthReporter (a broker is checked only then). */
export function isHealthReporter(x: unknown): x is HealthReporter {
  return x !== null && typeof x === 'object' && typeof (x as HealthReporter).healthy === 'function';
}

/** Runs every check (in parallel, each bounded); resolves with each one's result. */
export async function runChecks(checks: readonly ReadyCheck[]): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
  const results = await Promise.all(checks.map((c) => bounded(c)));
  const out: Record<string, boolean> = {};
  checks.forEach((c, i) => (out[c.name] = results[i]!));
  return { ready: results.every(Boolean), checks: out };
}

function bounded(c: ReadyCheck): Promise<boolean> {
  let r: boolean | Promise<boolean>;
  try {
    r = c.check();
  } catch {
    return Promise.resolve(false);
  }
  if (typeof r === 'boolean') return Promise.resolve(r);
  return new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
    t.unref();
    Promise.resolve(r).then((v) => resolve(v === true), () => resolve(false)).finally(() => clearTimeout(t));
  });
}
