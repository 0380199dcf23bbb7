/**
 * The HTTP front: the http or https server itself, with what it answers outside WebSocket
 * upgrades: plain requests (static files, 426 on a socket path, 404), malformed requests and
 * header timeouts, TLS handshake errors and plain HTTP on the TLS port.
 */
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../common/log';
import { pathOnly } from '../common/log';
import { HSTS_HEADER, TLS_POLICY, type KeyPair } from '../common/tls';
import { answerPlainHttp, underlyingSocket } from './plain-http';
import { createStaticHandler } from './static';
import { normalizeIp } from './trust-proxy';

export interface HttpFrontOptions {
  paths: readonly string[];
  handshakeTimeout: number;
  staticDir: string | undefined;
  plainHttpAnswer: boolean;
  /** An HTTP route before static files (wechatLogin); true when it answered. */
  route?: (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean;
}

const ignore = () => {};

/** `/wss/` and `/wss` are one path (but `/` stays `/`). */
export function normalizePath(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** Answers a refused upgrade on the raw socket, then closes it. */
export function httpReject(socket: Duplex, status: number, reason: string, body: string, extra = ''): void {
  socket.on('error', ignore);
  if (!socket.writable) return void socket.destroy();
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}

/** Creates the http server, or the https one when `pair` is given (the TLS policy applies). */
export function createHttpFront(o: HttpFrontOptions, pair: KeyPair | undefined, log: Logger): http.Server | https.Server {
  const serverOpts: http.ServerOptions = {
    headersTimeout: o.handshakeTimeout,
    requestTimeout: o.handshakeTimeout,
    // Node checks the two timeouts above on this interval (default 30 s, which let a
    // slowloris upgrade live 87 s in a measurement).
    connectionsCheckingInterval: Math.min(1_000, o.handshakeTimeout),
    keepAliveTimeout: 5_000,
  };
  const onRequest = requestHandler(o, !!pair, log);
  const server: http.Server | https.Server = pair
    ? https.createServer(
        {
          ...serverOpts,
          ...TLS_POLICY,
          cert: pair.cert,
          key: pair.key,
          ALPNProtocols: ['http/1.1'],
          handshakeTimeout: o.handshakeTimeout,
        },
        onRequest,
      )
    : http.createServer(serverOpts, onRequest);

  server.on('error', (err) => log.error('error', { where: 'server', error: err }));
  server.on('clientError', onClientError);
  if (pair) server.on('tlsClientError', (err: Error, tlsSocket: TLSSocket) => onTlsClientError(err, tlsSocket, o, log));
  return server;
}

/** Plain (non-upgrade) requests: static files when configured, else 426 on a socket path, 404 elsewhere. */
function requestHandler(o: HttpFrontOptions, tls: boolean, log: Logger) {
  const serveStatic = o.staticDir ? createStaticHandler(o.staticDir, { hsts: tls ? HSTS_HEADER : undefined }) : undefined;
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.on('error', ignore);
    if (o.route?.(req, res, normalizePath(pathOnly(req.url)))) return;
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
      ? `This is a WebSocket endpoint: connect with ${tls ? 'wss' : 'ws'}:// (an HTTP Upgrade request).\n`
      : 'Not Found\n';
    res.writeHead(isWsPath ? 426 : 404, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      // 426 must name the protocol to upgrade to; then close, the client will come back right.
      ...(isWsPath ? { Upgrade: 'websocket', Connection: 'Upgrade, close' } : {}),
    });
    res.end(body);
  };
}

function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Malformed HTTP, header timeouts: answer like Node would, never throw. Anything else
  // (notably TLS errors such as a handshake timeout, which also land here) is destroyed:
  // a TLS socket that never finished its handshake cannot carry an answer.
  socket.on('error', ignore);
  const http = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || (err.code ?? '').startsWith('HPE_');
  if (!http || !socket.writable) return void socket.destroy();
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout'
    : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function onTlsClientError(err: Error, tlsSocket: TLSSocket, o: HttpFrontOptions, log: Logger): void {
  const peer = underlyingSocket(tlsSocket)?.remoteAddress ?? tlsSocket.remoteAddress;
  const ip = peer ? normalizeIp(peer) : 'unknown';
  if (o.plainHttpAnswer && answerPlainHttp(err, tlsSocket)) {
    log.info('plain-http', { ip, status: 400, msg: 'plain HTTP/ws:// on the TLS port: answered 400 (use wss://)' });
  } else {
    log.info('tls-error', { ip, error: (err as NodeJS.ErrnoException).code ?? err.message });
  }
}
