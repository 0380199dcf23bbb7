/**
 * wss-mp-client/alipay — the client on Alipay's `my` (read when a client is created). Kept out of
 * the WeChat entry so WeChat bundles do not carry the base64 codec.
 */
import { createCore, type Client } from './client';
import type { ClientOptions } from './options';
import { alipayDriver, type AlipayNamespace } from './platform/alipay';
import { toDriver } from './platform/resolve';

declare const my: AlipayNamespace | undefined;

export function createClient(options: ClientOptions): Client {
  const p = options && options.platform;
  return createCore(!p && typeof my !== 'undefined' && my ? alipayDriver(my) : toDriver(p), options);
}

export { alipayDriver };
export type { AlipayNamespace } from './platform/alipay';
export { SocketError } from './errors';
export { CLIENT_DEFAULTS, defaultIsPong, defaultShouldReconnect } from './options';
export { wxDriver } from './platform/wx';
export type * from './index';
