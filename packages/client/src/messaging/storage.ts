/**
 * Where requests and positions survive an app restart. The default is the platform's own
 * synchronous storage (wx.getStorageSync and its peers: a write is durable when it returns, so a
 * request is stored before request() returns), else memory (nothing survives a restart).
 */
export interface MessagingStorage {
  getItem(key: string): string | null | undefined;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

interface SyncStorageHost {
  getStorageSync?(key: string): unknown;
  setStorageSync?(key: string, value: unknown): void;
  removeStorageSync?(key: string): void;
}

/** The host's sync storage API when it has all three calls (wx, tt, qq, swan, uni, Taro), else memory. */
export function defaultStorage(host: unknown): MessagingStorage {
  const h = host as SyncStorageHost;
  const sync = h && h.getStorageSync && h.setStorageSync && h.removeStorageSync;
  // Keys are always "<storageKey>:<name>", so no key of ours meets Object.prototype's.
  const mem: Record<string, string> = {};
  return {
    // WeChat answers '' for a missing key; anything but a string is not ours.
    getItem(k) {
      const v = sync ? h.getStorageSync!(k) : mem[k];
      return typeof v === 'string' && v ? v : null;
    },
    setItem: (k, v) => (sync ? h.setStorageSync!(k, v) : (mem[k] = v)),
    removeItem: (k) => (sync ? h.removeStorageSync!(k) : delete mem[k]),
  };
}
