import type { ClientOptions } from '../options';
import { MessagingError } from './errors';
import type { MessagingStorage } from './storage';

/** The subprotocol of docs/protocol.md, offered on every attempt. */
export const SUBPROTOCOL = 'wss-mp.v1';

/** What a token function is told: `refused` = the server refused the previous token (drop any cached one). */
export interface TokenInfo {
  refused: boolean;
}

export type TokenOption = string | ((info: TokenInfo) => string | PromiseLike<string>);

export interface MessagingOptions extends ClientOptions {
  /**
   * Sent on every attempt: `Authorization: Bearer <token>` where the host can set handshake
   * headers (mini programs), `?token=` where it cannot (webPlatform()). A function is called
   * before every attempt (fresh tokens); a throw or rejection is one failed attempt.
   */
  token?: TokenOption;
  /** Where unacknowledged requests and channel positions persist. Default: the platform's get/set/removeStorageSync, else memory. */
  storage?: MessagingStorage;
  /** Prefix of the storage keys (one client per prefix; use one per user). @default 'wss-mp' */
  storageKey?: string;
  /** ms request() waits for its ack before rejecting with ERR_TIMEOUT (the request itself is kept); 0 = wait forever. @default 30000 */
  requestTimeout?: number;
  /** Refusals (401/403) answered by asking a token *function* again before ERR_AUTH closes the client. @default 2 */
  authRetries?: number;
}

/** Every messaging default, documented one-to-one in README.md (a test compares them). */
export const MESSAGING_DEFAULTS = {
  storageKey: 'wss-mp',
  requestTimeout: 30000,
  authRetries: 2,
};

/** What each messaging option accepts (the message of ERR_OPTION); the type is checked against it. */
const ACCEPTS: Record<string, string> = {
  token: 'a string or function',
  storage: 'an object {getItem,setItem}',
  storageKey: 'a string',
  requestTimeout: 'a number >= 0',
  authRetries: 'a number >= 0',
};

/** Splits the messaging options from the core's, validating ours (the core validates the rest). */
export function splitOptions(input: MessagingOptions) {
  const core: any = Object.assign({}, input);
  const m = Object.assign({}, MESSAGING_DEFAULTS) as typeof MESSAGING_DEFAULTS & { token?: TokenOption; storage?: MessagingStorage };
  for (const k in ACCEPTS) {
    const v = core[k];
    delete core[k];
    if (v === undefined) continue;
    const t = typeof v;
    if (ACCEPTS[k]!.indexOf(t) < 0 || !(t === 'number' ? v >= 0 && v < Infinity : v) || (t === 'object' && !(v.getItem && v.setItem))) {
      throw new MessagingError('ERR_OPTION', `option "${k}" must be ${ACCEPTS[k]}; got ${v}`);
    }
    (m as any)[k] = v;
  }
  return [core as ClientOptions, m] as const;
}
