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
 * Returns a `wx` with connectSocket that trusts `caFile`. `count` (optional) is called on every
 * connectSocket, before the shim sees it: the storm counts attempts here.
 */
export async function loadWx(caFile: string, count?: () => void): Promise<{ wx: WxLike; source: string }> {
  const candidates = ['test/support/wx-shim.ts', 'test/support/wx-ws-bridge.ts'];
  const errors: string[] = [];
  for (const rel of candidates) {
    const file = path.join(ROOT, rel);
    if (!existsSync(file)) continue;
    try {
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      const make = factoryOf(mod);
      if (!make) throw new Error('no create*/wx* factory export');
      const wx = await makeWx(make, caFile);
      if (!wx || typeof wx.connectSocket !== 'function') throw new Error('factory returned no connectSocket');
      const inner = wx.connectSocket.bind(wx);
      const counted: WxLike = { ...wx, connectSocket: (o) => (count?.(), inner(o)) };
      return { wx: counted, source: rel };
    } catch (e) {
      errors.push(`${rel}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no usable wx shim: ${errors.join('; ') || 'none found'}`);
}

/** Tries the factory's likely signatures: ({ca}), ({ca: pem}), (). */
async function makeWx(make: AnyFn, caFile: string): Promise<WxLike> {
  const { readFileSync } = await import('node:fs');
  const pem = readFileSync(caFile, 'utf8');
  const attempts: unknown[][] = [[{ ca: caFile }], [{ ca: pem }], [{ ca: Buffer.from(pem) }], []];
  let last: unknown;
  for (const args of attempts) {
    try {
      const r = await make(...args);
      const wx = (r && typeof r.connectSocket === 'function' ? r : r?.wx) as WxLike | undefined;
      if (wx && typeof wx.connectSocket === 'function') return wx;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`could not create a wx shim (${(last as Error)?.message ?? 'no connectSocket'})`);
}
