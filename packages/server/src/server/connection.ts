/**
 * One client connection, as hooks see it: a thin wrapper over a `ws` WebSocket that knows
 * its client IP and path, and enforces the slow-consumer cap on every send.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { WebSocket } from 'ws';
import { corkForTurn, type TurnCorked } from './cork';
import type { Stats } from './ops/stats';
import { adoptSender, DIRECT_BYTES, firstBufferSize, frameLength, growBuffer, POOLED_BYTES, type SenderInternals, writeFrame } from './turn-buffer';

const BINARY = Object.freeze({ binary: true });
const TEXT = Object.freeze({ binary: false });
/**
 * Corked bytes (plus any backlog) at which a turn's frames are written at once rather than at
 * the end of the turn: four full TLS records, µWebSockets' cork buffer size times four.
 */
const COALESCE_FLUSH_BYTES = 64 * 1024;

/** Socket read chunks kept alive by queued sends (see Connection.sendFrame). */
interface Held {
  /** The chunk the latest tracked message is a view into. */
  chunk: ArrayBufferLike;
  /** Bytes each held chunk holds beyond its queued views, oldest first from `head`; the last is `chunk`'s. */
  extra: number[];
  head: number;
  /** Sum of extra[head..]. */
  total: number;
  /**
   * Write callback of the first message from each later chunk: sends complete in order, so
   * when it runs every message from the chunk before has been written and that chunk is free.
   */
  release: () => void;
}

function newHeld(chunk: ArrayBufferLike, extra: number): Held {
  const h: Held = {
    chunk,
    extra: [extra],
    head: 0,
    total: extra,
    release: () => {
      if (h.head >= h.extra.length) return;
      h.total -= h.extra[h.head++]!;
      if (h.head >= 64 && h.head * 2 >= h.extra.length) {
        h.extra.splice(0, h.head); // a queue that never drains: drop released entries now and then
        h.head = 0;
      }
    },
  };
  return h;
}

/** The socket under `ws` as the send path uses it (a net.Socket or tls.TLSSocket). */
export interface RawSocket {
  cork(): void;
  uncork(): void;
  destroy(err?: Error): void;
  write(chunk: Buffer): boolean;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
}

export interface ConnectionInit {
  id: number;
  ip: string;
  remoteAddress: string;
  path: string;
  url: string;
  headers: IncomingHttpHeaders;
  maxBufferedAmount: number;
  onSlowConsumer: (conn: Connection<any>) => void;
  /** The TLS/TCP socket under `ws`, to cork for the turn (see cork.ts); null: coalesceWrites off. */
  raw: RawSocket | null;
  /** Where sends are counted (the server's metrics); undefined: not counted. */
  stats?: Stats;
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
  /** The authenticated user's id (from `authenticate` or `jwt`); null when anonymous. */
  user: string | null = null;
  /** What `authenticate` returned as `data` (with `jwt`: the token's claims). */
  userData: unknown = undefined;
  /** @internal the wss-mp.v1 session; undefined on plain connections. */
  session: unknown = undefined;
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
  /** Read chunks held by queued messages; undefined (one field) while there are none. */
  private held: Held | undefined = undefined;
  /** @internal the socket corked for the turn; null when coalescing is off. */
  readonly raw: RawSocket | null;
  /** ws's Sender, when this connection frames small frames itself (coalescing on; turn-buffer.ts). */
  private readonly sender: SenderInternals | null;
  /** This turn's frames, framed here and not yet handed to the socket; null when none. */
  private out: Buffer | null = null;
  /** Bytes of `out` used. */
  private outLen = 0;
  /** Bytes framed here so far this turn, and in the last turn: the size of a turn's first buffer. */
  private turnBytes = 0;
  private lastTurnBytes = 0;
  /** @internal corked until the end of this event-loop turn (cork.ts owns it). */
  inTurn = false;
  /** The server's counters (one object shared by every connection). */
  private readonly stats: Stats | undefined;

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
    this.raw = init.raw;
    this.stats = init.stats;
    this.sender = init.raw !== null ? adoptSender(socket, this) : null;
  }

  /** True while messages can be sent. */
  get isOpen(): boolean {
    return this.socket.readyState === 1;
  }

  /** Bytes queued for this client and not yet written to the network (this turn's frames included). */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount + this.outLen;
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
    // A string's byteLength is one scan; buffers and views know theirs.
    const len = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    const st = this.stats;
    if (st !== undefined) {
      st.messagesOut++;
      st.bytesOut += len;
    }
    // Everything below writes to the corked socket: bufferedAmount (ws counts the stream's
    // writableLength, corked bytes included, and this.outLen is added) and the cap check see
    // this frame at once.
    this.cork();
    const s = this.sender;
    let held: number;
    if (s !== null && len < DIRECT_BYTES && s._state === 0) {
      // Coalescing on, a small frame, ws not holding frames of its own (a Blob being read):
      // framed into this turn's buffer (turn-buffer.ts). The payload is copied, so nothing
      // beyond the buffer is held for it.
      this.append(data, binary, len);
      held = this.held === undefined ? 0 : this.held.total;
    } else {
      held = this.sendThroughWs(ws, data, binary);
    }
    const buffered = ws.bufferedAmount + this.outLen;
    if (buffered + held > this.maxBuffered) {
      this.onSlow(this);
      return false;
    }
    // A large turn leaves in slices of about COALESCE_FLUSH_BYTES: the kernel takes what it can
    // at once, as without the cork, and a burst to a client that reads is not counted against
    // maxBufferedAmount in full before any of it left.
    if (buffered >= COALESCE_FLUSH_BYTES && this.raw !== null) {
      this.flushOut();
      this.raw.uncork();
      this.raw.cork();
    }
    return true;
  }

  /**
   * Frames `data` into this turn's buffer. The first buffer of a turn is sized like the last turn
   * (a connection's turns tend to look alike: one echo, ten answers, sixteen 1 KiB echoes), small
   * ones sliced from Node's shared pool; a turn that outgrows it continues in a larger one.
   */
  private append(data: string | ArrayBuffer | ArrayBufferView, binary: boolean, len: number): void {
    const need = frameLength(len);
    let out = this.out;
    if (out === null) {
      out = this.out = Buffer.allocUnsafe(firstBufferSize(need, this.lastTurnBytes));
    } else if (this.outLen + need > out.length) {
      const had = out.length;
      this.flushOut(); // to the corked socket: still one write at the end of the turn
      out = this.out = growBuffer(need, had);
    }
    this.outLen = writeFrame(out, this.outLen, data, binary, len);
  }

  /** @internal the end of the turn (cork.ts): the buffer goes to the socket; its size is remembered. */
  endTurn(): void {
    this.flushOut();
    this.lastTurnBytes = this.turnBytes;
    this.turnBytes = 0;
  }

  /**
   * @internal Hands this turn's buffered frames to the socket (corked: they still leave with the
   * turn). Called at the end of the turn (cork.ts), before any frame ws writes itself
   * (turn-buffer.ts), and when a turn grows past a buffer.
   */
  flushOut(): void {
    const out = this.out;
    if (out === null) return;
    const n = this.outLen;
    this.out = null;
    this.outLen = 0;
    this.turnBytes += n;
    const raw = this.raw!;
    // Ended or destroyed under us (the peer went away mid-turn): ws drops what it is asked to
    // send then too.
    if (raw.destroyed || raw.writableEnded) return;
    // A mostly empty buffer of its own (not a pool slice) would stay alive, whole, for as long as a
    // slow reader leaves its frames queued: then the frames are copied out to their own size.
    raw.write(n === out.length ? out : n * 2 >= out.length || out.length <= POOLED_BYTES ? out.subarray(0, n) : Buffer.from(out.subarray(0, n)));
  }

  /** sendFrame through ws (large frames, coalescing off, a Blob pending); returns bytes held. */
  private sendThroughWs(ws: WebSocket, data: string | Buffer | ArrayBuffer | ArrayBufferView, binary: boolean): number {
    // A received message is a view into the socket read chunk it arrived in (up to 64 KiB,
    // 16 KiB with TLS), which the peer can fill with other frames (pongs). While its send is
    // queued, the view keeps the whole chunk alive, and bufferedAmount counts only the view:
    // a peer that stopped reading and sent 1-byte messages padded to 64 KiB made the echo
    // server hold everything it sent (RSS +270 MiB for 250 MiB, under the 1 MiB cap; measured,
    // see test/server-frames.e2e.test.ts). So what such chunks hold beyond their messages
    // counts against the cap too. (Copying the views instead cost ~9 % of TLS echo throughput
    // when done per message on this path.) Nothing is tracked while nothing is queued, nor
    // for views that are at least half their chunk.
    const h = this.held;
    if (!ArrayBuffer.isView(data) || data.buffer.byteLength <= 2 * data.byteLength) {
      // A string, or a view that is at least half its chunk (one message per TLS record):
      // holds at most what bufferedAmount counts again.
      ws.send(data, binary ? BINARY : TEXT);
      return h === undefined ? 0 : h.total;
    }
    if (h !== undefined && data.buffer === h.chunk) {
      // Another message from the same chunk (several per read): the chunk is counted once.
      ws.send(data, binary ? BINARY : TEXT);
      const i = h.extra.length - 1;
      const less = Math.min(h.extra[i]!, data.byteLength);
      h.extra[i] = h.extra[i]! - less;
      return (h.total -= less);
    }
    return this.holdNewChunk(ws, h, data, binary);
  }

  /** sendFrame for the first message from a read chunk; returns the bytes chunks now hold. */
  private holdNewChunk(ws: WebSocket, h: Held | undefined, data: ArrayBufferView, binary: boolean): number {
    if (h !== undefined && ws.bufferedAmount === 0) h = this.held = undefined; // drained: all free
    ws.send(data, binary ? BINARY : TEXT, h?.release);
    if (ws.bufferedAmount === 0) return h === undefined ? 0 : h.total; // written at once (plain ws, not corked): holds nothing
    const extra = data.buffer.byteLength - data.byteLength;
    if (h === undefined) {
      this.held = newHeld(data.buffer, extra);
      return extra;
    }
    h.chunk = data.buffer;
    h.extra.push(extra);
    return (h.total += extra);
  }

  /**
   * Starts the closing handshake. Codes: 1000, or 4000–4499 for "do not come back as you
   * are" (bad token…), 4500–4999 for "come back later" (see the protocol close codes).
   */
  close(code = 1000, reason = ''): void {
    if (!this.endReason) this.endReason = 'closed by server';
    // The close frame queues behind this turn's frames in the same write; the stream keeps
    // the order either way, and ws ends the socket (which uncorks fully) only after it.
    if (this.socket.readyState === 1) this.cork();
    this.socket.close(code, reason);
  }

  /** Corks the socket until the end of this turn, unless coalescing is off or it already is. */
  private cork(): void {
    if (this.raw !== null && !this.inTurn) corkForTurn(this as unknown as TurnCorked);
  }

  /** @internal heartbeat ping, through the turn's cork like every other frame. */
  ping(): void {
    if (this.socket.readyState !== 1) return;
    this.cork();
    this.socket.ping();
  }

  /**
   * Closes with `code` and stops reading: for a peer that floods, whose frames would otherwise be
   * read, decrypted and parsed until its close frame arrives (it keeps sending until it reads
   * ours). Its close frame is not waited for either: the socket is destroyed after `graceMs`.
   */
  cut(code: number, reason: string, graceMs = 1_000): void {
    this.close(code, reason);
    const ws = this.socket;
    ws.pause();
    const t = setTimeout(() => ws.terminate(), graceMs);
    t.unref();
    ws.once('close', () => clearTimeout(t));
  }

  /** Destroys the socket at once, without a closing handshake. */
  terminate(reason = 'terminated by server'): void {
    if (!this.endReason) this.endReason = reason;
    this.socket.terminate();
  }
}
