/**
 * wss-mp-client/web — the same client on the browser WebSocket (`webPlatform()`, or
 * `webPlatform(Impl)` for another W3C implementation). No DOM types needed.
 */
import { createCore, type Client } from './client';
import type { ClientOptions } from './options';
import { webPlatform } from './platform/web';

export function createClient(options: ClientOptions): Client {
  const g = (typeof globalThis !== 'undefined' ? globalThis : {}) as { WebSocket?: unknown };
  return createCore((options && options.platform) || (typeof g.WebSocket === 'function' && webPlatform()), options);
}

export { webPlatform };
export type { WebSocketLike, WebSocketConstructor } from './platform/web';
export { SocketError } from './errors';
export { CLIENT_DEFAULTS, defaultIsPong, defaultShouldReconnect } from './options';
export type * from './index';
