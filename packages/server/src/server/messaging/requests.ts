/**
 * Client requests (`req` → `ack`) with ids as idempotency keys, and the containment of every
 * application callback the protocol calls (onRequest, canSubscribe): a throw is reported and
 * answered HANDLER_ERROR, a promise that never settles is answered TIMEOUT after the request
 * timeout, and a late settlement after that is ignored.
 *
 * Each connection counts the requests it waits on (its own, and duplicates of another
 * connection's that wait for that one), so that a drain can answer them before it closes the
 * connection: a handler that ran must be acknowledged by this process, because the next one
 * would run it again. During a drain no new request is started (answered UNAVAILABLE).
 */
import { MessagingErrorCode as E } from '@wss-mp/protocol';
import type { Connection } from '../connection';
import type { Dedup, Pending } from './dedup';
import type { ResolvedMessaging } from './options';

type ReportError = (err: unknown, conn: Connection<any> | undefined, where: string) => void;

export function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<T>).then === 'function';
}

/**
 * `JSON.stringify({ t: 'ack', id, data })` spelled out: no object per reply, and a third of the
 * encoding's CPU. The same text: `data` is left out when it encodes to nothing (undefined, a
 * function), and throws (a BigInt, a cycle) propagate. (A toJSON method sees the key "" here
 * instead of "data".) `plainId`: the id is known to need no escaping (req-frame.ts read it so).
 */
export function replyAck(id: string, data: unknown, plainId = false): string {
  const json = JSON.stringify(data);
  if (plainId) return json === undefined ? `{"t":"ack","id":"${id}"}` : `{"t":"ack","id":"${id}","data":${json}}`;
  const q = JSON.stringify(id);
  return json === undefined ? `{"t":"ack","id":${q}}` : `{"t":"ack","id":${q},"data":${json}}`;
}

export function errorAck(id: string, code: string, message: string): string {
  return JSON.stringify({ t: 'ack', id, error: { code, message } });
}

const echo = (_conn: Connection<any>, data: unknown) => data;

/** What a connection's session keeps for the drain (the engine's Session has these fields). */
export interface InFlight {
  /** Requests this connection waits on: started by it, or duplicates waiting for another's. */
  inFlight: number;
  /** Called once when inFlight drops to 0 (set by the drain). */
  onIdle: (() => void) | undefined;
}

function settled(conn: Connection<any>): void {
  const f = conn.session as InFlight | undefined;
  if (f === undefined || --f.inFlight !== 0 || f.onIdle === undefined) return;
  const idle = f.onIdle;
  f.onIdle = undefined;
  idle();
}

export class Requests<T> {
  private readonly onRequest: (conn: Connection<T>, data: unknown, request: { id: string }) => unknown;
  /** Set when the server drains: no request is started any more. */
  draining = false;

  constructor(
    private readonly m: ResolvedMessaging<T>,
    private readonly dedup: Dedup<Connection<T>>,
    private readonly report: ReportError,
  ) {
    this.onRequest = m.onRequest ?? echo;
  }

  /**
   * A `req`: answered from the dedup memory, queued behind the same id in progress, or run.
   * `plainId`: printable ASCII without quotes or backslashes, its JSON text is itself.
   */
  handle(conn: Connection<T>, id: string, data: unknown, plainId = false): void {
    // Read after our close frame went out (a drain's 1001): its ack could not reach the client,
    // which resends it on its next connection. Running it here would run it twice.
    if (!conn.isOpen) return;
    // Scoped per user; anonymous connections share one scope (ids carry a random client prefix).
    // A user's key always has a line feed after the user id, so an anonymous id without one is its
    // own key (no string built per request); one with a line feed is set apart by a leading one.
    const user = conn.user;
    const key = user !== null ? `${user}\n${id}` : id.indexOf('\n') === -1 ? id : `\n${id}`;
    const seen = this.dedup.get(key);
    if (seen !== undefined) {
      if (typeof seen === 'string') conn.send(seen);
      else {
        (seen.waiters ??= []).push(conn);
        (conn.session as InFlight).inFlight++;
      }
      return;
    }
    // Draining: started now, it might still be running when the drain's deadline cuts the
    // connection, and then run again on the next server. UNAVAILABLE: not processed; the client
    // keeps it and resends it after its next welcome (protocol §4).
    if (this.draining) return void conn.send(errorAck(id, E.UNAVAILABLE, 'server shutting down; resend after reconnecting'));
    // Counted even while a synchronous handler runs: one that starts the drain must not see this
    // connection idle and have it closed before its ack is sent.
    (conn.session as InFlight).inFlight++;
    // A synchronous handler (the default echo) is answered without allocating callbacks, and
    // without an in-progress mark: nothing else runs until it returns.
    let r: unknown;
    try {
      r = this.onRequest(conn, data, { id });
    } catch (err) {
      this.report(err, conn, 'messaging callback');
      return this.answer(key, undefined, conn, errorAck(id, E.HANDLER_ERROR, 'the handler failed'), true);
    }
    if (!isThenable(r)) return this.finish(key, undefined, conn, id, r, plainId);
    const p = this.dedup.begin(key);
    this.ask(conn, id, () => r, (value) => this.finish(key, p, conn, id, value, plainId), (ack, store) => this.answer(key, p, conn, ack, store));
  }

  /** Answers `conn` and whoever waited on the same id; stores the answer unless `store` is false. */
  private answer(key: string, p: Pending<Connection<T>> | undefined, conn: Connection<T>, ack: string, store: boolean): void {
    const waiters = store ? this.dedup.done(key, ack, p) : p === undefined ? undefined : this.dedup.abandon(key, p);
    conn.send(ack);
    settled(conn);
    if (waiters === undefined) return;
    for (const w of waiters) {
      w.send(ack);
      settled(w);
    }
  }

  private finish(key: string, p: Pending<Connection<T>> | undefined, conn: Connection<T>, id: string, value: unknown, plainId: boolean): void {
    let ack: string;
    try {
      ack = replyAck(id, value, plainId);
    } catch (err) {
      this.report(err, conn, 'onRequest (reply is not JSON)');
      ack = errorAck(id, E.HANDLER_ERROR, 'the reply could not be encoded as JSON');
    }
    this.answer(key, p, conn, ack, true);
  }

  /**
   * Calls `fn` contained: its value (or resolution) goes to `then`; a throw or rejection is
   * reported and answered HANDLER_ERROR (stored: the handler ran), no settlement within the
   * request timeout is answered TIMEOUT (not stored: a resend may run it again).
   */
  ask<R>(conn: Connection<T>, id: string, fn: () => R | PromiseLike<R>, then: (v: R) => void,
    fail: (ack: string, store: boolean) => void = (ack) => void conn.send(ack)): void {
    let r: R | PromiseLike<R>;
    try {
      r = fn();
    } catch (err) {
      this.report(err, conn, 'messaging callback');
      return fail(errorAck(id, E.HANDLER_ERROR, 'the handler failed'), true);
    }
    if (!isThenable<R>(r)) return then(r);
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      this.report(new Error(`not settled within ${this.m.requestTimeout} ms`), conn, 'messaging callback');
      fail(errorAck(id, E.TIMEOUT, `not answered within ${this.m.requestTimeout} ms`), false);
    }, this.m.requestTimeout);
    r.then(
      (v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        then(v);
      },
      (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.report(err, conn, 'messaging callback');
        fail(errorAck(id, E.HANDLER_ERROR, 'the handler failed'), true);
      },
    );
  }
}
