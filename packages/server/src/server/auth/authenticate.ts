/**
 * Authentication before the upgrade: the application's `authenticate(req)` (or the built-in
 * JWT check) decides on the HTTP request, so a refused client gets an HTTP status and never a
 * 101 (WeChat would report an open followed by a close). The callback is contained: a throw or
 * an answer that is neither a user nor a refusal is a 500 (logged), and one that never settles
 * is cut at the handshake timeout with a 503.
 */
import type { IncomingMessage } from 'node:http';
import type { UpgradeRefusal } from '../admission';
import type { AuthUser } from '../hub';

/** A refusal: 401 (no or bad credentials) or 403 (valid but not allowed), with a reason (logged, and the body). */
export interface AuthRefusal {
  status: 401 | 403;
  reason: string;
}
export type AuthResult = AuthUser | AuthRefusal;
export type Authenticate = (req: IncomingMessage) => AuthResult | Promise<AuthResult>;

const STATUS_TEXT = { 401: 'Unauthorized', 403: 'Forbidden', 500: 'Internal Server Error', 503: 'Service Unavailable' } as const;

function refusal(status: 401 | 403 | 500 | 503, reason: string, level: 'info' | 'warn' = 'info', body = reason): UpgradeRefusal {
  return {
    status,
    statusText: STATUS_TEXT[status],
    body: `${body}\n`,
    reason,
    level,
    // RFC 9110 §11.6.1: a 401 carries a challenge for the scheme it wants.
    headers: status === 401 ? 'WWW-Authenticate: Bearer\r\n' : status === 503 ? 'Retry-After: 5\r\n' : undefined,
  };
}

/** Checks what authenticate returned; anything malformed is the application's bug (500). */
export function toDecision(r: unknown): AuthUser | UpgradeRefusal {
  if (r !== null && typeof r === 'object') {
    const o = r as Record<string, unknown>;
    if (typeof o.id === 'string' && o.id !== '' && o.status === undefined) return { id: o.id, data: o.data };
    if ((o.status === 401 || o.status === 403) && o.id === undefined) {
      const reason = typeof o.reason === 'string' && o.reason !== '' ? o.reason.slice(0, 200) : STATUS_TEXT[o.status].toLowerCase();
      return refusal(o.status, reason, 'info');
    }
  }
  return refusal(500, 'authenticate returned neither { id } nor { status: 401 | 403, reason }', 'warn', 'internal error');
}

/**
 * Runs `authenticate` for one upgrade; resolves with the user or the HTTP refusal, never
 * rejects. `report` gets what the callback threw (with a 500 answered).
 */
export function runAuthenticate(fn: Authenticate, req: IncomingMessage, timeoutMs: number, report: (err: unknown) => void): Promise<AuthUser | UpgradeRefusal> {
  let r: AuthResult | Promise<AuthResult>;
  try {
    r = fn(req);
  } catch (err) {
    report(err);
    return Promise.resolve(refusal(500, 'authenticate threw', 'warn', 'internal error'));
  }
  if (r === null || typeof r !== 'object' || typeof (r as Promise<AuthResult>).then !== 'function') return Promise.resolve(toDecision(r));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(refusal(503, `authenticate did not settle within ${timeoutMs} ms`, 'warn', 'authentication timed out')), timeoutMs);
    (r as Promise<AuthResult>).then(
      (v) => {
        clearTimeout(timer);
        resolve(toDecision(v));
      },
      (err) => {
        clearTimeout(timer);
        report(err);
        resolve(refusal(500, 'authenticate threw', 'warn', 'internal error'));
      },
    );
  });
}

/** The token of an upgrade request: `Authorization: Bearer …`, else the `token` query parameter. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined;
}
