// The `wx` the client benchmarks run on: a SocketTask shim over the `ws` client. We prefer the
// client engineer's test/support/wx-shim.ts (what the contract suite uses) and fall back to the
// demo's test/support/wx-ws-bridge.ts; the results record which one ran. Both the SDK and the
// "raw" baseline get the same shim, so its cost cancels out of the ratio.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../../support/server';

/** The slice of `wx` the benchmark uses. */
export interface WxLike {
  connectSocket(opts: { url: string; protocols?: string[]; header?: Record<string, string>; fail?: (r: unknown) => void; complete?: (r: unknown) => void; success?: (r: unknown) => void }): SocketTaskLike;
}

export interface SocketTaskLike {
  send(o: { data: string | ArrayBuffer; fail?: (r: unknown) => void }): void;
  close(o?: { code?: number; reason?: string; fail?: (r: unknown) => void }): void;
  onOpen(cb: (r: unknown) => void): void;
  onMessage(cb: (r: { data: string | ArrayBuffer }) => void): void;
  onClose(cb: (r: { code: number; reason: string }) => void): void;
  onError(cb: (r: unknown) => void): void;
}

type AnyFn = (...a: any[]) => any;

/** Finds a factory in a module: the first exported function whose name says wx/shim/bridge. */
function factoryOf(mod: Record<string, unknown>): AnyFn | null {
  const names = Object.keys(mod).filter((k) => typeof mod[k] === 'function');
  const pref = names.find((k) => /^create.*(wx|shim|bridge)/i.test(k)) ?? names.find((k) => /(wx|shim|bridge)/i.test(k));
  return pref ? (mod[pref] as AnyFn) : null;
}

/**
 * Returns a factory of `wx` namespaces whose connectSocket trusts `caFile`: one namespace per
 * simulated phone (the shim models WeChat's 5-live-sockets-per-app limit, so 2,000 clients are
 * 2,000 apps, as in the field). `count` (optional) is called on every connectSocket, before the
 * shim sees it: the storm counts attempts there.
 */
export async function loadWx(caFile: string, count?: () => void): Promise<{ make: () => WxLike; source: string }> {
  const candidates = ['test/support/wx-shim.ts', 'test/support/wx-ws-bridge.ts'];
  const errors: string[] = [];
  const { readFileSync } = await import('node:fs');
  const pem = readFileSync(caFile);
  for (const rel of candidates) {
    const file = path.join(ROOT, rel);
    if (!existsSync(file)) continue;
    try {
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      const factory = factoryOf(mod);
      if (!factory) throw new Error('no create*/wx* factory export');
      // Find the argument shape once ({ca: Buffer} for both shims today), then reuse it.
      const shapes: unknown[][] = [[{ ca: pem }], [{ ca: pem.toString('utf8') }], [{ ca: caFile }], []];
      let args: unknown[] | null = null;
      for (const a of shapes) {
        try {
          const w = factory(...a);
          if (w && typeof w.connectSocket === 'function') {
            args = a;
            break;
          }
        } catch {}
      }
      if (!args) throw new Error('factory returned no connectSocket');
      const chosen = args;
      const make = (): WxLike => {
        const wx = factory(...chosen) as WxLike;
        const inner = wx.connectSocket.bind(wx);
        return { connectSocket: (o) => (count?.(), inner(o)) };
      };
      return { make, source: rel };
    } catch (e) {
      errors.push(`${rel}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no usable wx shim: ${errors.join('; ') || 'none found'}`);
}
