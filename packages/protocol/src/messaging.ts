/**
 * The messaging protocol `wss-mp.v1` (docs/protocol.md): frame types, limits, error codes and
 * the small parse/encode helpers both halves use. Plain data and pure functions, nothing at
 * module load beyond constants, so a bundle that imports only the close codes drops all of it.
 */

/** The WebSocket subprotocol a messaging client offers and a messaging server selects. */
export const MESSAGING_SUBPROTOCOL = 'wss-mp.v1';
/** The protocol version in `welcome.v`. */
export const MESSAGING_VERSION = 1;
/** The channel a client subscribes to for its user's personal stream. */
export const USER_CHANNEL = '$user';

/**
 * Requests a client leaves unanswered at most (docs/protocol.md §4.1): it sends the next as
 * answers come. A server may close a connection that has far more frames refused and waiting.
 */
export const MAX_UNACKED_REQUESTS = 64;

/** Longest request/subscription id, in UTF-16 code units (the doc: 1–64 chars). */
export const MAX_ID_LENGTH = 64;
/** Longest channel name (the doc: 1–128 chars). */
export const MAX_CHANNEL_LENGTH = 128;

/** Stable error codes of `ack.error.code`, `unsub.code` and `error.code` (§2.3). */
export const MessagingErrorCode = {
  BAD_FRAME: 'BAD_FRAME',
  FORBIDDEN: 'FORBIDDEN',
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  HANDLER_ERROR: 'HANDLER_ERROR',
  TIMEOUT: 'TIMEOUT',
  UNAVAILABLE: 'UNAVAILABLE',
  /**
   * In an `error` frame with the refused frame's `id` and `retryAfter` (ms): over the server's
   * rate limit, not processed; resend it (same id) after that long. Resending before that,
   * after a grace period, closes the connection with 4029.
   */
  RATE_LIMITED: 'RATE_LIMITED',
} as const;
export type MessagingErrorCode = (typeof MessagingErrorCode)[keyof typeof MessagingErrorCode];

/** A position in a stream: the last offset seen and the epoch it belongs to. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

export interface ReqFrame {
  t: 'req';
  id: string;
  data: unknown;
}
export interface SubFrame {
  t: 'sub';
  id: string;
  ch: string;
  pos?: StreamPosition;
}
export interface UnsubFrame {
  t: 'unsub';
  id: string;
  ch: string;
}
export type ClientFrame = ReqFrame | SubFrame | UnsubFrame;

export interface WelcomeFrame {
  t: 'welcome';
  v: number;
  cid: string;
  user: string | null;
  ping: number;
}
export interface FrameError {
  code: MessagingErrorCode | string;
  message: string;
}
export interface AckFrame {
  t: 'ack';
  id: string;
  data?: unknown;
  error?: FrameError;
}
/** `ack.data` of a `sub`. */
export interface SubscribeResult extends StreamPosition {
  ch: string;
  recovered: boolean;
}
export interface PubFrame extends StreamPosition {
  t: 'pub';
  ch: string;
  data: unknown;
}
export interface MsgFrame {
  t: 'msg';
  data: unknown;
}
export interface ServerUnsubFrame {
  t: 'unsub';
  ch: string;
  code: string;
  message?: string;
}
export interface ErrorFrame {
  t: 'error';
  /** Present: the client frame with this id was not processed; resend it after `retryAfter` ms. */
  id?: string;
  code: string;
  message: string;
  /** ms after which the refused frame may be resent (with `id`). */
  retryAfter?: number;
}
export type ServerFrame = WelcomeFrame | AckFrame | PubFrame | MsgFrame | ServerUnsubFrame | ErrorFrame;

/**
 * What a parse that failed returns: the `BAD_FRAME` message, and the id of a known frame type
 * when one was readable (the server then answers with an `ack` carrying the error, so the
 * client's pending request settles; otherwise with an `error` frame).
 */
export interface BadFrame {
  bad: string;
  id?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validId(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= MAX_ID_LENGTH;
}

/** True for a channel name of 1–128 chars. (Whether `$` names are allowed is the server's call.) */
export function isValidChannel(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= MAX_CHANNEL_LENGTH;
}

function validPosition(v: unknown): v is StreamPosition {
  return isObject(v) && Number.isSafeInteger(v.offset) && (v.offset as number) >= 0 && typeof v.epoch === 'string';
}

/**
 * Parses one client → server text frame. Unknown fields are ignored (forward compatibility);
 * anything else that does not follow §2.1 comes back as a BadFrame naming what is wrong.
 */
export function parseClientFrame(text: string): ClientFrame | BadFrame {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { bad: 'not JSON' };
  }
  if (!isObject(v)) return { bad: 'not a JSON object' };
  const t = v.t;
  // An unknown type gets an `error` frame, not an ack: no id is returned for it.
  if (t !== 'req' && t !== 'sub' && t !== 'unsub') return { bad: `unknown frame type ${JSON.stringify(t) ?? 'undefined'}` };
  const id = validId(v.id) ? v.id : undefined;
  if (id === undefined) return { bad: `${t}: id must be a string of 1–${MAX_ID_LENGTH} chars` };
  if (t === 'req') return { t, id, data: v.data };
  if (!isValidChannel(v.ch)) return { bad: `${t}: ch must be a string of 1–${MAX_CHANNEL_LENGTH} chars`, id };
  if (t === 'unsub') return { t, id, ch: v.ch };
  if (v.pos === undefined) return { t, id, ch: v.ch };
  if (!validPosition(v.pos)) return { bad: 'sub: pos must be { offset: integer ≥ 0, epoch: string }', id };
  return { t, id, ch: v.ch, pos: { offset: v.pos.offset, epoch: v.pos.epoch } };
}

/** True when parseClientFrame failed. */
export function isBadFrame(f: ClientFrame | BadFrame): f is BadFrame {
  return (f as BadFrame).bad !== undefined;
}

/**
 * Parses one server → client text frame: the `t` and the fields the client relies on are
 * checked; undefined for anything else (a client ignores what it cannot read rather than
 * guessing).
 */
export function parseServerFrame(text: string): ServerFrame | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  switch (v.t) {
    case 'welcome':
      return typeof v.v === 'number' && typeof v.cid === 'string' ? (v as unknown as WelcomeFrame) : undefined;
    case 'ack':
      return validId(v.id) ? (v as unknown as AckFrame) : undefined;
    case 'pub':
      return isValidChannel(v.ch) && Number.isSafeInteger(v.offset) && (v.offset as number) >= 1 && typeof v.epoch === 'string'
        ? (v as unknown as PubFrame)
        : undefined;
    case 'msg':
      return v as unknown as MsgFrame;
    case 'unsub':
      return isValidChannel(v.ch) && typeof v.code === 'string' ? (v as unknown as ServerUnsubFrame) : undefined;
    case 'error':
      return typeof v.code === 'string' ? (v as unknown as ErrorFrame) : undefined;
    default:
      return undefined;
  }
}

/** One frame as the text of one WebSocket message. */
export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  return JSON.stringify(frame);
}
