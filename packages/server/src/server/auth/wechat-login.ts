/**
 * `wechatLogin`: an HTTP route (POST {path} with `{"code": "<wx.login code>"}`) that exchanges
 * the code for an openid with WeChat's code2Session and answers a short-lived JWT with
 * `sub = openid`. The session_key stays on the server: it is only passed to `onSession`.
 * code2Session: GET {apiBase}/sns/jscode2session?appid&secret&js_code&grant_type=authorization_code
 * → { openid, session_key, unionid? } or { errcode, errmsg }
 * (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html).
 */
import type http from 'node:http';
import { OptionError } from '../../common/errors';
import type { Logger } from '../../common/log';
import { issueToken, type ResolvedJwt } from './jwt';

export const WECHAT_LOGIN_DEFAULTS = Object.freeze({
  apiBase: 'https://api.weixin.qq.com',
  path: '/login',
  /** Lifetime of the issued token, seconds. */
  tokenTtl: 7200,
  /** Limit for the code2Session call, ms. */
  timeout: 5000,
});

export interface WechatLoginOptions {
  appId: string;
  appSecret: string;
  /** @default "https://api.weixin.qq.com" */
  apiBase?: string;
  /** @default "/login" */
  path?: string;
  /** @default 7200 */
  tokenTtl?: number;
  /** @default 5000 */
  timeout?: number;
  /** Receives the session_key (to decrypt wx.getUserProfile data…); contained like every hook. */
  onSession?(openid: string, sessionKey: string, unionid: string | undefined): void | Promise<void>;
}

type Resolved = Required<Omit<WechatLoginOptions, 'onSession'>> & Pick<WechatLoginOptions, 'onSession'>;

export function resolveWechatLogin(o: WechatLoginOptions | undefined, jwt: ResolvedJwt | undefined): Resolved | undefined {
  if (o === undefined) return undefined;
  if (o === null || typeof o !== 'object') throw new OptionError('wechatLogin', '{ appId, appSecret, … }', o);
  for (const k of ['appId', 'appSecret'] as const) if (typeof o[k] !== 'string' || o[k] === '') throw new OptionError(`wechatLogin.${k}`, 'a non-empty string', k === 'appSecret' ? typeof o[k] : o[k]);
  if (jwt?.signingKey === undefined) throw new OptionError('wechatLogin', 'jwt: { secret } as well (the issued tokens are signed with it)', 'no jwt secret');
  const d = WECHAT_LOGIN_DEFAULTS;
  const apiBase = (o.apiBase ?? d.apiBase).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(apiBase)) throw new OptionError('wechatLogin.apiBase', 'an http(s) URL such as https://api.weixin.qq.com', o.apiBase);
  const path = o.path ?? d.path;
  if (typeof path !== 'string' || !path.startsWith('/')) throw new OptionError('wechatLogin.path', 'a path such as /login', path);
  const tokenTtl = o.tokenTtl ?? d.tokenTtl;
  if (!Number.isInteger(tokenTtl) || tokenTtl < 1) throw new OptionError('wechatLogin.tokenTtl', 'seconds, an integer ≥ 1', tokenTtl);
  const timeout = o.timeout ?? d.timeout;
  if (!Number.isInteger(timeout) || timeout < 1) throw new OptionError('wechatLogin.timeout', 'milliseconds, an integer ≥ 1', timeout);
  if (o.onSession !== undefined && typeof o.onSession !== 'function') throw new OptionError('wechatLogin.onSession', 'a function', o.onSession);
  return { appId: o.appId, appSecret: o.appSecret, apiBase, path, tokenTtl, timeout, onSession: o.onSession };
}

const MAX_BODY = 1024;

function reply(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...extra });
  res.end(text);
}

function readCode(req: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) return void resolve(undefined);
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        const code = (JSON.parse(Buffer.concat(chunks).toString()) as { code?: unknown }).code;
        resolve(typeof code === 'string' && code.length > 0 && code.length <= 256 ? code : undefined);
      } catch {
        resolve(undefined);
      }
    });
    req.on('error', () => resolve(undefined));
  });
}

interface Code2Session {
  openid?: string;
  session_key?: string;
  unionid?: string;
  errcode?: number;
  errmsg?: string;
}

/** WeChat's answer as our HTTP answer: errcodes the client caused are 401, WeChat's own trouble 503/502. */
function failure(r: Code2Session): [number, string] {
  if (r.errcode === 40029 || r.errcode === 40163 || r.errcode === 40226) return [401, 'invalid code'];
  if (r.errcode === -1 || r.errcode === 45011) return [503, 'WeChat is busy; retry later'];
  return [502, 'WeChat login failed'];
}

/** The route: true when it answered `req` (the path and method are its). */
export function wechatLoginRoute(o: Resolved, jwt: ResolvedJwt, log: Logger): (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean {
  return (req, res, path) => {
    if (path !== o.path) return false;
    if (req.method !== 'POST') {
      reply(res, 405, { error: 'use POST with {"code": "…"}' }, { Allow: 'POST' });
      return true;
    }
    login(o, jwt, log, req, res).catch((err) => {
      log.error('error', { where: 'wechat-login', error: err });
      if (!res.headersSent) reply(res, 500, { error: 'internal error' });
    });
    return true;
  };
}

async function login(o: Resolved, jwt: ResolvedJwt, log: Logger, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const code = await readCode(req);
  if (code === undefined) return reply(res, 400, { error: 'expected a JSON body {"code": "<wx.login code>"}' });
  const url = `${o.apiBase}/sns/jscode2session?appid=${encodeURIComponent(o.appId)}&secret=${encodeURIComponent(o.appSecret)}` +
    `&js_code=${encodeURIComponent(code)}&grant_type=authorization_code`;
  let r: Code2Session;
  try {
    const answer = await fetch(url, { signal: AbortSignal.timeout(o.timeout) });
    r = (await answer.json()) as Code2Session;
  } catch (err) {
    const timedOut = (err as Error).name === 'TimeoutError';
    // Never the URL: it carries the app secret.
    log.warn('login', { ok: false, status: timedOut ? 504 : 502, error: timedOut ? 'code2Session timed out' : (err as Error).name });
    return reply(res, timedOut ? 504 : 502, { error: timedOut ? 'WeChat did not answer in time' : 'WeChat could not be reached' });
  }
  if (typeof r.openid !== 'string' || r.openid === '' || typeof r.session_key !== 'string') {
    const [status, error] = failure(r);
    log.info('login', { ok: false, status, errcode: r.errcode, errmsg: r.errmsg });
    return reply(res, status, { error, errcode: r.errcode }, status === 503 ? { 'Retry-After': '5' } : {});
  }
  if (o.onSession) await withTimeout(o.onSession(r.openid, r.session_key, r.unionid), o.timeout);
  const token = await issueToken(jwt, r.openid, o.tokenTtl, r.unionid ? { unionid: r.unionid } : {});
  log.info('login', { ok: true, status: 200 });
  reply(res, 200, { token, expiresIn: o.tokenTtl });
}

/** A hook's promise, bounded: a hook that never settles fails the login instead of hanging it. */
function withTimeout(p: void | Promise<void>, ms: number): Promise<void> {
  if (!p || typeof p.then !== 'function') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`onSession did not settle within ${ms} ms`)), ms);
    p.then(() => {
      clearTimeout(t);
      resolve();
    }, (err) => {
      clearTimeout(t);
      reject(err);
    });
  });
}
