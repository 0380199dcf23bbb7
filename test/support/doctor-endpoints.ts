// In-process wss endpoints for the doctor's tests, good or deliberately broken: node:https +
// ws on 127.0.0.1, a random port, with any TLS options (legacy versions, static-RSA suites,
// leaf-only chains…). The real wss-mp-server is tested through the CLI (support/server.ts);
// these exist because the product refuses to serve most of these mistakes.
import https from 'node:https';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';

/** Mozilla intermediate TLS 1.2 suites (docs/tls-policy.md#the-policy). */
export const MOZILLA_CIPHERS =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';

export interface EndpointOptions {
  /** PEM file paths. `cert` may be a leaf alone or a full chain. */
  key: string;
  cert: string;
  /**
   * TLS overrides on top of the good policy (TLS 1.2+, Mozilla suites, ALPN http/1.1), e.g.
   * `{ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }`.
   */
  tls?: TlsOptions & SecureContextOptions;
  /**
   * - `echo` (default): a WebSocket echo on `path`, 404 elsewhere (as nginx `location = /wss`);
   * - `no-upgrade`: an HTTPS server that ignores Upgrade and answers 200 (a proxy that does not
   *   forward it, or a plain web server).
   */
  mode?: 'echo' | 'no-upgrade';
  /** @default '/wss' */
  path?: string;
  /** Called with the request target (path + query) of every upgrade request. */
  onUpgrade?: (url: string, headers: import('node:http').IncomingHttpHeaders) => void;
}

export interface Endpoint {
  port: number;
  close(): Promise<void>;
}

export async function startEndpoint(opts: EndpointOptions): Promise<Endpoint> {
  const path = opts.path ?? '/wss';
  const server = https.createServer({
    key: readFileSync(opts.key),
    cert: readFileSync(opts.cert),
    minVersion: 'TLSv1.2',
    ciphers: MOZILLA_CIPHERS,
    ALPNProtocols: ['http/1.1'],
    ...opts.tls,
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  server.on('error', () => {});
  server.on('request', (_req, res) => {
    res.writeHead(opts.mode === 'no-upgrade' ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(opts.mode === 'no-upgrade' ? 'hello from a plain web server\n' : 'not found\n');
  });
  let wss: WebSocketServer | undefined;
  if (opts.mode !== 'no-upgrade') {
    wss = new WebSocketServer({ noServer: true });
    wss.on('error', () => {});
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => {});
      opts.onUpgrade?.(req.url ?? '', req.headers);
      if (new URL(req.url ?? '/', 'https://x').pathname !== path) {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n');
        return;
      }
      wss!.handleUpgrade(req, socket, head, (ws) => wss!.emit('connection', ws, req));
    });
  }
  // Without an 'upgrade' listener Node hands upgrade requests to 'request': exactly the
  // "answered as a plain web request" failure.
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const c of wss?.clients ?? []) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
