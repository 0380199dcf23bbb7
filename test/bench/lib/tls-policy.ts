// The TLS settings every TLS target in the benchmark uses. The raw https+ws baseline and the
// tls byte echo must run with exactly wss-mp-server's policy, so we take it from the server's
// own source (packages/server/src/common/tls.ts) and only fall back to the documented policy
// (docs/tls-policy.md#the-policy) — loudly, and recorded in the results — if that module
// is missing or its shape changed.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../../support/server';

export interface TlsPolicy {
  minVersion: string;
  ciphers: string;
  ecdhCurve: string;
  honorCipherOrder: boolean;
  ALPNProtocols?: string[];
  [k: string]: unknown;
}

/** Mozilla intermediate 6.0 on OpenSSL 3.0, as docs/tls-policy.md#the-policy spells it. */
export const DOCUMENTED_POLICY: TlsPolicy = {
  minVersion: 'TLSv1.2',
  ciphers:
    'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:' +
    'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305',
  ecdhCurve: 'X25519:prime256v1:secp384r1',
  honorCipherOrder: false,
  ALPNProtocols: ['http/1.1'],
};

const KEYS = ['minVersion', 'maxVersion', 'ciphers', 'ecdhCurve', 'honorCipherOrder', 'ALPNProtocols', 'sigalgs', 'secureOptions', 'sessionTimeout'];

function pick(o: Record<string, unknown>): TlsPolicy | null {
  if (typeof o.minVersion !== 'string' || typeof o.ciphers !== 'string') return null;
  const r: Record<string, unknown> = {};
  for (const k of KEYS) if (o[k] !== undefined) r[k] = o[k];
  return r as TlsPolicy;
}

/**
 * Reads the server's policy: the first exported object (or zero-argument function result) that
 * has `minVersion` and `ciphers`. Returns where it came from, for the results file.
 */
export async function loadTlsPolicy(): Promise<{ policy: TlsPolicy; source: string }> {
  const file = path.join(ROOT, 'packages/server/src/common/tls.ts');
  if (existsSync(file)) {
    try {
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      const names = Object.keys(mod).sort((a, b) => Number(/OPTION|POLICY/i.test(b)) - Number(/OPTION|POLICY/i.test(a)));
      for (const name of names) {
        const v = mod[name];
        let cand: unknown = v;
        if (typeof v === 'function' && v.length === 0 && /policy|options/i.test(name)) {
          try {
            cand = (v as () => unknown)();
          } catch {
            continue;
          }
        }
        if (cand && typeof cand === 'object') {
          const p = pick(cand as Record<string, unknown>);
          // server.ts adds ALPN http/1.1 next to the policy (docs/tls-policy.md#node-specifics); so do we.
          if (p) return { policy: { ALPNProtocols: ['http/1.1'], ...p }, source: `packages/server/src/common/tls.ts#${name}` };
        }
      }
      // Separate constants (CIPHERS, CURVES, MIN_VERSION...)?
      const byPattern = (re: RegExp) => Object.entries(mod).find(([k, v]) => re.test(k) && typeof v === 'string')?.[1] as string | undefined;
      const ciphers = byPattern(/cipher/i);
      const curves = byPattern(/curve|ecdh/i);
      const minVersion = byPattern(/min.*version/i);
      if (ciphers && curves) {
        return {
          policy: { ...DOCUMENTED_POLICY, ciphers, ecdhCurve: curves, minVersion: minVersion ?? DOCUMENTED_POLICY.minVersion },
          source: 'packages/server/src/common/tls.ts (constants)',
        };
      }
    } catch (e) {
      console.warn(`!!! could not import packages/server/src/common/tls.ts: ${(e as Error).message}`);
    }
  }
  console.warn('!!! TLS policy: using the documented policy (docs/tls-policy.md), not the server\'s own export');
  return { policy: DOCUMENTED_POLICY, source: 'documented (docs/tls-policy.md) — server export not found' };
}
