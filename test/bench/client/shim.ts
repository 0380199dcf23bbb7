// The `wx` the client benchmarks run on: test/support/wx-shim.ts, the SocketTask shim over the
// `ws` client that the contract suite uses. Both the SDK and the "raw" baseline get the same
// shim, so its cost cancels out of the ratio.
import { readFileSync } from 'node:fs';
import { createWxShim } from '../../support/wx-shim';

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

/**
 * Returns a factory of `wx` namespaces whose connectSocket trusts `caFile`: one namespace per
 * simulated phone (the shim models WeChat's 5-live-sockets-per-app limit, so 2,000 clients are
 * 2,000 apps, as in the field). `count` (optional) is called on every connectSocket, before the
 * shim sees it: the storm counts attempts there.
 */
export async function loadWx(caFile: string, count?: () => void): Promise<{ make: () => WxLike; source: string }> {
  const ca = readFileSync(caFile);
  const make = (): WxLike => {
    const wx = createWxShim({ ca }) as unknown as WxLike;
    const inner = wx.connectSocket.bind(wx);
    return { connectSocket: (o) => (count?.(), inner(o)) };
  };
  return { make, source: 'test/support/wx-shim.ts' };
}
