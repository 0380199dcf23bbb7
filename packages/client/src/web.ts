/**
 * wss-mp-client/web — the same client on the browser WebSocket (or `platform: webDriver(Impl)`,
 * or any Driver / wx-like namespace). No DOM types needed.
 */
import { createCore, type Client } from './client';
import type { ClientOptions } from './options';
import { toDriver } from './platform/resolve';
import { webDriver } from './platform/web';

export function createClient(options: ClientOptions): Client {
  const p = options && options.platform;
  const g = typeof globalThis !== 'undefined' ? (globalThis as { WebSocket?: unknown }) : {};
  return createCore(p || typeof g.WebSocket !== 'function' ? toDriver(p) : webDriver(), options);
}

export { webDriver };
export type { WebSocketLike, WebSocketConstructor } from './platform/web';
export { SocketError } from './errors';
export { CLIENT_DEFAULTS, defaultIsPong, defaultShouldReconnect } from './options';
export { wxDriver } from './platform/wx';
export type * from './index';
