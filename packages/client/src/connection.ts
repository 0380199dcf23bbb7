import type { Clock } from './options';
import type { ConnectSocketOption, Data, Endpoint, Platform, SocketTaskLike } from './platform/types';

const noop = () => {};

/** ms to wait for a retired task's onClose before it counts as gone anyway. */
export const CLOSE_TIMEOUT = 1000;

/**
 * One SocketTask, from connectSocket to the moment it is really gone. It talks to the task
 * directly, and absorbs the platforms' differences: uni returns a task only when a callback is
 * passed (we always pass `fail`), Taro returns a Promise of one (a close requested
 * before it arrives is applied on arrival), Douyin reports the close code as a string.
 *
 * Two endings are tracked apart:
 * - retired: the client no longer listens to it (we closed it, or it closed/failed). A retired
 *   task never calls the handlers again, so late callbacks of an old task cannot reach the
 *   client; one that opens late is closed again at once.
 * - gone: the platform confirmed the close (onClose; a failed connectSocket leaves no task), or
 *   `CLOSE_TIMEOUT` passed without that. Only then may the next task open: the platform allows
 *   five per app, CLOSING ones included.
 */
export interface Connection {
  send(data: Data, fail: (cause: unknown) => void): void;
  /** Retires the task without calling `onClose` (the caller reports the close itself). */
  close(code: number, reason: string): void;
  /** Runs `fn` once the task is gone (at once if it already is); a later call replaces it. */
  whenGone(fn: () => void): void;
}

export function openConnection(
  platform: Platform,
  endpoint: Endpoint,
  clock: Clock,
  // What the client hears from its current task; `onClose` = it ended without the client
  // asking (at most once, never after `close()`).
  onOpen: (header: Record<string, string> | undefined) => void,
  onMessage: (data: Data) => void,
  onError: (cause: unknown) => void,
  onClose: (code: number, reason: string) => void,
): Connection {
  let phase = 0; // 0 connecting, 1 open, 2 retired
  let gone = false;
  let fallback: unknown;
  let task: SocketTaskLike | undefined;
  let code = 1000;
  let reason = '';
  // Only the latest waiter matters: an earlier one belongs to an abandoned course.
  let waiter: (() => void) | undefined;

  // The task ended (or is given up on): tell the client if it still listened, then release.
  // (Only a retired connection has a waiter, so the order of the two steps is free.)
  const ended = (c: number, r: string) => {
    if (!gone) {
      gone = true;
      clock.clearTimeout(fallback);
      if (waiter) waiter();
    }
    if (phase < 2) {
      phase = 2;
      onClose(c, r);
    }
  };
  // `fail` absorbs "closeSocket:fail taskID not exist" and friends.
  const closeTask = () => task && task.close({ code, reason, fail: noop });
  // Ask the platform to close; whatever it does, the task counts as gone after CLOSE_TIMEOUT.
  const shut = () => {
    if (!fallback && !gone) {
      fallback = clock.setTimeout(() => ended(1006, ''), CLOSE_TIMEOUT);
      closeTask();
    }
  };
  const error = (res: unknown) => phase < 2 && onError(res);
  // connectSocket failed: no task is left behind.
  const fail = (res: unknown) => {
    error(res);
    ended(1006, '');
  };
  const attach = (t: SocketTaskLike) => {
    task = t;
    t.onOpen((res) => {
      if (phase === 0) {
        phase = 1;
        onOpen(res && res.header);
      } else if (phase === 2) closeTask(); // late open of a retired task
    });
    t.onMessage((res) => phase === 1 && onMessage(res.data));
    t.onClose((res) => ended(+res.code || 1005, res.reason || ''));
    t.onError((res) => {
      error(res);
      // onError may come without onClose: close it ourselves and wait (bounded) for the end.
      shut();
    });
    if (phase === 2) closeTask(); // retired before a promised task arrived
  };

  // The endpoint object is this attempt's own, so it becomes the connectSocket option.
  // A connectSocket that throws propagates: the client counts it as a failed attempt.
  const option: ConnectSocketOption = endpoint;
  option.fail = fail;
  // uni-app returns a task only when a callback is passed; `complete` as its docs list it.
  option.complete = noop;
  const r = platform.connectSocket(option);
  if (r) r.then ? r.then(attach, fail) : attach(r);

  return {
    send: (data, onFail) => task!.send({ data, fail: onFail }),
    close(c, r) {
      phase = 2;
      code = c;
      reason = r;
      shut();
    },
    whenGone(fn) {
      if (gone) fn();
      else waiter = fn;
    },
  };
}
