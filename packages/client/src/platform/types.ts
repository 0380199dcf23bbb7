/**
 * The Transport interface: a platform is anything shaped like WeChat's `wx` namespace —
 * `connectSocket()` returning a SocketTask, plus optional app/network hooks. wx, qq, tt, swan,
 * uni and Taro are used as they are (connection.ts absorbs their differences); other hosts get an
 * adapter of this shape: `webPlatform()` (browser WebSocket), `alipayPlatform(my)`.
 * The core never touches a platform global.
 */

/** A message as it travels: text, or binary as an exact-length ArrayBuffer. */
export type Data = string | ArrayBuffer;

/** Where and how to connect; the `url` option may produce a new one for every attempt. */
export interface Endpoint {
  /** ws:// or wss:// URL. Mini programs in production accept wss:// only. */
  url: string;
  /** Extra handshake headers (mini programs; browsers cannot send headers and ignore them). */
  header?: Record<string, string>;
  /** Subprotocols, always an array (a bare string breaks some Android clients). */
  protocols?: string[];
  /** WeChat connectSocket options, passed through (ignored by hosts that do not know them). */
  tcpNoDelay?: boolean;
  perMessageDeflate?: boolean;
  timeout?: number;
  forceCellularNetwork?: boolean;
}

/** The SocketTask members the client uses (WeChat: WechatMiniprogram.SocketTask). */
export interface SocketTaskLike {
  send(option: { data: Data; fail?: (res: any) => void }): void;
  close(option: { code?: number; reason?: string; fail?: (res: any) => void }): void;
  onOpen(listener: (res: { header?: Record<string, string> } | undefined) => void): void;
  onMessage(listener: (res: { data: Data }) => void): void;
  /** Douyin may give `code` as a string. */
  onClose(listener: (res: { code: number | string; reason?: string }) => void): void;
  onError(listener: (res: any) => void): void;
}

export interface ConnectSocketOption extends Endpoint {
  fail?: (res: any) => void;
  complete?: (res: any) => void;
}

/** A `wx`-like namespace. Only connectSocket is required; missing hooks are skipped. */
export interface Platform {
  /**
   * A SocketTask (wx, qq, tt, swan; uni when a callback is passed) or a Promise of one (Taro).
   * Failures go to `option.fail` (or a rejected Promise), asynchronously; it must not throw.
   */
  connectSocket(option: ConnectSocketOption): SocketTaskLike | PromiseLike<SocketTaskLike> | any;
  /** The host cannot set handshake headers (browsers): credentials must travel in the URL. */
  noHeaders?: boolean;
  onAppShow?(listener: (res?: any) => void): void;
  offAppShow?(listener: (res?: any) => void): void;
  onAppHide?(listener: (res?: any) => void): void;
  offAppHide?(listener: (res?: any) => void): void;
  onNetworkStatusChange?(listener: (res: { isConnected: boolean }) => void): void;
  offNetworkStatusChange?(listener: (res: any) => void): void;
}
