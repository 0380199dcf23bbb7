/**
 * Built-in JWT verification (jose) for `authenticate`: a token signed with `secret` (HMAC) or
 * by the private half of `publicKey`, in one of `algorithms`, with `sub` as the user id and the
 * claims as `conn.userData`. Tokens are never logged: refusals name only what was wrong.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SignJWT, errors, jwtVerify, type JWTPayload } from 'jose';
import { OptionError } from '../../common/errors';
import { bearerToken, type AuthResult } from './authenticate';

export interface JwtOptions {
  /** Shared secret for HS256/HS384/HS512 (at least 32 bytes). */
  secret?: string | Buffer;
  /** PEM public key (RSA, EC or Ed25519) for RS256, PS256, ES256, EdDSA (and the 384/512 variants). */
  publicKey?: string | Buffer;
  /** Accepted algorithms. @default ["HS256"] with a secret; ["RS256","ES256","EdDSA"] with a public key */
  algorithms?: string[];
  issuer?: string;
  audience?: string;
}

export interface ResolvedJwt {
  key: KeyObject;
  algorithms: string[];
  issuer: string | undefined;
  audience: string | undefined;
  /** The HMAC key when `secret` was given: what wechatLogin signs with. */
  signingKey: KeyObject | undefined;
}

/** Shortest HMAC secret accepted: RFC 7518 §3.2 requires a key at least as long as the hash (HS256: 32 bytes). */
export const MIN_SECRET_BYTES = 32;

export function resolveJwt(o: JwtOptions | undefined): ResolvedJwt | undefined {
  if (o === undefined) return undefined;
  if (o === null || typeof o !== 'object') throw new OptionError('jwt', '{ secret } or { publicKey }, with optional algorithms, issuer, audience', o);
  if ((o.secret === undefined) === (o.publicKey === undefined)) throw new OptionError('jwt', 'exactly one of secret or publicKey', Object.keys(o));
  let key: KeyObject;
  if (o.secret !== undefined) {
    const bytes = typeof o.secret === 'string' ? Buffer.from(o.secret) : o.secret;
    if (!Buffer.isBuffer(bytes) || bytes.length < MIN_SECRET_BYTES) throw new OptionError('jwt.secret', `a string or Buffer of at least ${MIN_SECRET_BYTES} bytes`, `${bytes?.length ?? 0} bytes`);
    key = createSecretKey(bytes);
  } else {
    try {
      key = createPublicKey(o.publicKey as string | Buffer);
    } catch {
      throw new OptionError('jwt.publicKey', 'a PEM public key (RSA, EC or Ed25519)', 'an unreadable key');
    }
  }
  const hmac = o.secret !== undefined;
  const algorithms = o.algorithms ?? (hmac ? ['HS256'] : ['RS256', 'ES256', 'EdDSA']);
  const allowed = hmac ? /^HS(256|384|512)$/ : /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;
  if (!Array.isArray(algorithms) || algorithms.length === 0 || !algorithms.every((a) => typeof a === 'string' && allowed.test(a))) {
    throw new OptionError('jwt.algorithms', hmac ? 'HS256, HS384 or HS512 (with a secret)' : 'RS*, PS*, ES* or EdDSA (with a public key)', algorithms);
  }
  for (const k of ['issuer', 'audience'] as const) {
    if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) throw new OptionError(`jwt.${k}`, 'a non-empty string', o[k]);
  }
  return { key, algorithms, issuer: o.issuer, audience: o.audience, signingKey: hmac ? key : undefined };
}

/** authenticate() for `jwt`: 401 for a missing, malformed, expired or badly signed token or one without `sub`. */
export function jwtAuthenticator(j: ResolvedJwt): (req: IncomingMessage) => Promise<AuthResult> {
  return async (req) => {
    const token = bearerToken(req);
    if (token === undefined) return { status: 401, reason: 'missing token' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, j.key, { algorithms: j.algorithms, issuer: j.issuer, audience: j.audience }));
    } catch (err) {
      return { status: 401, reason: err instanceof errors.JWTExpired ? 'token expired' : 'invalid token' };
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') return { status: 401, reason: 'token has no sub' };
    return { id: payload.sub, data: payload };
  };
}

/** A signed HS256 token for `sub`, valid for `ttlSeconds` (what wechatLogin issues). */
export function issueToken(j: ResolvedJwt, sub: string, ttlSeconds: number, claims: Record<string, unknown> = {}): Promise<string> {
  const t = new SignJWT(claims).setProtectedHeader({ alg: j.algorithms[0]! }).setSubject(sub).setIssuedAt().setExpirationTime(`${ttlSeconds}s`);
  if (j.issuer !== undefined) t.setIssuer(j.issuer);
  if (j.audience !== undefined) t.setAudience(j.audience);
  return t.sign(j.signingKey!);
}
