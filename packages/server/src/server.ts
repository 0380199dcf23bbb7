/**
 * createServer(): the Workerman-like server. Wires an http(s) server (TLS policy, timeouts,
 * plain-HTTP answer, static files) to a `ws` WebSocketServer in noServer mode, and owns the
 * connection set, limits, heartbeat, certificate reload and drain.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { CloseCode, PING_FRAME, PONG_FRAME } from '@wss-mp/protocol';
import { Connection } from './connection';
import { CertificateError, WssMpServerError } from './errors';
import { Logger, jsonLines, pathOnly } from './log';
import { resolveOptions, type MessageData, type ServerOptions } from './options';
import { originRefusal } from './origin';
import { answerPlainHttp, underlyingSocket } from './plain-http';
import { createStaticHandler } from './static';
import {
  HSTS_HEADER,
  TLS_POLICY,
  certificateWarnings,
  createPolicyContext,
  describeCertificate,
  readKeyPair,
  replacementProblems,
  watchKeyPair,
  type CertificateInfo,
  type KeyPair,
} from './tls';
import { clientIpFor, ipCapKey, normalizeIp, parsePeer } from './trust-proxy';
import { PendingConnections } from './pending-caps';
import { MessageBudget } from './message-budget';
import { protocolSelector } from './subprotocols';

export interface BroadcastOptions {
  /** Skip this connection (typically the sender). */
  except?: Connection<any>;
}

export interface WssMpServer<T = Record<string, unknown>> {
  /** The URL clients should use, once listening (e.g. wss://localhost:8282/wss). */
  readonly url: string | undefined;
  /** Open connections. */
  readonly connections: ReadonlySet<Connection<T>>;
  /** The leaf certificate being served (TLS mode). */
  readonly certificate: CertificateInfo | undefined;
  /** The underlying http or https server. */
  readonly httpServer: http.Server | https.Server;
  /** Starts listening; resolves with the URL clients should use. */
  listen(): Promise<string>;
  /**
   * Drains and stops: refuses new connections, sends 1001 to every client, terminates those
   * still open after `drainTimeout`, then closes the listener. Idempotent.
   */
  close(): Promise<void>;
  /** Sends to every open connection; returns how many it was sent to. */
  broadcast(data: string | Buffer | ArrayBuffer | ArrayBufferView, options?: BroadcastOptions): number;
  /**
   * Re-reads certFile/keyFile and, if valid, serves them to new handshakes (open connections
   * keep theirs). On failure logs the error, keeps the old pair and resolves false. A pair
   * that is expired, not yet valid, or does not cover the names the current one covers is a
   * failure too, unless `force` (then it is served, with a warning naming the problems).
   */
  reloadCertificate(trigger?: string, options?: { force?: boolean }): boolean;
  address(): AddressInfo | null;
}

const PING_BUF = Buffer.from(PING_FRAME);
const PONG_BUF = Buffer.from(PONG_FRAME);
const PING_LEN = PING_BUF.length;
const ignore = () => {};
let kStatusCode: symbol | undefined;
/** ws tags its protocol errors with a private `status-code` symbol; find it once. */
function statusCodeSymbol(err: Error): symbol {
  kStatusCode ??= Object.getOwnPropertySymbols(err).find((s) => s.description === 'status-code');
  return kStatusCode ?? Symbol('none');
}
/**
 * ws's WebSocket with a slot for its Connection (through ws's documented `WebSocket` option),
 * so that one set of listeners serves every connection, finding it as `this.conn`. A closure
 * per listener and connection would stay allocated for the connection's lifetime.
 */
class ServerSocket extends WebSocket {
  conn: Connection<any> | undefined = undefined;
}
/**
 * Fragments allowed per message (more: close 1008). ws keeps each fragment as a view into the
 * socket read chunk it arrived in (up to 64 KiB; 16 KiB with TLS) until the message is
 * complete, and the peer can fill the rest of each chunk with pongs. With ws's default of
 * 16384, one 16 KiB message in 1-byte fragments held 1.1 GiB of RSS (measured, plain;
 * test/server-frames.e2e.test.ts). 64 covers real fragmenters (Autobahn's largest non-
 * performance case, 10.1.1, sends 64 KiB in ~51 fragments) and bounds what a message pins to
 * about 4 MiB; a larger maxPayload allows one fragment per 16 KiB (about 4 × maxPayload).
 */
function maxFragmentsFor(maxPayload: number): number {
  return Math.min(16_384, Math.max(64, Math.ceil(maxPayload / 16_384)));
}
/** `conn.headers` when no hook can read them: not kept (see onOpen). */
const NO_HEADERS: http.IncomingHttpHeaders = Object.freeze({});
/** How long a connection refused over a cap gets to finish the close handshake. */
const REFUSE_GRACE_MS = 1_000;

function httpReject(socket: Duplex, status: number, reason: string, body: string, extra = ''): void {
  socket.on('error', ignore);
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}

/**
 * Host for the printed URL. Bound to all interfaces with TLS, clients must use a name the
 * certificate holds: its first DNS name (not a wildcard), else localhost.
 */
function displayHost(host: string | undefined, cert: CertificateInfo | undefined): string {
  // Bound to loopback (the dev default) with a localhost certificate: the name it is for.
  if ((host === '127.0.0.1' || host === '::1') && cert?.names.includes('localhost')) return 'localhost';
  if (host === undefined || host === '0.0.0.0' || host === '::') {
    if (!cert) return '127.0.0.1';
    return cert.names.find((n) => !n.startsWith('*') && !n.includes(':') && !/^[\d.]+$/.test(n)) ?? 'localhost';
  }
  return host.includes(':') ? `[${host}]` : host;
}

export function createServer<T = Record<string, unknown>>(options: ServerOptions<T> = {}): WssMpServer<T> {
  const o = resolveOptions(options);
  const log = new Logger(o.logger === undefined ? jsonLines() : o.logger, o.quiet);
  const tlsFiles = o.tls && 'certFile' in o.tls && o.tls.certFile ? { cert: o.tls.certFile, key: o.tls.keyFile! } : undefined;

  // ---- certificate -------------------------------------------------------------------
  let pair: KeyPair | undefined;
  let certInfo: CertificateInfo | undefined;
  if (o.tls) {
    pair = tlsFiles
      ? readKeyPair(tlsFiles.cert, tlsFiles.key)
      : { cert: o.tls.cert!.toString(), key: o.tls.key!.toString() };
    createPolicyContext(pair); // validates: throws CertificateError on mismatch
    certInfo = describeCertificate(pair.cert);
  }

  // ---- http(s) server ----------------------------------------------------------------
  const serverOpts: http.ServerOptions = {
    headersTimeout: o.handshakeTimeout,
    requestTimeout: o.handshakeTimeout,
    // Node checks the two timeouts above on this interval (default 30 s, which let a
    // slowloris upgrade live 87 s in a measurement).
    connectionsCheckingInterval: Math.min(1_000, o.handshakeTimeout),
    keepAliveTimeout: 5_000,
  };
  const serveStatic = o.staticDir ? createStaticHandler(o.staticDir, { hsts: o.tls ? HSTS_HEADER : undefined }) : undefined;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    pending.requestSeen(req.socket);
    res.on('error', ignore);
    if (serveStatic) {
      serveStatic(req, res).catch((err) => {
        log.error('error', { where: 'static', error: err });
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
      return;
    }
    const isWsPath = o.paths.includes(normalizePath(pathOnly(req.url)));
    const body = isWsPath
      ? `This is a WebSocket endpoint: connect with ${o.tls ? 'wss' : 'ws'}:// (an HTTP Upgrade request).\n`
      : 'Not Found\n';
    res.writeHead(isWsPath ? 426 : 404, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      // 426 must name the protocol to upgrade to; then close, the client will come back right.
      ...(isWsPath ? { Upgrade: 'websocket', Connection: 'Upgrade, close' } : {}),
    });
    res.end(body);
  };
  const server: http.Server | https.Server = o.tls
    ? https.createServer(
        {
          ...serverOpts,
          ...TLS_POLICY,
          cert: pair!.cert,
          key: pair!.key,
          ALPNProtocols: ['http/1.1'],
          handshakeTimeout: o.handshakeTimeout,
        },
        onRequest,
      )
    : http.createServer(serverOpts, onRequest);

  server.on('error', (err) => log.error('error', { where: 'server', error: err }));
  // Connections that are not WebSockets yet: capped and given an absolute deadline.
  const pending = new PendingConnections({
    maxPending: o.maxPendingConnections,
    maxPendingPerIp: o.maxPendingPerIp,
    deadlineMs: 2 * o.handshakeTimeout,
    ipv6Prefix: o.ipv6Prefix,
    trusted: o.trustProxy,
    report: (kind, d) => log.warn('limit', { limit: kind === 'refused' ? 'pending-connections' : 'handshake-deadline', ...d }),
  });
  server.on('connection', (socket: Socket) => pending.admit(socket));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Malformed HTTP, header timeouts: answer like Node would, never throw. Anything else
    // (notably TLS errors such as a handshake timeout, which also land here) is destroyed:
    // a TLS socket that never finished its handshake cannot carry an answer.
    socket.on('error', ignore);
    const http = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || (err.code ?? '').startsWith('HPE_');
    if (!http || !socket.writable) return void socket.destroy();
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
      : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  if (o.tls) {
    server.on('tlsClientError', (err: Error, tlsSocket: TLSSocket) => {
      const peer = underlyingSocket(tlsSocket)?.remoteAddress ?? tlsSocket.remoteAddress;
      const ip = peer ? normalizeIp(peer) : 'unknown';
      if (o.plainHttpAnswer && answerPlainHttp(err, tlsSocket)) {
        log.info('plain-http', { ip, status: 400, msg: 'plain HTTP/ws:// on the TLS port: answered 400 (use wss://)' });
      } else {
        log.info('tls-error', { ip, error: (err as NodeJS.ErrnoException).code ?? err.message });
      }
    });
  }

  // ---- WebSocket ----------------------------------------------------------------------
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: o.maxPayload,
    maxFragments: maxFragmentsFor(o.maxPayload),
    perMessageDeflate: false,
    clientTracking: false,
    WebSocket: ServerSocket,
    handleProtocols: protocolSelector(o.subprotocols),
  });
  const budget = new MessageBudget({
    perConnection: o.maxUnfinishedBytes,
    total: o.maxUnfinishedTotal,
    timeoutMs: o.messageTimeout,
    onTimeout: (ws) => {
      const conn = (ws as ServerSocket).conn;
      if (conn) {
        conn.endReason = `message not completed within ${o.messageTimeout} ms`;
        conn.sentCode = CloseCode.POLICY_VIOLATION; // the log shows what the client was sent
      }
      closeWithGrace(ws, CloseCode.POLICY_VIOLATION, 'message not completed in time');
    },
  });
  wss.on('error', (err) => log.error('error', { where: 'websocket-server', error: err }));

  const conns = new Set<Connection<T>>();
  const perIp = new Map<string, number>();
  let nextId = 1;
  let draining = false;

  function normalizePath(p: string): string {
    return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
  }

  function hookError(err: unknown, conn: Connection<T> | undefined, hook: string): void {
    const e = err instanceof Error ? err : new Error(String(err));
    log.error('error', { where: hook, id: conn?.id, ip: conn?.ip, path: conn?.path, error: e });
    if (hook !== 'onError' && o.onError) {
      try {
        o.onError(e, conn);
      } catch (again) {
        log.error('error', { where: 'onError', id: conn?.id, error: again });
      }
    }
    if (conn && conn.isOpen && hook !== 'onClose' && hook !== 'onError') {
      conn.endReason = `${hook} threw`;
      conn.socket.close(CloseCode.INTERNAL_ERROR, 'internal error');
    }
  }

  /** Runs a hook on (conn, arg); takes the arguments rather than a closure so that the
   * message path allocates nothing of its own. */
  function callHook<A>(
    name: 'onConnect' | 'onMessage',
    conn: Connection<T>,
    hook: (conn: Connection<T>, arg: A) => void | Promise<void>,
    arg: A,
  ): void {
    try {
      const r = hook(conn, arg);
      if (r && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(undefined, (err) => hookError(err, conn, name));
      }
    } catch (err) {
      hookError(err, conn, name);
    }
  }

  function onSlowConsumer(conn: Connection<any>): void {
    conn.terminate(`slow consumer: more than ${o.maxBufferedAmount} bytes unsent (messages and the reads they hold)`);
  }

  function refuse(ws: WebSocket, ip: string, path: string, reason: string): void {
    ws.on('error', ignore);
    log.warn('reject', { ip, path, code: CloseCode.TRY_AGAIN_LATER, reason });
    closeWithGrace(ws, CloseCode.TRY_AGAIN_LATER, reason);
  }
  function closeWithGrace(ws: WebSocket, code: number, reason: string): void {
    ws.close(code, reason);
    const t = setTimeout(() => ws.terminate(), REFUSE_GRACE_MS);
    t.unref();
    ws.once('close', () => clearTimeout(t));
  }

  // ---- per-connection listeners, shared by all connections (`this` is the socket) ----
  const onMessage = o.onMessage;
  /** The hot path: no allocation beyond what ws does (the echo sends the received buffer). */
  function socketMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
    const conn = (this as ServerSocket).conn as Connection<T>;
    conn.alive = true;
    if (!isBinary && data.length === PING_LEN && data.equals(PING_BUF)) {
      conn.sendFrame(PONG_BUF, false);
      return;
    }
    if (onMessage === undefined) {
      conn.sendFrame(data, isBinary);
      return;
    }
    callHook<MessageData>('onMessage', conn, onMessage, isBinary ? data : data.toString());
  }
  /** pong and ping: any sign of life counts for the heartbeat. */
  function socketAlive(this: WebSocket): void {
    (this as ServerSocket).conn!.alive = true;
  }
  function socketError(this: WebSocket, err: Error & { code?: string }): void {
    const conn = (this as ServerSocket).conn as Connection<T>;
    conn.error = err.code ?? err.message;
    // ws closes with the status its error carries (1009 too big, 1007 bad UTF-8, 1002…)
    // and then reports 1006 locally; log the code the client was sent.
    const status = (err as unknown as Record<symbol, unknown>)[statusCodeSymbol(err)];
    if (typeof status === 'number') conn.sentCode = status;
    if (o.onError) {
      try {
        o.onError(err, conn);
      } catch (again) {
        hookError(again, conn, 'onError');
      }
    }
  }
  /** ws emits `close` exactly once: `on`, not `once` (which wraps the listener per socket). */
  function socketClose(this: WebSocket, code: number, reasonBuf: Buffer): void {
    const conn = (this as ServerSocket).conn as Connection<T>;
    const { ip, path } = conn;
    conns.delete(conn);
    budget.forget(this);
    const key = ipCapKey(ip, o.ipv6Prefix);
    const left = (perIp.get(key) ?? 1) - 1;
    if (left > 0) perIp.set(key, left);
    else perIp.delete(key);
    const reason = reasonBuf.toString();
    log.info('close', {
      id: conn.id,
      ip,
      path,
      code: conn.sentCode ?? code,
      reason: reason || undefined,
      by: conn.endReason,
      error: conn.error,
      durationMs: Date.now() - conn.openedAt,
    });
    if (o.onClose) {
      try {
        o.onClose(conn, code, reason);
      } catch (err) {
        hookError(err, conn, 'onClose');
      }
    }
  }
  // Request headers stay reachable as conn.headers only when a hook could read them; the
  // echo server (the CLI) drops them with the request, like a bare ws server does.
  const keepHeaders = !!(o.onConnect || o.onMessage || o.onClose || o.onError);

  function onOpen(ws: ServerSocket, req: http.IncomingMessage, ip: string, peer: string, path: string, origin: string | undefined): void {
    if (draining) {
      ws.on('error', ignore);
      ws.close(CloseCode.GOING_AWAY, 'server shutting down');
      return;
    }
    if (o.maxConnections > 0 && conns.size >= o.maxConnections) return refuse(ws, ip, path, 'server full');
    // IPv6 clients count by prefix (ipCapKey): one subscriber holds a whole /64.
    const key = ipCapKey(ip, o.ipv6Prefix);
    const count = perIp.get(key) ?? 0;
    if (o.maxConnectionsPerIp > 0 && count >= o.maxConnectionsPerIp) {
      return refuse(ws, ip, path, 'too many connections from your address');
    }
    perIp.set(key, count + 1);
    const url = req.url;
    const conn = new Connection<T>(ws, {
      id: nextId++,
      ip,
      remoteAddress: peer,
      path,
      url: url === undefined || url === path ? path : url,
      headers: keepHeaders ? req.headers : NO_HEADERS,
      maxBufferedAmount: o.maxBufferedAmount,
      onSlowConsumer,
    });
    conns.add(conn);
    ws.conn = conn;
    budget.install(ws);
    ws.on('message', socketMessage);
    ws.on('pong', socketAlive);
    ws.on('ping', socketAlive);
    ws.on('error', socketError);
    ws.on('close', socketClose);

    log.info('connection', { id: conn.id, ip, path, origin, peer: peer !== ip ? peer : undefined });
    if (o.onConnect) callHook('onConnect', conn, o.onConnect, req);
  }

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // No `error` listener here: every refusal below goes through httpReject, which adds one,
    // and ws's handleUpgrade adds its own first thing. One left on the socket for the
    // connection's lifetime would cost a listener array per connection.
    pending.settle(req.socket);
    const path = normalizePath(pathOnly(req.url));
    // Parsed once: the trust check, conn.ip and conn.remoteAddress all come from this.
    const peer = parsePeer(req.socket.remoteAddress);
    const ip = clientIpFor(peer, req.headers, o.trustProxy, o.ipHeaders);
    if (draining) {
      log.info('reject', { ip, path, status: 503, reason: 'server shutting down' });
      return httpReject(socket, 503, 'Service Unavailable', 'server shutting down\n', 'Retry-After: 5\r\n');
    }
    const pathIndex = o.paths.indexOf(path);
    if (pathIndex === -1) {
      log.info('reject', { ip, path, status: 404, reason: `no WebSocket endpoint at this path (serving ${o.paths.join(', ')})` });
      return httpReject(socket, 404, 'Not Found', `No WebSocket endpoint at ${path}; use ${o.paths[0]}\n`);
    }
    const originHeader = req.headers.origin;
    const badOrigin = originRefusal(originHeader, o.allowedOrigins);
    if (badOrigin !== undefined) {
      log.warn('reject', { ip, path, status: 403, origin: originHeader, reason: badOrigin });
      return httpReject(socket, 403, 'Forbidden', 'origin not allowed\n');
    }
    // The configured string, not this request's copy, is what the connection keeps.
    const knownPath = o.paths[pathIndex]!;
    wss.handleUpgrade(req, socket, head, (ws) => onOpen(ws, req, ip, peer.text, knownPath, originHeader));
  });

  // ---- heartbeat ----------------------------------------------------------------------
  let heartbeat: NodeJS.Timeout | undefined;
  function sweep(): void {
    for (const conn of conns) {
      if (!conn.alive) {
        conn.terminate('heartbeat timeout: no pong');
        continue;
      }
      conn.alive = false;
      try {
        conn.socket.ping();
      } catch {
        /* closing already */
      }
    }
  }

  // ---- certificate reload -------------------------------------------------------------
  let stopWatching: (() => void) | undefined;
  function reloadCertificate(trigger = 'api', { force = false }: { force?: boolean } = {}): boolean {
    if (!tlsFiles || !(server instanceof https.Server)) {
      log.warn('reload', { ok: false, trigger, error: 'no certificate files to reload (TLS off or PEM given inline)' });
      return false;
    }
    let next: KeyPair;
    let info: CertificateInfo;
    try {
      next = readKeyPair(tlsFiles.cert, tlsFiles.key);
      if (trigger === 'file change' && pair && next.cert === pair.cert && next.key === pair.key) return true;
      createPolicyContext(next);
      info = describeCertificate(next.cert);
      // A pair that matches its key can still be wrong to serve: expired, early, or for
      // other names. Refused unless forced (SIGUSR2 from the CLI), which is logged.
      const problems = replacementProblems(certInfo, info);
      if (problems.length > 0 && !force) throw new CertificateError(`${problems.join('; ')} (force with SIGUSR2 or reloadCertificate(trigger, { force: true }))`);
      if (problems.length > 0) log.warn('reload', { forced: true, trigger, serial: info.serial, problems, msg: 'serving a certificate that failed validation, as forced' });
      // setSecureContext resets every TLS option it is not given: pass the whole policy.
      server.setSecureContext({ ...TLS_POLICY, cert: next.cert, key: next.key });
    } catch (err) {
      log.error('reload', {
        ok: false,
        trigger,
        error: err,
        kept: certInfo?.serial,
        msg: 'new certificate rejected; still serving the previous one',
      });
      return false;
    }
    pair = next;
    certInfo = info;
    log.info('reload', { ok: true, trigger, serial: info.serial, names: info.names, validTo: info.validTo });
    for (const w of certificateWarnings(info)) log.warn('certificate', { serial: info.serial, msg: w });
    return true;
  }

  // ---- lifecycle ----------------------------------------------------------------------
  let url: string | undefined;
  let listening: Promise<string> | undefined;
  let closing: Promise<void> | undefined;

  function listen(): Promise<string> {
    if (closing) return Promise.reject(new WssMpServerError('ERR_SERVER_STATE', 'listen() after close()'));
    listening ??= new Promise<string>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        const where = `${o.host ?? 'all interfaces'} port ${o.port}`;
        const msg = err.code === 'EADDRINUSE' ? `${where} is already in use`
          : err.code === 'EACCES' ? `no permission to listen on ${where} (ports below 1024 need privileges)`
          : `cannot listen on ${where}: ${err.message}`;
        reject(new WssMpServerError('ERR_LISTEN', msg, { cause: err }));
      };
      server.once('error', onError);
      server.listen(o.port, o.host, () => {
        server.off('error', onError);
        const addr = server.address() as AddressInfo;
        const defaultPort = o.tls ? 443 : 80;
        url = `${o.tls ? 'wss' : 'ws'}://${displayHost(o.host, certInfo)}${addr.port === defaultPort ? '' : `:${addr.port}`}${o.paths[0]}`;
        if (o.heartbeatInterval > 0) {
          heartbeat = setInterval(sweep, o.heartbeatInterval);
          heartbeat.unref();
        }
        if (certInfo) {
          log.info('certificate', {
            serial: certInfo.serial,
            subject: certInfo.subject,
            names: certInfo.names,
            validTo: certInfo.validTo,
            chainLength: certInfo.chainLength,
          });
          for (const w of certificateWarnings(certInfo)) log.warn('certificate', { serial: certInfo.serial, msg: w });
        }
        if (tlsFiles && o.watchCertificate) {
          stopWatching = watchKeyPair([tlsFiles.cert, tlsFiles.key], () => reloadCertificate('file change'));
        }
        pending.start();
        if (o.staticDir && !existsSync(o.staticDir)) {
          log.warn('hint', { msg: `static directory ${o.staticDir} does not exist (yet): plain requests get 404 until it does` });
        }
        log.info('listening', {
          msg: `listening on ${url}`,
          url,
          address: addr.address,
          port: addr.port,
          paths: o.paths,
          tls: !!o.tls,
          static: o.staticDir,
        });
        resolve(url);
      });
    });
    return listening;
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      draining = true;
      clearInterval(heartbeat);
      stopWatching?.();
      const open = [...conns];
      log.info('drain', { clients: open.length, timeoutMs: o.drainTimeout });
      const serverClosed = new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
      });
      server.closeIdleConnections();
      // Not WebSockets yet (mid-TLS-handshake, no request): nothing to drain, and Node's
      // closeAllConnections() does not see a socket before its TLS handshake completes.
      pending.stop();
      pending.destroyAll();
      budget.stop();
      const allClosed = Promise.all(
        open.map((c) => new Promise<void>((resolve) => {
          if (c.socket.readyState === 3) return resolve();
          c.socket.once('close', () => resolve());
          c.endReason = 'drain';
          c.socket.close(CloseCode.GOING_AWAY, 'server shutting down');
        })),
      );
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        allClosed.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), o.drainTimeout);
        }),
      ]);
      clearTimeout(timer);
      let terminated = 0;
      if (timedOut) {
        for (const c of conns) {
          terminated++;
          c.terminate('drain timeout');
        }
      }
      server.closeAllConnections();
      await serverClosed;
      log.info('stopped', { terminated });
    })();
    return closing;
  }

  function broadcast(data: string | Buffer | ArrayBuffer | ArrayBufferView, opts: BroadcastOptions = {}): number {
    const binary = typeof data !== 'string';
    // Encode a string once, not once per connection (ws sends a Buffer as text when asked).
    const payload = binary ? data : Buffer.from(data);
    let n = 0;
    for (const c of conns) {
      if (c === opts.except) continue;
      if (c.sendFrame(payload, binary)) n++;
    }
    return n;
  }

  return {
    get url() {
      return url;
    },
    get certificate() {
      return certInfo;
    },
    connections: conns,
    httpServer: server,
    listen,
    close,
    broadcast,
    reloadCertificate,
    address: () => server.address() as AddressInfo | null,
  };
}
