// A small W3C WebSocket facade over wx.connectSocket, so reconnecting-websocket (which needs a
// WebSocket class) can run on the same wx shim as wss-mp-client: the comparison suite
// (test/comparison) and the client benchmark's RWS storm (test/bench/client) both use it. It is
// deliberately correct where a facade can be (exact-length copies of views, one close event,
// numeric codes), so they measure the library, not the adapter. Events are plain objects: the
// WeChat realm has no Event/EventTarget. Test-only; never shipped.
type Listener = (ev: any) => void;

export interface WxLike {
  connectSocket(o: any): any;
}

export function makeW3CAdapter(wx: WxLike) {
  return class WxWebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    CONNECTING = 0;
    OPEN = 1;
    CLOSING = 2;
    CLOSED = 3;
    readyState = 0;
    binaryType = 'arraybuffer';
    bufferedAmount = 0;
    extensions = '';
    protocol = '';
    onopen: Listener | null = null;
    onmessage: Listener | null = null;
    onclose: Listener | null = null;
    onerror: Listener | null = null;
    private listeners: Record<string, Listener[]> = { open: [], message: [], close: [], error: [] };
    private task: any;

    constructor(
      public url: string,
      protocols?: string | string[],
    ) {
      const p = protocols === undefined ? undefined : Array.isArray(protocols) ? protocols : [protocols];
      this.task = wx.connectSocket({ url, protocols: p, fail: (res: any) => this.failed(res) });
      this.task.onOpen(() => {
        if (this.readyState !== 0) return;
        this.readyState = 1;
        this.dispatch('open', { type: 'open', target: this });
      });
      this.task.onMessage((res: any) => this.dispatch('message', { type: 'message', target: this, data: res.data }));
      this.task.onError((res: any) => this.dispatch('error', { type: 'error', target: this, message: res && res.errMsg }));
      this.task.onClose((res: any) => this.closed(Number(res.code), String(res.reason ?? '')));
    }

    private failed(res: any) {
      this.dispatch('error', { type: 'error', target: this, message: res && res.errMsg });
      this.closed(1006, '');
    }

    private closed(code: number, reason: string) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      this.dispatch('close', { type: 'close', target: this, code, reason, wasClean: code !== 1006 });
    }

    private dispatch(type: string, ev: any) {
      const on = (this as any)['on' + type] as Listener | null;
      if (on) on.call(this, ev);
      for (const l of this.listeners[type]!.slice()) l.call(this, ev);
    }

    addEventListener(type: string, l: Listener) {
      (this.listeners[type] ||= []).push(l);
    }

    removeEventListener(type: string, l: Listener) {
      const list = this.listeners[type] || [];
      const i = list.indexOf(l);
      if (i >= 0) list.splice(i, 1);
    }

    send(data: unknown) {
      if (this.readyState === 0) throw new Error('InvalidStateError: still CONNECTING');
      if (this.readyState !== 1) return;
      let d = data;
      if (ArrayBuffer.isView(data)) d = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
      this.task.send({ data: d });
    }

    close(code?: number, reason?: string) {
      if (this.readyState >= 2) return;
      this.readyState = 2;
      this.task.close({ code: code ?? 1000, reason: reason ?? '' });
    }
  };
}
