// A test that needs a binary we do not have fails under CI=true (CI must install it) and
// skips loudly elsewhere, so a developer machine without nginx still runs the rest.
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

/** Absolute path of `name` on PATH (plus the sbin dirs Debian uses for daemons), or null. */
export function findBinary(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin:/usr/local/sbin` },
  });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : null;
}

/**
 * Returns the binary's path, or: throws under CI, or skips the test with a loud message.
 * Usage: `const nginx = requireBinary(t, 'nginx'); if (!nginx) return;`
 */
export function requireBinary(t: TestContext, name: string): string | null {
  const p = findBinary(name);
  if (p) return p;
  const msg = `missing binary "${name}" (apt-get install it; .ci/run does)`;
  if (IN_CI) throw new Error(msg);
  console.warn(`\n!!! SKIPPED: ${t.name}: ${msg}\n`);
  t.skip(msg);
  return null;
}
