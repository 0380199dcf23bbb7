// The two clients under comparison, each loaded the way WeChat loads a module (fresh realm,
// define()-style wrapper, no DOM or Node globals) on top of the same wx shim:
// - wss-mp-client: the built packages/client/miniprogram_dist/index.js, default platform = global wx;
// - reconnecting-websocket 4.4.0 through the W3C facade in ../support/w3c-adapter.ts.
// Both get the same scaled-down timings (ms instead of s). A Handle is the common surface the
// scenarios drive.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMiniprogramModule, type LoadedModule } from '../support/miniprogram-module';
import type { WxShim } from '../support/wx-shim';
import { makeW3CAdapter } from '../support/w3c-adapter';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLIENT_MP = path.resolve(here, '../../packages/client/miniprogram_dist/index.js');
const require = createRequire(path.resolve(here, '../../packages/client/package.json'));
export const RWS_FILE = require.resolve('reconnecting-websocket');

export type Url = string | (() => string | Promise<string>);

export interface Timing {
  /** First retry window / RWS minReconnectionDelay (ms). */
  delay: number;
  /** Cap of the retry window / RWS maxReconnectionDelay (ms). */
  maxDelay: number;
  connectTimeout: number;
  maxRetries?: number;
  /** wss-mp-client only (RWS has no heartbeat). */
  heartbeatInterval?: number;
  heartbeatTimeout?: number;
  random?: () => number;
}

export const FAST: Timing = { delay: 100, maxDelay: 400, connectTimeout: 800, heartbeatInterval: 400, heartbeatTimeout: 400 };

export interface CloseInfo {
  code: unknown;
  reason: unknown;
}

export interface Handle {
  readonly opens: number;
  readonly messages: unknown[];
  readonly closes: CloseInfo[];
  readonly errors: unknown[];
  isOpen(): boolean;
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  /** Bytes/messages waiting: RWS bufferedAmount, wss-mp-client stats.queued. */
  buffered(): number;
  close(code?: number, reason?: string): void;
  reconnect(code?: number, reason?: string): void;
  /** A second, independent close listener (RWS: its onclose property; ours: another on()). */
  addCloseListener(fn: (e: CloseInfo) => void): void;
  destroy(): void;
  /** The module as loaded (reads, import-time side effects). */
  module: LoadedModule;
}

export interface Subject {
  name: string;
  /** `noAdapter`: RWS without a WebSocket class (S1). */
  create(wx: WxShim, url: Url, timing: Timing, opts?: { noAdapter?: boolean }): Handle;
}

export const wssMpClient: Subject = {
  name: 'wss-mp-client',
  create(wx, url, t) {
    const module = loadMiniprogramModule(CLIENT_MP, { wx });
    const c = module.exports.createClient({
      url,
      backoffBase: t.delay,
      backoffMax: t.maxDelay,
      connectTimeout: t.connectTimeout,
      maxRetries: t.maxRetries ?? Infinity,
      heartbeatInterval: t.heartbeatInterval ?? 0,
      heartbeatTimeout: t.heartbeatTimeout ?? 0,
      minUptime: 1000,
      ...(t.random ? { random: t.random } : {}),
    });
    const h = track();
    c.on('open', () => h.opens++);
    c.on('message', (e: { data: unknown }) => h.messages.push(e.data));
    c.on('close', (e: CloseInfo) => h.closes.push({ code: e.code, reason: e.reason }));
    c.on('error', (e: unknown) => h.errors.push(e));
    return Object.assign(h, {
      isOpen: () => c.state === 'open',
      send: (d: string | ArrayBuffer | ArrayBufferView) => void c.send(d),
      buffered: () => c.stats.queued,
      close: (code?: number, reason?: string) => c.close(code, reason),
      reconnect: (code?: number, reason?: string) => c.reconnect(code, reason),
      addCloseListener: (fn: (e: CloseInfo) => void) => void c.on('close', fn),
      destroy: () => c.destroy(),
      module,
      client: c,
    });
  },
};

export const reconnectingWebSocket: Subject = {
  name: 'reconnecting-websocket 4.4.0',
  create(wx, url, t, opts = {}) {
    const module = loadMiniprogramModule(RWS_FILE, { wx });
    const RWS = module.exports;
    const h = track();
    const options: Record<string, unknown> = {
      minReconnectionDelay: t.delay,
      maxReconnectionDelay: t.maxDelay,
      connectionTimeout: t.connectTimeout,
      maxRetries: t.maxRetries ?? Infinity,
      minUptime: 1000,
    };
    if (!opts.noAdapter) options.WebSocket = makeW3CAdapter(wx);
    const ws = new RWS(url, undefined, options);
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => h.opens++);
    ws.addEventListener('message', (e: { data: unknown }) => h.messages.push(e.data));
    ws.addEventListener('close', (e: CloseInfo) => h.closes.push({ code: e.code, reason: e.reason }));
    ws.addEventListener('error', (e: unknown) => h.errors.push(e));
    return Object.assign(h, {
      isOpen: () => ws.readyState === 1,
      send: (d: string | ArrayBuffer | ArrayBufferView) => ws.send(d),
      buffered: () => ws.bufferedAmount,
      close: (code?: number, reason?: string) => ws.close(code, reason),
      reconnect: (code?: number, reason?: string) => ws.reconnect(code, reason),
      addCloseListener: (fn: (e: CloseInfo) => void) => (ws.onclose = fn),
      destroy: () => {
        ws.close();
      },
      module,
      client: ws,
    });
  },
};

function track() {
  return { opens: 0, messages: [] as unknown[], closes: [] as CloseInfo[], errors: [] as unknown[] };
}

export const SUBJECTS = [wssMpClient, reconnectingWebSocket];
