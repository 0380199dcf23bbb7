/**
 * The one error class of wss-mp-client. Identity is the stable `code`; the host's own error
 * (WeChat `{errMsg}`, a DOM Event, a thrown value) is kept in `cause`, never parsed into the code.
 *
 * Thrown synchronously (usage errors): ERR_OPTION, ERR_PLATFORM, ERR_ARGUMENT.
 * Emitted as `error` events (the loop carries on): every other code.
 */
export type SocketErrorCode =
  /** createClient(): an option has a wrong type or value; the message names it and what it accepts. */
  | 'ERR_OPTION'
  /** createClient(): no usable host API (no global `wx`, or `platform` lacks connectSocket). */
  | 'ERR_PLATFORM'
  /** send(): data not a string, ArrayBuffer or view; close()/reconnect(): invalid close code or reason. */
  | 'ERR_ARGUMENT'
  /** The url option threw, rejected or returned something that is not a ws(s):// endpoint. */
  | 'ERR_ENDPOINT'
  /** The socket did not open within connectTimeout. */
  | 'ERR_CONNECT_TIMEOUT'
  /** connectSocket failed or the socket reported an error (onError); the host's error is `cause`. */
  | 'ERR_SOCKET'
  /** Nothing arrived within heartbeatInterval + heartbeatTimeout: the link was presumed dead. */
  | 'ERR_HEARTBEAT_TIMEOUT'
  /** The platform refused to send a message on an open socket; the message is lost. */
  | 'ERR_SEND'
  /** send(): the message is larger than maxMessageSize; it was dropped, the ones after it are not affected. */
  | 'ERR_MESSAGE_TOO_BIG'
  /** A callback you gave (a listener, url, shouldReconnect, isPong) threw; `cause` is what it threw. The client applied the default and carried on. */
  | 'ERR_CALLBACK'
  /** The queue was full: a message was dropped (the oldest with drop-oldest, the new one with reject). */
  | 'ERR_QUEUE_FULL'
  /** maxRetries consecutive attempts failed; the client is closed until reconnect(). */
  | 'ERR_RETRIES_EXHAUSTED';

export class SocketError extends Error {
  declare code: SocketErrorCode;
  declare cause: unknown;
  /** `message` defaults to the code; `cause` is what the host reported, untouched. */
  constructor(code: SocketErrorCode, message?: string, cause?: unknown) {
    super(message || code);
    this.name = 'SocketError';
    this.code = code;
    this.cause = cause;
  }
}
