/**
 * One client connection, as hooks see it: a thin wrapper over a `ws` WebSocket that knows
 * its client IP and path, and enforces the slow-consumer cap on every send.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { WebSocket } from 'ws';

const BINARY = Object.freeze({ binary: true });
const TEXT = Object.freeze({ binary: false });

export interface ConnectionInit {
  id: number;
  ip: string;
  remoteAddress: string;
  path: string;
  url: string;
  headers: IncomingHttpHeaders;
  maxBufferedAmount: number;
  onSlowConsumer: (conn: Connection<any>) => void;
}

export class Connection<T = Record<string, unknown>> {
  /** Process-unique id, also in every log line about this connection. */
  readonly id: number;
  /** Client IP after the trust-proxy rules (the socket peer unless a trusted proxy said otherwise). */
  readonly ip: string;
  /** The TCP peer (the proxy, behind one). */
  readonly remoteAddress: string;
  /** Upgrade path without the query string. */
  readonly path: string;
  /** Upgrade request URL including the query string (tokens: never log it). */
  readonly url: string;
  /**
   * The upgrade request's headers, when the server has at least one hook (onConnect,
   * onMessage, onClose, onError). Without hooks (the echo server) they are not kept, to save
   * memory per idle connection, and this is an empty frozen object.
   */
  readonly headers: IncomingHttpHeaders;
  /** When the connection opened (ms since epoch). */
  readonly openedAt = Date.now();
  /** Your per-connection state (Workerman-style custom properties). */
  data: T = {} as T;
  /** The underlying `ws` WebSocket, for what this wrapper does not cover. */
  readonly socket: WebSocket;
  /** @internal heartbeat: set on any inbound frame, cleared by each ping sweep. */
  alive = true;
  /** @internal reason the server ended the connection, for the close log line. */
  endReason: string | undefined;
  /** @internal */
  error: string | undefined;
  /** @internal close code the server sent after a protocol error */
  sentCode: number | undefined;
  private readonly maxBuffered: number;
  private readonly onSlow: (conn: Connection<any>) => void;

  constructor(socket: WebSocket, init: ConnectionInit) {
    this.socket = socket;
    this.id = init.id;
    this.ip = init.ip;
    this.remoteAddress = init.remoteAddress;
    this.path = init.path;
    this.url = init.url;
    this.headers = init.headers;
    this.maxBuffered = init.maxBufferedAmount;
    this.onSlow = init.onSlowConsumer;
  }

  /** True while messages can be sent. */
  get isOpen(): boolean {
    return this.socket.readyState === 1;
  }

  /** Bytes queued for this client and not yet written to the network. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** The URL's query parameters (parsed on each call; tokens live here). */
  get query(): URLSearchParams {
    const q = this.url.indexOf('?');
    return new URLSearchParams(q === -1 ? '' : this.url.slice(q + 1));
  }

  /**
   * Sends a text (string) or binary (Buffer, ArrayBuffer, typed array) message. Returns
   * false when the connection is not open, or when it was just terminated for exceeding
   * maxBufferedAmount (a client that does not read).
   */
  send(data: string | Buffer | ArrayBuffer | ArrayBufferView): boolean {
    return this.sendFrame(data, typeof data !== 'string');
  }

  /** @internal shared by send, echo and broadcast: the hot path. */
  sendFrame(data: string | Buffer | ArrayBuffer | ArrayBufferView, binary: boolean): boolean {
    const ws = this.socket;
    if (ws.readyState !== 1) return false;
    ws.send(data, binary ? BINARY : TEXT);
    if (ws.bufferedAmount > this.maxBuffered) {
      this.onSlow(this);
      return false;
    }
    return true;
  }

  /**
   * Starts the closing handshake. Codes: 1000, or 4000–4499 for "do not come back as you
   * are" (bad token…), 4500–4999 for "come back later" (see the protocol close codes).
   */
  close(code = 1000, reason = ''): void {
    if (!this.endReason) this.endReason = 'closed by server';
    this.socket.close(code, reason);
  }

  /** Destroys the socket at once, without a closing handshake. */
  terminate(reason = 'terminated by server'): void {
    if (!this.endReason) this.endReason = reason;
    this.socket.terminate();
  }
}
