/**
 * wss-mp-client — WeChat entry (built into miniprogram_dist/index.js for Build npm). The default
 * platform is the global `wx`, read when a client is created, never at import. Pass
 * `platform: tt | qq | swan | uni | Taro` (any wx-like namespace) for other hosts.
 */
import { createCore, type Client } from './client';
import type { ClientOptions } from './options';

export function createClient(options: ClientOptions): Client {
  return createCore((options && options.platform) || (typeof wx !== 'undefined' && wx), options);
}

export { SocketError } from './errors';
// The emitter of both entries: wss-mp-client/messaging takes it from here, so the WeChat build carries one copy.
export { createEmitter, type Emitter, type Listener } from './events';
export { CLIENT_DEFAULTS, defaultIsPong, defaultShouldReconnect } from './options';
export type { Client, ClientEvents, State, Stats, SendResult } from './client';
export type { ClientOptions, Clock, EndpointInput, UrlOption } from './options';
export type { SocketErrorCode } from './errors';
export type { Overflow } from './queue';
export type { ConnectSocketOption, Data, Endpoint, Platform, SocketTaskLike } from './platform/types';
