// wx.connectSocket for Node tests: returns a SocketTask-shaped object backed by a real `ws`
// client, so mini-program code (the demo page under miniprogram-simulate) talks to a real
// wss-mp-server over TLS. Written for the demo tests; the SDK's own contract suite has a
// stricter shim. Shapes follow WechatMiniprogram.SocketTask (platform-wechat.md §1):
// callbacks get one object ({errMsg} | {data} | {code, reason} | {header, profile}), events
// fire asynchronously, text arrives as string and binary as ArrayBuffer, no off*().
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

type Cb<T> = (res: T) => void;
interface CallbackOpts<T = { errMsg: string }> {
  success?: Cb<T>;
  fail?: Cb<{ errMsg: string }>;
  complete?: Cb<T | { errMsg: string }>;
}
export interface ConnectSocketOption extends CallbackOpts {
  url: string;
  header?: Record<string, string>;
  protocols?: string[];
  timeout?: number;
  tcpNoDelay?: boolean;
  perMessageDeflate?: boolean;
}

export interface BridgeSocketTask {
  readonly url: string;
  readonly readyState: number;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;
  send(opts: { data: string | ArrayBuffer } & CallbackOpts): void;
  close(opts?: { code?: number; reason?: string } & CallbackOpts): void;
  onOpen(cb: Cb<{ header: Record<string, unknown>; profile: Record<string, number> }>): void;
  onMessage(cb: Cb<{ data: string | ArrayBuffer }>): void;
  onClose(cb: Cb<{ code: number; reason: string }>): void;
  onError(cb: Cb<{ errMsg: string }>): void;
}

export interface WxSocketBridge {
  connectSocket(opts: ConnectSocketOption): BridgeSocketTask;
  /** Every task handed out, oldest first. */
  readonly tasks: BridgeSocketTask[];
  /** Terminates every socket still open (test teardown). */
  closeAll(): void;
}

const later = (fn: () => void) => setImmediate(fn);

function settle<T>(opts: CallbackOpts<T> | undefined, ok: boolean, res: T & { errMsg: string }) {
  later(() => {
    if (ok) opts?.success?.(res);
    else opts?.fail?.(res);
    opts?.complete?.(res);
  });
}

/** `ca`: PEM text or a path to the CA file the bridge trusts (the dev CA of wss-mp-server). */
export function createWxSocketBridge({ ca }: { ca: string | Buffer }): WxSocketBridge {
  const caPem = typeof ca === 'string' && !ca.includes('-----BEGIN') ? readFileSync(ca) : ca;
  const tasks: BridgeSocketTask[] = [];
  const sockets = new Set<WebSocket>();

  function connectSocket(opts: ConnectSocketOption): BridgeSocketTask {
    const listeners = { open: [] as Cb<any>[], message: [] as Cb<any>[], close: [] as Cb<any>[], error: [] as Cb<any>[] };
    const emit = (kind: keyof typeof listeners, res: unknown) => listeners[kind].slice().forEach((cb) => cb(res));
    const started = Date.now();
    const ws = new WebSocket(opts.url, opts.protocols ?? [], {
      ca: caPem,
      headers: opts.header,
      handshakeTimeout: opts.timeout ?? 60_000,
      perMessageDeflate: opts.perMessageDeflate ?? false,
    });
    ws.binaryType = 'arraybuffer';
    sockets.add(ws);
    let header: Record<string, unknown> = {};
    ws.on('upgrade', (res) => (header = { ...res.headers }));
    ws.on('open', () => {
      const cost = Date.now() - started;
      emit('open', { header, profile: { fetchStart: started, connectEnd: started + cost, cost, handshakeCost: cost, rtt: cost } });
    });
    ws.on('message', (data: ArrayBuffer, isBinary: boolean) =>
      emit('message', { data: isBinary ? data : Buffer.from(data).toString('utf8') }),
    );
    ws.on('error', (err) => emit('error', { errMsg: `connectSocket:fail ${err.message}` }));
    ws.on('close', (code, reason) => {
      sockets.delete(ws);
      emit('close', { code, reason: reason.toString('utf8') });
    });
    settle(opts, true, { errMsg: 'connectSocket:ok' });

    const task: BridgeSocketTask = {
      url: opts.url,
      get readyState() {
        return ws.readyState;
      },
      CONNECTING: 0,
      OPEN: 1,
      CLOSING: 2,
      CLOSED: 3,
      send(o) {
        if (ws.readyState !== WebSocket.OPEN) {
          settle(o, false, { errMsg: 'sendSocketMessage:fail WebSocket is not connected' });
          return;
        }
        const payload = typeof o.data === 'string' ? o.data : Buffer.from(o.data);
        ws.send(payload, { binary: typeof o.data !== 'string' }, (err) =>
          settle(o, !err, { errMsg: err ? `sendSocketMessage:fail ${err.message}` : 'sendSocketMessage:ok' }),
        );
      },
      close(o = {}) {
        if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) {
          settle(o, false, { errMsg: 'closeSocket:fail WebSocket is not connected' });
          return;
        }
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws.close(o.code ?? 1000, o.reason);
        settle(o, true, { errMsg: 'closeSocket:ok' });
      },
      onOpen: (cb) => void listeners.open.push(cb),
      onMessage: (cb) => void listeners.message.push(cb),
      onClose: (cb) => void listeners.close.push(cb),
      onError: (cb) => void listeners.error.push(cb),
    };
    tasks.push(task);
    return task;
  }

  return {
    connectSocket,
    tasks,
    closeAll() {
      for (const ws of sockets) ws.terminate();
      sockets.clear();
    },
  };
}
