/**
 * Where requests and positions survive an app restart. The default is the platform's own
 * synchronous storage (wx.getStorageSync and its peers: a write is durable when it returns, so a
 * request is stored before request() returns), else memory (nothing survives a restart).
 */
export interface MessagingStorage {
  getItem(key: string): string | null | undefined;
  setItem(key: string, value: string): void;
  /** Not called (positions and requests are overwritten, never removed); allowed for Web Storage. */
  removeItem?(key: string): void;
}

interface SyncStorageHost {
  getStorageSync?(key: string): unknown;
  setStorageSync?(key: string, value: unknown): void;
}

/**
 * The host's sync storage API when it has it (wx, tt, qq, swan, uni, Taro), else memory. Only
 * what the client calls: it overwrites its keys and never removes one.
 */
export function defaultStorage(host: unknown): Pick<MessagingStorage, 'getItem'> & { setItem(k: string, v: string): unknown } {
  const h = host as SyncStorageHost;
  // Keys are always "<storageKey>:<name>", so no key of ours meets Object.prototype's.
  const mem: Record<string, string> = {};
  // (WeChat answers '' for a missing key: the client reads anything but a non-empty string as nothing.)
  return h && h.getStorageSync && h.setStorageSync
    ? { getItem: (k) => h.getStorageSync!(k) as string, setItem: (k, v) => h.setStorageSync!(k, v) }
    : { getItem: (k) => mem[k], setItem: (k, v) => (mem[k] = v) };
}
