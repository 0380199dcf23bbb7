/**
 * A bound on the memory held by unfinished (fragmented) messages, per connection and in
 * total, and a deadline for a message that never completes.
 *
 * Why: ws keeps each fragment of a message as a view into the socket read chunk it arrived
 * in (up to 64 KiB plain, 16 KiB with TLS) until the final fragment. The per-message bounds
 * (maxPayload, 64 fragments) held, but nothing bounded their sum: 256 connections from one
 * IPv4 address, each holding 63 one-byte fragments padded with pongs, took the server from
 * 61 MB to about 1 GB of RSS, and an unfinished message was never timed out.
 *
 * How: ws's Receiver calls `dataMessage()` once per data frame. Each connection's receiver
 * gets that method replaced by one shared function (no closure per connection), which for a
 * whole unfragmented message only reads two fields before calling the original. Only while a
 * fragmented message is in progress does a connection have an entry here: the bytes of the
 * distinct read chunks its fragments pin, and when the message started. Over the connection's
 * bound: close 1009; over the total: close 1013 (try again later); past the deadline: close
 * 1008. The deadline sweep runs only while some message is unfinished.
 *
 * ws internals used (checked by test/message-budget.test.ts against the installed ws):
 * `WebSocket#_receiver`, `Receiver#dataMessage`, `_fin`, `_numFragments`, `_fragments`,
 * `createError`.
 */
import { wsClass } from './ws-class';
import type { WebSocket } from 'ws';

export interface MessageBudgetOptions {
  /** Bytes one connection's unfinished message may pin. */
  perConnection: number;
  /** Bytes all unfinished messages together may pin. */
  total: number;
  /** Ms from a message's first fragment to its last. */
  timeoutMs: number;
  /** A message timed out: the owner closes the connection (1008). */
  onTimeout(ws: WebSocket): void;
}

/** The parts of ws's Receiver this module touches. */
interface ReceiverInternals {
  _fin: boolean;
  _numFragments: number;
  _fragments: Buffer[];
  dataMessage(cb: (err?: Error) => void): void;
  createError(ctor: ErrorConstructor, message: string, prefix: boolean, statusCode: number, errorCode: string): Error;
  /** The budget this receiver reports to (set by install). */
  wssMpBudget?: MessageBudget;
}

interface Entry {
  ws: WebSocket;
  held: number;
  lastChunk: ArrayBufferLike | undefined;
  startedAt: number;
}

/** Error codes a budget refusal carries (ws error `code`, in the close log line). */
export const UNFINISHED_TOO_BIG = 'WSS_MP_ERR_UNFINISHED_MESSAGE_TOO_BIG';
export const UNFINISHED_TOTAL = 'WSS_MP_ERR_UNFINISHED_MESSAGES_TOTAL';

const original = wsClass<{ prototype: ReceiverInternals }>('Receiver').prototype.dataMessage;

/** Stands in for Receiver#dataMessage on every server connection (`this` is the receiver). */
function budgetedDataMessage(this: ReceiverInternals, cb: (err?: Error) => void): void {
  // A whole message in one frame: the common case, two field reads.
  if (this._fin && this._numFragments <= 1) return original.call(this, cb);
  this.wssMpBudget!.fragment(this, cb);
}

export class MessageBudget {
  private readonly open = new Map<ReceiverInternals, Entry>();
  private heldTotal = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: MessageBudgetOptions) {}

  /** Bytes pinned by unfinished messages now. */
  get held(): number {
    return this.heldTotal;
  }

  /** Connections with an unfinished message now. */
  get unfinished(): number {
    return this.open.size;
  }

  /** Puts a new server connection under the budget. */
  install(ws: WebSocket): void {
    const r = (ws as unknown as { _receiver: ReceiverInternals | null })._receiver;
    if (!r) return;
    r.wssMpBudget = this;
    r.dataMessage = budgetedDataMessage;
  }

  /** The connection closed: whatever its unfinished message pinned is free. */
  forget(ws: WebSocket): void {
    if (this.open.size === 0) return;
    const r = (ws as unknown as { _receiver: ReceiverInternals | null })._receiver;
    if (r) this.drop(r);
  }

  /** @internal a data frame of a fragmented message (called by budgetedDataMessage). */
  fragment(r: ReceiverInternals, cb: (err?: Error) => void): void {
    if (r._fin) {
      // The last fragment: the message is complete and no longer pinned here.
      this.drop(r);
      return original.call(r, cb);
    }
    let e = this.open.get(r);
    if (!e) {
      const ws = findWebSocket(r);
      e = { ws, held: 0, lastChunk: undefined, startedAt: Date.now() };
      this.open.set(r, e);
      this.arm();
    }
    const frag = r._fragments[r._fragments.length - 1];
    if (frag !== undefined && frag.buffer !== e.lastChunk) {
      // Fragments from one read share its chunk: count each chunk once.
      e.lastChunk = frag.buffer;
      e.held += frag.buffer.byteLength;
      this.heldTotal += frag.buffer.byteLength;
    }
    if (e.held > this.o.perConnection || this.heldTotal > this.o.total) {
      const mine = e.held > this.o.perConnection;
      this.drop(r);
      r._fragments = []; // release the chunks now, not when the socket finally closes
      cb(mine
        ? r.createError(RangeError, 'unfinished message holds too much memory', false, 1009, UNFINISHED_TOO_BIG)
        : r.createError(RangeError, 'server busy: too much memory held by unfinished messages', false, 1013, UNFINISHED_TOTAL));
      return;
    }
    original.call(r, cb);
  }

  /** @internal exposed for tests: closes connections whose message is past its deadline. */
  sweep(now = Date.now()): void {
    for (const [r, e] of this.open) {
      if (now - e.startedAt < this.o.timeoutMs) continue;
      this.drop(r);
      r._fragments = [];
      this.o.onTimeout(e.ws);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private drop(r: ReceiverInternals): void {
    const e = this.open.get(r);
    if (!e) return;
    this.open.delete(r);
    this.heldTotal -= e.held;
    if (this.open.size === 0) this.stop();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), Math.max(50, Math.min(1_000, Math.floor(this.o.timeoutMs / 4))));
    this.timer.unref();
  }
}

let kWebSocket: symbol | undefined;
/** ws links each receiver to its WebSocket under a private `websocket` symbol. */
function findWebSocket(r: ReceiverInternals): WebSocket {
  kWebSocket ??= Object.getOwnPropertySymbols(r).find((s) => s.description === 'websocket');
  return (r as unknown as Record<symbol, WebSocket>)[kWebSocket!]!;
}
