/**
 * wss-mp-client/messaging — acknowledged requests and recoverable channels over the wss-mp.v1
 * protocol (docs/protocol.md), on top of the core client. The default platform is the global
 * `wx`, read when a client is created; pass `platform` for others (webPlatform() in browsers).
 */
import { CLIENT_DEFAULTS, createClient, createEmitter } from './index';
import { createMessaging, type MessagingClient } from './messaging/client';
import type { MessagingOptions } from './messaging/options';

export function createMessagingClient(options: MessagingOptions): MessagingClient {
  return createMessaging(createClient, createEmitter, CLIENT_DEFAULTS, (options && options.platform) || (typeof wx !== 'undefined' && wx), options);
}

export { MessagingError } from './messaging/errors';
export { MESSAGING_DEFAULTS } from './messaging/options';
export type { MessagingErrorCode } from './messaging/errors';
export type { MessagingOptions, TokenInfo, TokenOption } from './messaging/options';
export type { MessagingStorage } from './messaging/storage';
export type { MessagingClient, MessagingEvents, Position, ResyncInfo, ServerError, Subscription, SubscriptionHandlers } from './messaging/client';
