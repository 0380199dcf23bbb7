/**
 * The error class of wss-mp-client/messaging. Like the core's SocketError, identity is the
 * stable `code`; what caused it (a thrown value, the server's `{code, message}`) is `cause`.
 *
 * Thrown synchronously (usage errors): ERR_OPTION, ERR_ARGUMENT.
 * Rejections of request(): ERR_TIMEOUT, ERR_REMOTE, ERR_CLOSED (and ERR_MESSAGE_TOO_BIG from the core).
 * Emitted as `error` events (the client carries on unless stated): every code.
 */
export type MessagingErrorCode =
  /** createMessagingClient(): a messaging option has a wrong type or value; the message names it and what it accepts. */
  | 'ERR_OPTION'
  /** subscribe(): the channel is not a string of 1–128 characters, or is already subscribed; request(): data is not JSON. */
  | 'ERR_ARGUMENT'
  /** request(): no ack within the timeout. The request is still kept and resent; its answer comes as a `reply` event. */
  | 'ERR_TIMEOUT'
  /** The server answered with an error (`remoteCode`: BAD_FRAME, FORBIDDEN, HANDLER_ERROR…; `cause`: its {code, message}). */
  | 'ERR_REMOTE'
  /** The server did not select the wss-mp.v1 subprotocol (or its first frame was not a welcome): no protocol on this socket. */
  | 'ERR_PROTOCOL'
  /** The server refused the token (HTTP 401/403 before the upgrade, or close 4001/4003) and no fresh one can be had: closed. */
  | 'ERR_AUTH'
  /** request() after destroy(), or a request pending at destroy(): it stays stored for the next client on this storage. */
  | 'ERR_CLOSED'
  /** The storage threw (full, unavailable) or held unreadable data; the client carries on in memory. */
  | 'ERR_STORAGE'
  /** A callback you gave (onPublication, onResync, onError, a listener, token) threw; `cause` is what it threw. */
  | 'ERR_CALLBACK';

export class MessagingError extends Error {
  declare code: MessagingErrorCode;
  declare cause: unknown;
  /** ERR_REMOTE: the server's code (protocol.md §2.3), e.g. 'FORBIDDEN'. */
  declare remoteCode: string | undefined;
  constructor(code: MessagingErrorCode, message?: string, cause?: unknown, remoteCode?: string) {
    super(message || code);
    this.name = 'MessagingError';
    this.code = code;
    this.cause = cause;
    this.remoteCode = remoteCode;
  }
}
