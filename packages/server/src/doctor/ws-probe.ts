/**
 * The WebSocket upgrade on the exact URL, then one message round trip. Uses the `ws` client
 * with the same pinned address as the TLS probes; the certificate is not enforced here (the
 * `chain` check judges it) so a trust problem does not hide what the upgrade returns.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import WebSocket from 'ws';
import { isPongFrame } from '@wss-mp/protocol';
import type { Target } from './target';

export interface UpgradeResult {
  ok: boolean;
  ms: number;
  /** HTTP status of the answer (101 on success); absent when none arrived. */
  status?: number;
  statusText?: string;
  /** `Server` response header, if any (helps tell nginx from the backend). */
  server?: string;
  location?: string;
  /** First bytes of a non-101 body, single-lined. */
  body?: string;
  errorCode?: string;
  errorMessage?: string;
}

export type EchoOutcome = 'echo' | 'pong' | 'other' | 'silent' | 'closed' | 'error';

export interface EchoResult {
  outcome: EchoOutcome;
  /** Send → matching reply, in ms. */
  ms?: number;
  /** First message that was neither echo nor pong (truncated). */
  other?: string;
  closeCode?: number;
  closeReason?: string;
  errorMessage?: string;
}

export interface WsProbeResult {
  upgrade: UpgradeResult;
  echo?: EchoResult;
}

export interface WsProbeOptions {
  address: string;
  ca?: Array<string | Buffer>;
  timeoutMs: number;
  payload: string;
  /** Upgrade on the path alone, without the URL's query or credentials (they may carry a
   * token): for a server whose certificate did not verify. */
  withholdSecrets?: boolean;
}

const BODY_BYTES = 300;

/** A dns.lookup replacement that always answers `address` (the `--resolve` pin). */
export function pinnedLookup(address: string): LookupFunction {
  const family = isIP(address);
  return ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (opts && opts.all) cb(null, [{ address, family }]);
    else cb(null, address, family);
  }) as unknown as LookupFunction;
}

/** The URL the probe connects to: ws(s), no fragment, and without secrets when asked. */
function probeUrl(target: Target, withholdSecrets: boolean | undefined): URL {
  const url = new URL(target.url.href);
  url.protocol = target.secure ? 'wss:' : 'ws:';
  url.hash = '';
  if (withholdSecrets) {
    url.search = '';
    // ws sends user:pass@ as `Authorization: Basic`: as secret as the query.
    url.username = '';
    url.password = '';
  }
  return url;
}

/** Ends the probe's socket without keeping the CLI alive for the peer's close frame. */
function endProbe(ws: WebSocket): void {
  if (ws.readyState === WebSocket.OPEN) {
    ws.close(1000, 'doctor done');
    // ws waits up to 30 s for the peer's close frame; do not keep the CLI alive for it.
    setTimeout(() => ws.terminate(), 1000).unref();
  } else if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}

export function probeWebSocket(target: Target, opts: WsProbeOptions): Promise<WsProbeResult> {
  const url = probeUrl(target, opts.withholdSecrets);
  const t0 = performance.now();
  const elapsed = () => Math.round(performance.now() - t0);

  return new Promise((resolve) => {
    let settled = false;
    let upgrade: UpgradeResult | undefined;
    const ws = new WebSocket(url, {
      handshakeTimeout: opts.timeoutMs,
      rejectUnauthorized: false,
      ca: opts.ca,
      perMessageDeflate: false,
      followRedirects: false,
      lookup: isIP(target.host) ? undefined : pinnedLookup(opts.address),
      headers: { 'User-Agent': 'wss-mp-server-doctor' },
    });
    const done = (r: WsProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(upgradeTimer);
      clearTimeout(echoTimer);
      resolve(r);
      endProbe(ws);
    };
    let echoTimer: NodeJS.Timeout | undefined;
    // ws's own handshakeTimeout is an idle timer that every received byte restarts: a server
    // trickling its answer a byte at a time held the doctor for minutes. This one is absolute.
    const upgradeTimer = setTimeout(() => {
      const errorMessage = `no complete upgrade answer within ${opts.timeoutMs} ms`;
      done({ upgrade: upgrade ?? { ok: false, ms: elapsed(), errorCode: 'ETIMEDOUT', errorMessage } });
    }, opts.timeoutMs);
    let sentAt = 0;
    let other: string | undefined;

    ws.on('upgrade', (res: IncomingMessage) => {
      clearTimeout(upgradeTimer);
      upgrade = { ok: true, ms: elapsed(), status: res.statusCode, statusText: res.statusMessage, server: header(res, 'server') };
    });
    ws.on('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
      clearTimeout(upgradeTimer);
      const base: UpgradeResult = {
        ok: false,
        ms: elapsed(),
        status: res.statusCode,
        statusText: res.statusMessage,
        server: header(res, 'server'),
        location: header(res, 'location'),
      };
      readRefusalBody(req, res, Math.min(1000, opts.timeoutMs), (body) => done({ upgrade: { ...base, body } }));
    });
    ws.on('open', () => {
      sentAt = performance.now();
      ws.send(opts.payload);
      echoTimer = setTimeout(
        () => done({ upgrade: upgrade!, echo: other === undefined ? { outcome: 'silent' } : { outcome: 'other', other } }),
        opts.timeoutMs,
      );
    });
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
      const text = isBinary ? null : data.toString();
      const ms = Math.round(performance.now() - sentAt);
      if (text === opts.payload) done({ upgrade: upgrade!, echo: { outcome: 'echo', ms } });
      else if (isPongFrame(text)) done({ upgrade: upgrade!, echo: { outcome: 'pong', ms } });
      else if (other === undefined) other = text === null ? `<${(data as Buffer).length} binary bytes>` : text.slice(0, 80);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (upgrade?.ok) done({ upgrade, echo: { outcome: 'closed', closeCode: code, closeReason: reason.toString().slice(0, 80), other } });
      else done({ upgrade: upgrade ?? { ok: false, ms: elapsed(), errorCode: 'ECONNRESET', errorMessage: 'connection closed' } });
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (upgrade?.ok) {
        done({ upgrade, echo: { outcome: 'error', errorMessage: err.message } });
        return;
      }
      done({ upgrade: { ok: false, ms: elapsed(), errorCode: err.code ?? codeFromMessage(err.message), errorMessage: err.message } });
    });
  });
}

/** The start of a refused upgrade's body (BODY_BYTES at most, waiting `waitMs` at most), whitespace folded. */
function readRefusalBody(req: ClientRequest, res: IncomingMessage, waitMs: number, then: (body: string | undefined) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const finish = () => {
    clearTimeout(bodyTimer);
    const body = Buffer.concat(chunks).subarray(0, BODY_BYTES).toString('utf8').replace(/\s+/g, ' ').trim();
    req.destroy();
    then(body || undefined);
  };
  const bodyTimer = setTimeout(finish, waitMs);
  res.on('data', (c: Buffer) => {
    chunks.push(c);
    size += c.length;
    if (size >= BODY_BYTES) finish();
  });
  res.on('end', finish);
  res.on('error', finish);
}

function header(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function codeFromMessage(msg: string): string {
  if (/timed out/i.test(msg)) return 'ETIMEDOUT';
  if (/Sec-WebSocket-Accept/i.test(msg)) return 'BAD_ACCEPT';
  return 'WS_ERROR';
}
