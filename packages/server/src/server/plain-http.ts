/**
 * Plain HTTP (or ws://) sent to the TLS port: answer `400` naming wss:// instead of the
 * silent reset clients otherwise get (FAQ note 2: "a wss port speaks only wss").
 *
 * How: OpenSSL recognises an HTTP request as the first record and Node reports it as
 * `tlsClientError` with code ERR_SSL_HTTP_REQUEST. At that moment the TCP socket under the
 * TLSSocket (`_parent`, a private field on Node 20–24) is still open, so the 400 goes there.
 * The normal TLS path pays nothing: no first-byte sniffing, no JS stream between TCP and TLS.
 * If a future Node drops or renames the field we fall back to Node's plain close; a test
 * (plain-http.test.ts) fails first so we notice.
 */
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export const PLAIN_HTTP_BODY =
  'This port speaks TLS only: use wss:// (WebSocket) or https://, not ws:// or http://.\n';

export const PLAIN_HTTP_RESPONSE =
  'HTTP/1.1 400 Bad Request\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\n' +
  `Content-Length: ${Buffer.byteLength(PLAIN_HTTP_BODY)}\r\n` +
  'Connection: close\r\n' +
  '\r\n' +
  PLAIN_HTTP_BODY;

const ignore = () => {};

/** The TCP socket under a server-side TLSSocket, if Node still exposes it. */
export function underlyingSocket(tlsSocket: TLSSocket): Socket | undefined {
  const parent = (tlsSocket as unknown as { _parent?: unknown })._parent;
  return parent instanceof Socket ? parent : undefined;
}

/**
 * Call from the https server's `tlsClientError` listener. Returns true when it answered the
 * request with a 400; false when the error is something else or the socket is out of reach
 * (Node then closes the connection as usual).
 */
export function answerPlainHttp(err: Error, tlsSocket: TLSSocket): boolean {
  if ((err as NodeJS.ErrnoException).code !== 'ERR_SSL_HTTP_REQUEST') return false;
  const raw = underlyingSocket(tlsSocket);
  if (!raw || raw.destroyed || !raw.writable) return false;
  raw.on('error', ignore);
  raw.end(PLAIN_HTTP_RESPONSE);
  return true;
}
