import type { Data, Platform, SocketTaskLike } from './types';

/** The members of Alipay's `my` the adapter uses. */
export interface AlipayNamespace {
  connectSocket(option: object): any;
  onAppShow?(fn: (res: any) => void): void;
  offAppShow?(fn: (res: any) => void): void;
  onAppHide?(fn: (res: any) => void): void;
  offAppHide?(fn: (res: any) => void): void;
  onNetworkStatusChange?(fn: (res: { isConnected: boolean }) => void): void;
  offNetworkStatusChange?(fn: (res: any) => void): void;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 without atob/btoa/Buffer (none exist in mini programs). */
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

// Alipay nests listener arguments one level deeper (res.data.data); accept both shapes.
const unwrap = (res: any) => (res && res.data && typeof res.data === 'object' && !(res.data instanceof ArrayBuffer) ? res.data : res || {});

/**
 * A wx-like platform on Alipay's `my` (`wss-mp-client/alipay`): `multiple: true` to get a
 * SocketTask instead of the single global socket, nested listener arguments unwrapped, binary
 * sent and received as base64 with `isBuffer: true`. App and network hooks are `my`'s own.
 */
export function alipayPlatform(my: AlipayNamespace): Platform {
  const p = Object.create(my) as Platform;
  p.connectSocket = (option): SocketTaskLike => {
    const t = my.connectSocket(Object.assign({}, option, { multiple: true }));
    return {
      send: (o) =>
        t.send(typeof o.data === 'string' ? o : { data: toBase64(o.data as ArrayBuffer), isBuffer: true, fail: o.fail }),
      close: (o) => t.close(o),
      onOpen: (fn) => t.onOpen((res: any) => fn(unwrap(res))),
      onMessage: (fn) =>
        t.onMessage((res: any) => {
          const m = unwrap(res);
          fn({ data: (m.isBuffer && typeof m.data === 'string' ? fromBase64(m.data) : m.data) as Data });
        }),
      onClose: (fn) => t.onClose((res: any) => fn(unwrap(res))),
      onError: (fn) => t.onError(fn),
    };
  };
  return p;
}
