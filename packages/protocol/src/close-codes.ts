/**
 * Close-code registry shared by wss-mp-client and wss-mp-server.
 *
 * RFC 6455 §7.4 defines 1000–1015; 3000–3999 is IANA-registered; 4000–4999 is private use.
 *
 * Private codes mean different things to different servers (Discord's 4009 is "session timed
 * out", Centrifugo's 4000–4499 mean "reconnect", many backends close a silent client with 4000),
 * so no band of them can be final for every server. A client that wrongly stops is dead for good;
 * one that wrongly retries costs a few backed-off attempts. The terminal set is therefore small:
 *
 *   4001, 4003, 4009  what wss-mp-server sends for "do not come back as you are" (bad token,
 *                     not allowed, replaced by a newer session: retrying would fight that one);
 *   3500–3999         Centrifugo's transport codes for "do not reconnect" (invalid token, bad
 *                     request, forced disconnect…); no other common server uses that range.
 *
 * Everything else is retried with backoff, including any "no pong"/heartbeat close (4000,
 * Centrifugo's 3012) and 4500–4999, where wss-mp-client puts the codes it closes with itself.
 *
 * Only 1000 and 3000–4999 may be *sent* by a client: browsers throw InvalidAccessError on
 * anything else, and WeChat DevTools is Chromium.
 */
export const CloseCode = {
  /** Normal closure. WeChat also uses it, with reason "interrupted", when the app is suspended. */
  NORMAL: 1000,
  /** Server shutting down (drain) or client navigating away. Retryable. */
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: no status code was present. Never sent on the wire. */
  NO_STATUS: 1005,
  /** Reserved: the connection dropped without a close frame. Never sent on the wire. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  /** Message larger than the server's maxPayload. */
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  /** Server full (connection caps): come back later. */
  TRY_AGAIN_LATER: 1013,

  /** Terminal: authentication failed (missing, invalid or expired token). */
  UNAUTHORIZED: 4001,
  /** Terminal: authenticated, but not allowed. */
  FORBIDDEN: 4003,
  /**
   * Retryable: the server's outbound queue for this connection exceeded its byte limit (a
   * client that does not read fast enough). The client reconnects and recovers from history.
   */
  SLOW_CONSUMER: 4008,
  /**
   * Retryable, with backoff: the connection kept sending above the server's rate limit after
   * an `error` frame (wss-mp.v1) warned it. Retrying at once would be limited again, which the
   * client's backoff avoids; a terminal code would leave a merely bursty client dead for good.
   */
  RATE_LIMITED: 4029,
  /** Terminal: this session was replaced by a newer one (same user logged in elsewhere). */
  REPLACED: 4009,

  /** Client-internal: no traffic within heartbeat interval + timeout. */
  HEARTBEAT_TIMEOUT: 4500,
  /** Client-internal: the socket did not open within connectTimeout. */
  CONNECT_TIMEOUT: 4501,
  /** Client-internal: reconnect() was called on an open socket. */
  RECONNECT: 4502,
  /** Client-internal: the app went to the background and pauseOnHide closed the socket. */
  APP_HIDDEN: 4503,
  /** Client-internal: the network was lost while open; the link was replaced when it came back. */
  NETWORK_LOST: 4504,
} as const;

export type CloseCodeName = keyof typeof CloseCode;

/** Centrifugo's "do not reconnect" transport band. */
export const TERMINAL_MIN = 3500;
export const TERMINAL_MAX = 3999;

/** True for the terminal codes (4001, 4003, 4009, 3500–3999): the default client policy stops reconnecting. */
export function isTerminalCloseCode(code: number): boolean {
  return code === 4001 || code === 4003 || code === 4009 || (code >= TERMINAL_MIN && code <= TERMINAL_MAX);
}

/** Codes a client (browser, WeChat) may pass to close(): 1000 or 3000–4999. */
export function isClientSendableCloseCode(code: number): boolean {
  return code === 1000 || (code >= 3000 && code <= 4999 && Math.floor(code) === code);
}

/**
 * Codes valid in a close frame on the wire (RFC 6455 §7.4.1): what ws accepts too.
 * 1004–1006 and 1015 are reserved and never sent.
 */
export function isWireCloseCode(code: number): boolean {
  if (Math.floor(code) !== code) return false;
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

/** RFC 6455 limits a close reason to 123 UTF-8 bytes (125-byte control frame minus the code). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** UTF-8 byte length without TextEncoder (absent in the mini-program runtime). */
export function utf8ByteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
