import type { Driver } from './types';

/** The members of a browser WebSocket the driver uses (declared here: no DOM lib needed). */
export interface WebSocketLike {
  binaryType: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

export interface WebSocketConstructor {
  new (url: string, protocols?: string | string[]): WebSocketLike;
}

interface EventHost {
  addEventListener?(type: string, fn: () => void): void;
  removeEventListener?(type: string, fn: () => void): void;
  document?: { visibilityState?: string };
}

/**
 * Driver on the W3C WebSocket (`wss-mp-client/web`). Handshake headers are not possible in a
 * browser and are ignored. Lifecycle: becoming visible counts as "show" (verify the link, cut a
 * wait); `online` as network back. Browsers keep background sockets, so there is no "hide".
 */
export function webDriver(WebSocketImpl?: WebSocketConstructor, host?: EventHost): Driver {
  const g = (host || (typeof globalThis !== 'undefined' ? globalThis : {})) as EventHost & { WebSocket?: WebSocketConstructor };
  const WS = WebSocketImpl || g.WebSocket;
  const listen = (type: string, fn: () => void) => {
    if (!g.addEventListener) return () => {};
    g.addEventListener(type, fn);
    return () => g.removeEventListener!(type, fn);
  };
  return {
    connect(ep, h) {
      const ws = new WS!(ep.url, ep.protocols);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => h.open();
      ws.onmessage = (e) => h.message(e.data as string | ArrayBuffer);
      ws.onclose = (e) => h.close(e.code || 1005, e.reason || '');
      ws.onerror = h.error;
      return {
        send(data, fail) {
          try {
            ws.send(data);
          } catch (e) {
            fail(e);
          }
        },
        close(code, reason) {
          try {
            ws.close(code, reason);
          } catch (_) {
            // already closing
          }
        },
      };
    },
    onShow: (fn) => listen('visibilitychange', () => g.document && g.document.visibilityState === 'visible' && fn()),
    onNetwork: (fn) => listen('online', () => fn(true)),
  };
}
