/**
 * The seam between the platform-free core and a host API. One file per platform implements
 * `Driver`; the core never touches a platform global.
 */

/** A message as it travels: text, or binary as an exact-length ArrayBuffer. */
export type Data = string | ArrayBuffer;

/** Where and how to connect; the `url` option may produce a new one for every attempt. */
export interface Endpoint {
  /** ws:// or wss:// URL. Mini programs in production accept wss:// only. */
  url: string;
  /** Extra handshake headers (mini programs; browsers cannot send headers and ignore them). */
  header?: Record<string, string>;
  /** Subprotocols; always passed on as an array (a bare string breaks some Android clients). */
  protocols?: string[];
}

/** Callbacks a driver calls for one socket. Each socket gets its own set; order of calls is free. */
export interface SocketHandlers {
  /** The handshake completed. `header` = response headers where the platform provides them. */
  open(header?: Record<string, string>): void;
  message(data: Data): void;
  /** The socket is gone (close frame, abnormal end, or connect failure with no socket left). */
  close(code: number, reason: string): void;
  /** The platform reported an error (onError, connectSocket fail); `close` may or may not follow. */
  error(cause: unknown): void;
}

/** One live socket as the core sees it. Both methods must never throw. */
export interface DriverSocket {
  /** `fail` runs if the platform refuses the frame. */
  send(data: Data, fail: (cause: unknown) => void): void;
  close(code: number, reason: string): void;
}

/** A platform: how to open a socket, plus optional app lifecycle and network hooks. */
export interface Driver {
  connect(endpoint: Endpoint, handlers: SocketHandlers): DriverSocket;
  /** Each hook registers `listener` and returns a function that removes it. */
  onShow?(listener: () => void): () => void;
  onHide?(listener: () => void): () => void;
  onNetwork?(listener: (online: boolean) => void): () => void;
}

/** A host SocketTask (wx, qq, tt, swan, uni, Taro): the members the driver uses. */
export interface MiniSocketTask {
  send(option: { data: string | ArrayBuffer; fail?: (res: any) => void }): void;
  close(option: { code?: number; reason?: string; fail?: (res: any) => void }): void;
  onOpen(listener: (res: any) => void): void;
  onMessage(listener: (res: { data: string | ArrayBuffer }) => void): void;
  onClose(listener: (res: { code: number | string; reason: string }) => void): void;
  onError(listener: (res: any) => void): void;
}

/** A `wx`-like namespace: wx, qq, tt, swan, uni, Taro. Only connectSocket is required. */
export interface MiniNamespace {
  connectSocket(option: {
    url: string;
    header?: Record<string, string>;
    protocols?: string[];
    fail?: (res: any) => void;
    complete?: (res: any) => void;
  }): MiniSocketTask | PromiseLike<MiniSocketTask> | any;
  onAppShow?(listener: (res: any) => void): void;
  offAppShow?(listener: (res: any) => void): void;
  onAppHide?(listener: (res: any) => void): void;
  offAppHide?(listener: (res: any) => void): void;
  onNetworkStatusChange?(listener: (res: { isConnected: boolean }) => void): void;
  offNetworkStatusChange?(listener: (res: any) => void): void;
}
