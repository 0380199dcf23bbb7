import type { Platform, SocketTaskLike } from './types';

/**
 * The members of a browser WebSocket the adapter uses (declared here: no DOM lib needed).
 * Handler events are `any` on purpose: handler properties are function types, whose parameters
 * `strict` compares contravariantly, so the DOM's handlers (taking `Event`, `MessageEvent`)
 * and ws's (its own event classes) fit only a parameter that is assignable to both: `any`.
 */
export interface WebSocketLike {
  binaryType: string;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  send(data: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

export interface WebSocketConstructor {
  new (url: string, protocols?: string | string[]): WebSocketLike;
}

interface EventHost {
  WebSocket?: WebSocketConstructor;
  addEventListener?(type: string, fn: () => void): void;
  removeEventListener?(type: string, fn: () => void): void;
  document?: { visibilityState?: string };
}

/**
 * A wx-like platform on the W3C WebSocket (`wss-mp-client/web`): each SocketTask wraps one
 * WebSocket with binaryType "arraybuffer". Handshake headers cannot be set in a browser and are
 * ignored. Lifecycle: the page becoming visible counts as "app show" (verify the link, cut a
 * wait) and `online` as network back; browsers keep background sockets, so there is no "hide".
 * `host` (default globalThis) supplies WebSocket and the events; both are read when called.
 */
export function webPlatform(WebSocketImpl?: WebSocketConstructor, host?: EventHost): Platform {
  const g = (): EventHost => host || (typeof globalThis !== 'undefined' ? (globalThis as EventHost) : {});
  const wrapped = new Map<Function, () => void>();
  const listen = (type: string, fn: Function, wrap: () => void) => {
    const t = g();
    wrapped.set(fn, wrap);
    if (t.addEventListener) t.addEventListener(type, wrap);
  };
  const unlisten = (type: string, fn: Function) => {
    const t = g();
    const w = wrapped.get(fn);
    if (w && t.removeEventListener) t.removeEventListener(type, w);
    wrapped.delete(fn);
  };
  return {
    noHeaders: true,
    connectSocket(option): SocketTaskLike | undefined {
      const WS = WebSocketImpl || g().WebSocket;
      let ws: WebSocketLike;
      try {
        ws = new WS!(option.url, option.protocols);
      } catch (e) {
        // SyntaxError/SecurityError: report it the platform way (fail callback, asynchronously).
        Promise.resolve(e).then(option.fail);
        return undefined;
      }
      ws.binaryType = 'arraybuffer';
      return {
        onOpen: (fn) => (ws.onopen = () => fn(undefined)),
        onMessage: (fn) => (ws.onmessage = (e) => fn({ data: e.data as string | ArrayBuffer })),
        onClose: (fn) => (ws.onclose = (e) => fn({ code: e.code, reason: e.reason })),
        onError: (fn) => (ws.onerror = fn),
        send(o) {
          try {
            ws.send(o.data);
          } catch (e) {
            if (o.fail) o.fail(e);
          }
        },
        close(o) {
          try {
            ws.close(o.code, o.reason);
          } catch (e) {
            if (o.fail) o.fail(e);
          }
        },
      };
    },
    onAppShow: (fn) => listen('visibilitychange', fn, () => (g().document || {}).visibilityState === 'visible' && fn()),
    offAppShow: (fn) => unlisten('visibilitychange', fn),
    onNetworkStatusChange: (fn) => listen('online', fn, () => fn({ isConnected: true })),
    offNetworkStatusChange: (fn) => unlisten('online', fn),
  };
}
