/**
 * Application heartbeat frames.
 *
 * A mini-program SocketTask has no protocol ping and cannot see pongs, so the client runs its
 * own heartbeat at the message level. The frames are small JSON texts because that is what
 * Workerman/GatewayWorker backends already parse (`{"type":"ping"}` is their convention), so
 * a backend that is not ours can answer with one line of code.
 *
 * wss-mp-server answers PING_FRAME with PONG_FRAME and never passes either to the message hook.
 * A plain echo server sends PING_FRAME back, which the client also accepts as a pong.
 */
export const PING_FRAME = '{"type":"ping"}';
export const PONG_FRAME = '{"type":"pong"}';

/** Exact match; cheap enough for the per-message hot path (length check first). */
export function isPingFrame(data: unknown): boolean {
  return typeof data === 'string' && data.length === PING_FRAME.length && data === PING_FRAME;
}

export function isPongFrame(data: unknown): boolean {
  return typeof data === 'string' && data.length === PONG_FRAME.length && data === PONG_FRAME;
}

/**
 * Largest message (bytes; UTF-8 for text) wss-mp-server accepts by default (its maxPayload);
 * bigger ones are closed with 1009. The client refuses to send more by default.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** Server defaults the client's defaults are tuned against (seconds → ms). */
export const SERVER_PING_INTERVAL_MS = 25_000;
/** Client heartbeat defaults: send a ping after this much silence... */
export const CLIENT_HEARTBEAT_INTERVAL_MS = 25_000;
/** ...and give up on the link if nothing at all arrives within this much more. */
export const CLIENT_HEARTBEAT_TIMEOUT_MS = 10_000;
