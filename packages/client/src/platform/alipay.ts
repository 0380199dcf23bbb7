import type { Data, Driver } from './types';
import { wxDriver } from './wx';

/** The members of Alipay's `my` the driver uses. */
export interface AlipayNamespace {
  connectSocket(option: Record<string, unknown>): any;
  onAppShow?(fn: (res: any) => void): void;
  offAppShow?(fn: (res: any) => void): void;
  onAppHide?(fn: (res: any) => void): void;
  offAppHide?(fn: (res: any) => void): void;
  onNetworkStatusChange?(fn: (res: { isConnected: boolean }) => void): void;
  offNetworkStatusChange?(fn: (res: any) => void): void;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function toBase64(buf: ArrayBuffer): string {
  const b = new Uint8Array(buf);
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] || 0) << 8) | (b[i + 2] || 0);
    s += B64[n >> 18]! + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=');
  }
  return s;
}

export function fromBase64(s: string): ArrayBuffer {
  s = s.replace(/[^A-Za-z0-9+/]/g, '');
  const out = new Uint8Array((s.length * 3) >> 2);
  let n = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    n = (n << 6) | B64.indexOf(s[i]!);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (n >> bits) & 255;
    }
  }
  return out.buffer;
}

/**
 * Driver for Alipay's `my` (`wss-mp-client/alipay`): `multiple: true` to get a SocketTask
 * instead of the single global socket; listener arguments nested one level deeper
 * (`res.data.data`); binary travels as base64 with `isBuffer: true`.
 */
export function alipayDriver(my: AlipayNamespace): Driver {
  const base = wxDriver({
    ...my,
    connectSocket: (option) => {
      const r = my.connectSocket({ ...option, multiple: true });
      return r && {
        send: (o: { data: Data; fail?: (res: unknown) => void }) =>
          r.send(typeof o.data === 'string' ? o : { data: toBase64(o.data), isBuffer: true, fail: o.fail }),
        close: (o: object) => r.close(o),
        onOpen: (fn: (res: unknown) => void) => r.onOpen((res: any) => fn(res && res.data && res.data.header ? res.data : res)),
        onMessage: (fn: (res: { data: Data }) => void) =>
          r.onMessage((res: any) => {
            const m = res && res.data && typeof res.data === 'object' && 'data' in res.data ? res.data : res;
            fn({ data: m.isBuffer && typeof m.data === 'string' ? fromBase64(m.data) : m.data });
          }),
        onClose: (fn: (res: unknown) => void) => r.onClose((res: any) => fn(res && res.data && res.data.code ? res.data : res)),
        onError: (fn: (res: unknown) => void) => r.onError(fn),
      };
    },
  });
  return base;
}
