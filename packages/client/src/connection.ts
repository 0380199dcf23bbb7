import type { Clock } from './options';
import type { Data, Driver, DriverSocket, Endpoint } from './platform/types';

/**
 * One socket, from connectSocket to the moment it is really gone.
 *
 * Two endings are tracked apart:
 * - retired: the client no longer listens to it (we closed it, or it closed/failed). The client
 *   hears about a retirement it did not cause exactly once, through `handlers.close`.
 * - gone: the platform confirmed the close (onClose), or `closeTimeout` passed without one.
 *   Only then may the next socket open: the platform allows five per app, CLOSING ones included.
 *
 * A retired socket that opens late is closed again at once; its other callbacks are ignored.
 */
export interface Connection {
  readonly id: number;
  send(data: Data, fail: (cause: unknown) => void): void;
  /** Retires the socket without calling `handlers.close` (the caller reports the close itself). */
  close(code: number, reason: string): void;
  /** Runs `fn` once the socket is gone (at once if it already is). */
  whenGone(fn: () => void): void;
}

export interface ConnectionHandlers {
  open(c: Connection, header: Record<string, string> | undefined): void;
  message(c: Connection, data: Data): void;
  error(c: Connection, cause: unknown): void;
  /** The socket ended without the client asking: at most once, never after `close()`. */
  close(c: Connection, code: number, reason: string): void;
}

export function openConnection(
  id: number,
  driver: Driver,
  endpoint: Endpoint,
  clock: Clock,
  closeTimeout: number,
  h: ConnectionHandlers,
): Connection {
  let phase = 0; // 0 connecting, 1 open, 2 retired
  let gone = false;
  let fallback: unknown;
  let closeArgs: [number, string] = [1000, ''];
  let sock: DriverSocket | undefined;
  const waiters: (() => void)[] = [];

  const finish = () => {
    if (gone) return;
    gone = true;
    clock.clearTimeout(fallback);
    for (const fn of waiters.splice(0)) fn();
  };
  const retire = (code: number, reason: string) => {
    if (phase < 2) {
      phase = 2;
      h.close(c, code, reason);
    }
  };
  // Ask the platform to close; whatever it does, the socket counts as gone after closeTimeout.
  const shut = () => {
    if (fallback === undefined && !gone) {
      fallback = clock.setTimeout(() => {
        retire(1006, '');
        finish();
      }, closeTimeout);
      if (sock) sock.close(closeArgs[0], closeArgs[1]);
    }
  };

  const c: Connection = {
    id,
    send: (data, fail) => (sock ? sock.send(data, fail) : fail(undefined)),
    close(code, reason) {
      phase = 2;
      closeArgs = [code, reason];
      shut();
    },
    whenGone: (fn) => (gone ? fn() : waiters.push(fn)),
  };

  try {
    sock = driver.connect(endpoint, {
      open(header) {
        if (phase === 0) {
          phase = 1;
          h.open(c, header);
        } else if (phase === 2 && sock) sock.close(closeArgs[0], closeArgs[1]); // late open of a retired socket
      },
      message(data) {
        if (phase === 1) h.message(c, data);
      },
      close(code, reason) {
        retire(code, reason);
        finish();
      },
      error(cause) {
        if (phase < 2) h.error(c, cause);
        // onError may come without onClose: close it ourselves and wait (bounded) for the end.
        shut();
      },
    });
  } catch (e) {
    clock.setTimeout(() => {
      if (phase < 2) h.error(c, e);
      retire(1006, '');
      finish();
    }, 0);
  }
  return c;
}
