// A `wx` for Node: WeChat's socket API (wx.connectSocket → SocketTask) over the `ws` client, plus
// the app/network events and the platform rules a mini-program socket lives under
// (docs/wechat-platform.md, docs/client-scenarios.md#test-harness). It is the end-to-end twin of the unit tests'
// scripted fake (packages/client/test/fake-wx.ts): same errMsg wordings, same rules, real sockets.
//
// Modelled:
// - SocketTask surface: send/close with {success, fail, complete}, onOpen({header, profile}),
//   onMessage({data: string | ArrayBuffer}) (binary = exact-length ArrayBuffer),
//   onClose({code, reason}), onError({errMsg}); listeners always called asynchronously.
// - ≤ `limit` (5) live tasks per "app", CONNECTING and CLOSING included: the next connectSocket
//   fails with "createSocketTask:fail exceed max cocurrent count" (fail + complete callbacks).
// - send on a task that is not open fails "sendSocketMessage:fail WebSocket is not connected";
//   close on a closed task fails "closeSocket:fail taskID not exist".
// - suspend(): the JS thread is suspended in the background: live tasks end with onClose
//   {1000, "interrupted"}, connectSocket fails "…runningState=suspend" until resume().
// - hide()/show()/network(bool) fire onAppHide/onAppShow/onNetworkStatusChange listeners.
// - closeWhileConnecting: 'abort' (default: the handshake is cut, onClose 1006) or 'ignore'
//   (the legacy wx.closeSocket rule: a close before open does nothing, the task may open late).
// Counters (connectCalls, maxLive, failed…) let tests assert the client's behaviour.
// Loading a bundle the way WeChat does (fresh realm, define() wrapper) is miniprogram-module.ts.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import WebSocket from 'ws';

type Fn<T = any> = (res: T) => void;
interface Callbacks {
  success?: Fn;
  fail?: Fn;
  complete?: Fn;
}

export const ERR_LIMIT = 'createSocketTask:fail exceed max cocurrent count';
export const ERR_SUSPEND = 'connectSocket:fail runningState=suspend';
export const ERR_NOT_CONNECTED = 'sendSocketMessage:fail WebSocket is not connected';
export const ERR_TASK_GONE = 'closeSocket:fail taskID not exist';

export interface WxShimOptions {
  /** CA certificate(s) to trust (PEM text or file path), e.g. the dev CA of wss-mp-server. */
  ca?: string | Buffer;
  /** Live task limit per app. @default 5 */
  limit?: number;
  /** @default 'abort' */
  closeWhileConnecting?: 'abort' | 'ignore';
  /** What wx.login's success gives as `code` (a stand-in for WeChat's code2Session knows it). @default 'test-code' */
  loginCode?: string;
}

export interface ShimTask {
  readonly id: number;
  readonly url: string;
  /** 'connecting' | 'open' | 'closing' | 'closed' */
  readonly state: string;
  send(o: { data: string | ArrayBuffer } & Callbacks): void;
  close(o?: { code?: number; reason?: string } & Callbacks): void;
  onOpen(fn: Fn): void;
  onMessage(fn: Fn): void;
  onClose(fn: Fn): void;
  onError(fn: Fn): void;
}

export interface WxShim {
  connectSocket(option: { url: string; header?: Record<string, string>; protocols?: unknown } & Callbacks): ShimTask;
  /** wx.login: success({ code }) on the next turn. */
  login(o?: Callbacks): void;
  /** wx.request over node:http(s) (trusting `ca`): success({ statusCode, data, header }), data parsed as JSON when it is. */
  request(o: { url: string; method?: string; data?: unknown; header?: Record<string, string>; timeout?: number } & Callbacks): void;
  onAppShow(fn: Fn): void;
  offAppShow(fn: Fn): void;
  onAppHide(fn: Fn): void;
  offAppHide(fn: Fn): void;
  onNetworkStatusChange(fn: Fn): void;
  offNetworkStatusChange(fn: Fn): void;
  // ---- test controls and counters ----
  readonly tasks: ShimTask[];
  /** Options passed to connectSocket, in order. */
  readonly options: any[];
  /** errMsg of every connectSocket that failed (limit, suspend). */
  readonly failed: string[];
  readonly connectCalls: number;
  /** connectSocket calls made while suspended. */
  readonly callsWhileSuspended: number;
  readonly live: number;
  readonly maxLive: number;
  readonly appListeners: number;
  hide(): void;
  show(): void;
  network(isConnected: boolean): void;
  suspend(): void;
  resume(): void;
  /** Terminates every socket (teardown). */
  closeAll(): void;
}

const later = (fn: () => void) => setImmediate(fn);

function settle(o: Callbacks | undefined, ok: boolean, errMsg: string) {
  later(() => {
    const res = { errMsg };
    if (ok) o?.success?.(res);
    else o?.fail?.(res);
    o?.complete?.(res);
  });
}

let ids = 0;

export function createWxShim(opts: WxShimOptions = {}): WxShim {
  const ca = typeof opts.ca === 'string' && !opts.ca.includes('-----BEGIN') ? readFileSync(opts.ca) : opts.ca;
  const limit = opts.limit ?? 5;
  const tasks: (ShimTask & { kill(code: number, reason: string): void; live: boolean })[] = [];
  const options: any[] = [];
  const failed: string[] = [];
  const app = { show: [] as Fn[], hide: [] as Fn[], net: [] as Fn[] };
  let connectCalls = 0;
  let callsWhileSuspended = 0;
  let maxLive = 0;
  let suspended = false;
  const liveCount = () => tasks.filter((t) => t.live).length;

  function deadTask(url: string): any {
    const noop = () => {};
    return { id: ++ids, url, state: 'closed', live: false, send: (o: Callbacks) => settle(o, false, ERR_NOT_CONNECTED), close: (o?: Callbacks) => settle(o, false, ERR_TASK_GONE), onOpen: noop, onMessage: noop, onClose: noop, onError: noop, kill: noop };
  }

  function connectSocket(option: { url: string; header?: Record<string, string>; protocols?: unknown } & Callbacks): ShimTask {
    connectCalls++;
    options.push(option);
    if (suspended) {
      callsWhileSuspended++;
      failed.push(ERR_SUSPEND);
      settle(option, false, ERR_SUSPEND);
      return deadTask(option.url);
    }
    if (liveCount() >= limit) {
      failed.push(ERR_LIMIT);
      settle(option, false, ERR_LIMIT);
      return deadTask(option.url);
    }
    const l = { open: [] as Fn[], message: [] as Fn[], close: [] as Fn[], error: [] as Fn[] };
    const emit = (k: keyof typeof l, res: unknown) => l[k].slice().forEach((f) => f(res));
    let state: 'connecting' | 'open' | 'closing' | 'closed' = 'connecting';
    let closeRequested = false;
    const started = Date.now();
    // A string here is what breaks some Android clients: pass it on as WeChat would (broken).
    const protocols = Array.isArray(option.protocols) ? option.protocols : option.protocols ? [String(option.protocols)] : [];
    const ws = new WebSocket(option.url, protocols, { ca, headers: option.header, perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    let header: Record<string, unknown> = {};
    ws.on('upgrade', (res) => (header = { ...res.headers }));
    ws.on('open', () => {
      if (state !== 'connecting') return;
      state = 'open';
      const cost = Date.now() - started;
      emit('open', { header, profile: { fetchStart: started, cost, handshakeCost: cost } });
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (state !== 'open') return;
      emit('message', { data: isBinary ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data.toString('utf8') });
    });
    ws.on('error', (err) => {
      if (closeRequested || state === 'closed') return;
      emit('error', { errMsg: `connectSocket:fail ${err.message}` });
    });
    ws.on('close', (code, reason) => task.kill(code, reason.toString('utf8')));
    settle(option, true, 'connectSocket:ok');

    const task = {
      id: ++ids,
      url: option.url,
      get state() {
        return state;
      },
      get live() {
        return state !== 'closed';
      },
      kill(code: number, reason: string) {
        if (state === 'closed') return;
        state = 'closed';
        later(() => emit('close', { code, reason }));
      },
      send(o: { data: string | ArrayBuffer } & Callbacks) {
        if (state !== 'open') return settle(o, false, ERR_NOT_CONNECTED);
        const binary = typeof o.data !== 'string';
        ws.send(binary ? Buffer.from(o.data as ArrayBuffer) : o.data, { binary }, (err) =>
          settle(o, !err, err ? `sendSocketMessage:fail ${err.message}` : 'sendSocketMessage:ok'),
        );
      },
      close(o: { code?: number; reason?: string } & Callbacks = {}) {
        if (state === 'closed') return settle(o, false, ERR_TASK_GONE);
        // The legacy rule: a close before open does nothing (not even later); the task may open.
        if (state === 'connecting' && opts.closeWhileConnecting === 'ignore') return settle(o, true, 'closeSocket:ok');
        closeRequested = true;
        if (state === 'connecting') {
          state = 'closing';
          ws.terminate();
        } else if (state === 'open') {
          state = 'closing';
          ws.close(o.code ?? 1000, o.reason ?? '');
        }
        settle(o, true, 'closeSocket:ok');
      },
      onOpen: (fn: Fn) => void l.open.push(fn),
      onMessage: (fn: Fn) => void l.message.push(fn),
      onClose: (fn: Fn) => void l.close.push(fn),
      onError: (fn: Fn) => void l.error.push(fn),
      /** Underlying client socket (tests only). */
      ws,
    };
    tasks.push(task);
    maxLive = Math.max(maxLive, liveCount());
    return task;
  }

  const remove = (list: Fn[], fn: Fn) => {
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  };

  function request(o: { url: string; method?: string; data?: unknown; header?: Record<string, string>; timeout?: number } & Callbacks): void {
    // WeChat serialises an object body as JSON (content-type application/json, its default).
    const body = o.data === undefined ? undefined : typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
    const lib = o.url.startsWith('https:') ? https : http;
    const done = (ok: boolean, res: Record<string, unknown>) =>
      later(() => {
        if (ok) o.success?.(res);
        else o.fail?.(res);
        o.complete?.(res);
      });
    const req = lib.request(o.url, { method: o.method ?? 'GET', ca, headers: { 'content-type': 'application/json', ...o.header }, timeout: o.timeout ?? 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let data: unknown = text;
        try {
          data = JSON.parse(text);
        } catch {
          // not JSON: WeChat gives the text
        }
        done(true, { statusCode: res.statusCode, data, header: res.headers, errMsg: 'request:ok' });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => done(false, { errMsg: `request:fail ${e.message}` }));
    req.end(body);
  }

  return {
    connectSocket,
    login: (o?: Callbacks) => later(() => {
      const res = { code: opts.loginCode ?? 'test-code', errMsg: 'login:ok' };
      o?.success?.(res);
      o?.complete?.(res);
    }),
    request,
    onAppShow: (fn) => void app.show.push(fn),
    offAppShow: (fn) => remove(app.show, fn),
    onAppHide: (fn) => void app.hide.push(fn),
    offAppHide: (fn) => remove(app.hide, fn),
    onNetworkStatusChange: (fn) => void app.net.push(fn),
    offNetworkStatusChange: (fn) => remove(app.net, fn),
    tasks,
    options,
    failed,
    get connectCalls() {
      return connectCalls;
    },
    get callsWhileSuspended() {
      return callsWhileSuspended;
    },
    get live() {
      return liveCount();
    },
    get maxLive() {
      return maxLive;
    },
    get appListeners() {
      return app.show.length + app.hide.length + app.net.length;
    },
    hide: () => app.hide.slice().forEach((f) => f({})),
    show: () => app.show.slice().forEach((f) => f({ path: 'pages/index/index', scene: 1001 })),
    network: (isConnected) => app.net.slice().forEach((f) => f({ isConnected, networkType: isConnected ? 'wifi' : 'none' })),
    suspend() {
      suspended = true;
      for (const t of tasks) {
        if (!t.live) continue;
        (t as unknown as { ws: WebSocket }).ws.terminate();
        t.kill(1000, 'interrupted');
      }
    },
    resume() {
      suspended = false;
    },
    closeAll() {
      for (const t of tasks) (t as unknown as { ws?: WebSocket }).ws?.terminate();
    },
  };
}
