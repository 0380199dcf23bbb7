/**
 * wss-mp-client/alipay — the client on Alipay's `my` (read when a client is created). Kept out
 * of the WeChat entry so WeChat bundles do not carry the adapter and its base64 codec.
 */
import { createCore, type Client } from './client';
import type { ClientOptions } from './options';
import { alipayPlatform, type AlipayNamespace } from './platform/alipay';

declare const my: AlipayNamespace | undefined;

export function createClient(options: ClientOptions): Client {
  return createCore((options && options.platform) || (typeof my !== 'undefined' && my && alipayPlatform(my)), options);
}

export { alipayPlatform, toBase64, fromBase64 } from './platform/alipay';
export type { AlipayNamespace } from './platform/alipay';
export { SocketError } from './errors';
export { CLIENT_DEFAULTS, defaultIsPong, defaultShouldReconnect } from './options';
export type * from './index';
