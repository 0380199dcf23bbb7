// A W3C-WebSocket-shaped class over `wx.connectSocket`, so reconnecting-websocket 4.4.0 runs
// on the same wx shim as wss-mp-client (client-lessons.md: "RWS and partysocket got a W3C-shaped
// adapter over wx.connectSocket"). Only what RWS touches: readyState, binaryType, send, close,
// add/removeEventListener, the on* properties and the static state constants.
import type { SocketTaskLike, WxLike } from './shim';

type Listener = (ev: any) => void;

export function w3cOver(wx: WxLike) {
  return class WxWebSocket {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    readonly CONNECTING = 0;
    readonly OPEN = 1;
    readonly CLOSING = 2;
    readonly CLOSED = 3;
    readyState = 0;
    binaryType = 'arraybuffer';
    bufferedAmount = 0;
    extensions = '';
    protocol = '';
    onopen: Listener | null = null;
    onmessage: Listener | null = null;
    onclose: Listener | null = null;
    onerror: Listener | null = null;
    private readonly listeners: Record<string, Listener[]> = { open: [], message: [], close: [], error: [] };
    private readonly task: SocketTaskLike;

    constructor(
      readonly url: string,
      protocols?: string | string[],
    ) {
      const list = typeof protocols === 'string' ? [protocols] : protocols;
      let closed = false;
      const closeOnce = (code: number, reason: string) => {
        if (closed) return;
        closed = true;
        this.readyState = 3;
        this.dispatch('close', { type: 'close', code, reason, wasClean: code === 1000 });
      };
      this.task = wx.connectSocket({
        url,
        ...(list && list.length ? { protocols: list } : {}),
        fail: (r) => {
          this.dispatch('error', { type: 'error', message: (r as { errMsg?: string })?.errMsg ?? 'connectSocket:fail' });
          closeOnce(1006, '');
        },
      });
      this.task.onOpen(() => {
        this.readyState = 1;
        this.dispatch('open', { type: 'open' });
      });
      this.task.onMessage((r) => this.dispatch('message', { type: 'message', data: r.data }));
      this.task.onError((r) => this.dispatch('error', { type: 'error', message: (r as { errMsg?: string })?.errMsg ?? 'error' }));
      this.task.onClose((r) => closeOnce(Number(r?.code) || 1005, r?.reason ?? ''));
    }

    send(data: string | ArrayBuffer) {
      if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
      this.task.send({ data, fail: () => {} });
    }

    close(code?: number, reason?: string) {
      if (this.readyState >= 2) return;
      this.readyState = 2;
      this.task.close({ ...(code != null ? { code } : {}), ...(reason != null ? { reason } : {}), fail: () => {} });
    }

    addEventListener(type: string, fn: Listener) {
      (this.listeners[type] ??= []).push(fn);
    }

    removeEventListener(type: string, fn: Listener) {
      const l = this.listeners[type];
      if (l) this.listeners[type] = l.filter((x) => x !== fn);
    }

    private dispatch(type: string, ev: any) {
      const on = (this as any)[`on${type}`] as Listener | null;
      if (on) on(ev);
      for (const fn of (this.listeners[type] ?? []).slice()) fn(ev);
    }
  };
}
