/**
 * Who may connect: pure accept/refuse decisions, no I/O. Two moments: before the upgrade
 * (shutdown, path, browser origin: answered with an HTTP status) and once the WebSocket is
 * open (shutdown again, connection caps: answered with a close code, because the caps are
 * checked against the connection set only after the handshake has finished).
 */
import { CloseCode } from '@wss-mp/protocol';
import { originRefusal } from './origin';

/** An upgrade refused with an HTTP answer. */
export interface UpgradeRefusal {
  status: number;
  statusText: string;
  body: string;
  /** Log reason. */
  reason: string;
  level: 'info' | 'warn';
  /** Extra header lines, each ending in CRLF. */
  headers?: string;
  /** The Origin header, when that is why. */
  origin?: string;
}

export interface UpgradeRules {
  paths: readonly string[];
  /** Normalised browser origins; empty = any. */
  allowedOrigins: ReadonlySet<string>;
}

export const SHUTTING_DOWN: UpgradeRefusal = Object.freeze({
  status: 503,
  statusText: 'Service Unavailable',
  body: 'server shutting down\n',
  reason: 'server shutting down',
  level: 'info',
  headers: 'Retry-After: 5\r\n',
});

/**
 * Before the upgrade. Returns the index of the configured path the request matched (so the
 * accepted case allocates nothing), or why it is refused.
 */
export function admitUpgrade(
  rules: UpgradeRules,
  draining: boolean,
  path: string,
  originHeader: string | undefined,
): number | UpgradeRefusal {
  if (draining) return SHUTTING_DOWN;
  const pathIndex = rules.paths.indexOf(path);
  if (pathIndex === -1) {
    return {
      status: 404,
      statusText: 'Not Found',
      body: `No WebSocket endpoint at ${path}; use ${rules.paths[0]}\n`,
      reason: `no WebSocket endpoint at this path (serving ${rules.paths.join(', ')})`,
      level: 'info',
    };
  }
  // Parsed strictly (origin.ts): with an allow-list, `null`, paths, lists and duplicates are refused;
  // an absent or non-web origin (mini programs, apps) passes.
  const badOrigin = originRefusal(originHeader, rules.allowedOrigins);
  if (badOrigin !== undefined) {
    return { status: 403, statusText: 'Forbidden', body: 'origin not allowed\n', reason: badOrigin, level: 'warn', origin: String(originHeader) };
  }
  return pathIndex;
}

export interface Caps {
  /** 0 = unlimited. */
  maxConnections: number;
  /** 0 = unlimited. */
  maxConnectionsPerIp: number;
}

/** An open WebSocket refused with a close code. */
export interface OpenRefusal {
  code: number;
  reason: string;
  /** Shutdown is expected, not worth a warning; a cap is. */
  level: 'none' | 'warn';
}

export const REFUSE_SHUTTING_DOWN: OpenRefusal = Object.freeze({ code: CloseCode.GOING_AWAY, reason: 'server shutting down', level: 'none' });
export const REFUSE_FULL: OpenRefusal = Object.freeze({ code: CloseCode.TRY_AGAIN_LATER, reason: 'server full', level: 'warn' });
export const REFUSE_IP_FULL: OpenRefusal = Object.freeze({
  code: CloseCode.TRY_AGAIN_LATER,
  reason: 'too many connections from your address',
  level: 'warn',
});

/** Once open: `open` connections in all, `fromIp` from this client's IP. undefined = accept. */
export function admitOpen(caps: Caps, draining: boolean, open: number, fromIp: number): OpenRefusal | undefined {
  if (draining) return REFUSE_SHUTTING_DOWN;
  if (caps.maxConnections > 0 && open >= caps.maxConnections) return REFUSE_FULL;
  if (caps.maxConnectionsPerIp > 0 && fromIp >= caps.maxConnectionsPerIp) return REFUSE_IP_FULL;
  return undefined;
}
