/**
 * Listening and stopping: bind with readable errors, the URL clients should use, and the
 * drain (requests in flight answered, 1001 to every client, terminate the rest after a
 * deadline, close the listener).
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloseCode } from '@wss-mp/protocol';
import { WssMpServerError } from '../common/errors';
import type { Logger } from '../common/log';
import type { CertificateInfo } from '../common/tls';
import type { Connection } from './connection';

/** Binds `server`; rejects with ERR_LISTEN and a message saying what to do. */
export function listenOn(server: http.Server, port: number, host: string | undefined): Promise<AddressInfo> {
  return new Promise<AddressInfo>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = `${host ?? 'all interfaces'} port ${port}`;
      const msg = err.code === 'EADDRINUSE' ? `${where} is already in use`
        : err.code === 'EACCES' ? `no permission to listen on ${where} (ports below 1024 need privileges)`
        : `cannot listen on ${where}: ${err.message}`;
      reject(new WssMpServerError('ERR_LISTEN', msg, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Host for the printed URL. Bound to all interfaces with TLS, clients must use a name the
 * certificate holds: its first DNS name (not a wildcard), else localhost.
 */
export function displayHost(host: string | undefined, cert: CertificateInfo | undefined): string {
  // Bound to loopback (the dev default) with a localhost certificate: the name it is for.
  if ((host === '127.0.0.1' || host === '::1') && cert?.names.includes('localhost')) return 'localhost';
  if (host === undefined || host === '0.0.0.0' || host === '::') {
    if (!cert) return '127.0.0.1';
    return cert.names.find((n) => !n.startsWith('*') && !n.includes(':') && !/^[\d.]+$/.test(n)) ?? 'localhost';
  }
  return host.includes(':') ? `[${host}]` : host;
}

/** The URL clients should use: default ports (443 with TLS, 80 without) are left out. */
export function publicUrl(tls: boolean, host: string | undefined, cert: CertificateInfo | undefined, port: number, path: string): string {
  const defaultPort = tls ? 443 : 80;
  return `${tls ? 'wss' : 'ws'}://${displayHost(host, cert)}${port === defaultPort ? '' : `:${port}`}${path}`;
}

/**
 * What the drain waits for before it closes a connection: the messaging engine's requests in
 * flight (kept out of here as an interface: one-way imports).
 */
export interface DrainWait {
  /** Calls `idle` once `conn` has nothing in flight; false, and no call, when it has nothing now. */
  whenIdle(conn: Connection<any>, idle: () => void): boolean;
  /** The deadline passed while `conn` was still waiting: report it (it is terminated next). */
  timedOut(conn: Connection<any>, timeoutMs: number): void;
}

/**
 * Sends 1001 to every open connection (a connection with requests in flight right after their
 * acks), terminates those still open after `timeoutMs`, then closes the listener and every idle
 * HTTP connection. Resolves with how many were terminated. The caller has already stopped
 * admitting new connections and starting new requests.
 */
export async function drain(
  server: http.Server,
  conns: ReadonlySet<Connection<any>>,
  timeoutMs: number,
  log: Logger,
  wait?: DrainWait,
): Promise<number> {
  const open = [...conns];
  const serverClosed = new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
  server.closeIdleConnections();
  const waiting = new Set<Connection<any>>();
  const goAway = (c: Connection<any>) => {
    waiting.delete(c);
    c.endReason = 'drain';
    // Behind any frames still corked for this turn (an ack just sent), which end() flushes first.
    c.close(CloseCode.GOING_AWAY, 'server shutting down');
  };
  const allClosed = Promise.all(
    open.map((c) => new Promise<void>((resolve) => {
      if (c.socket.readyState === 3) return resolve();
      c.socket.once('close', () => {
        waiting.delete(c);
        resolve();
      });
      // A request the handler is still processing is answered by this process, then the
      // connection closes: closed now, its ack could not reach the client, which would resend
      // the request to the next server, and the handler would run twice.
      if (wait?.whenIdle(c, () => goAway(c))) waiting.add(c);
      else goAway(c);
    })),
  );
  log.info('drain', { clients: open.length, timeoutMs, requestsInFlight: waiting.size || undefined });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    allClosed.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  let terminated = 0;
  if (timedOut) {
    for (const c of waiting) wait!.timedOut(c, timeoutMs);
    for (const c of conns) {
      terminated++;
      c.terminate('drain timeout');
    }
  }
  server.closeAllConnections();
  await serverClosed;
  return terminated;
}
