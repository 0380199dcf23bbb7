// Synchronisation for tests: wait for events or conditions, always with a deadline. Never sleep.
import type { EventEmitter } from 'node:events';

export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`);
    this.name = 'DeadlineError';
  }
}

/** Polls `cond` (on a short interval) until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  { timeout = 10_000, interval = 10, what = 'condition' }: { timeout?: number; interval?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new DeadlineError(what, timeout);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Resolves with the event's arguments the next time `emitter` emits `event`; rejects on deadline. */
export function onceWithin<A extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  timeout = 10_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new DeadlineError(`event "${event}"`, timeout));
    }, timeout);
    const on = (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as A);
    };
    emitter.once(event, on);
  });
}

/** Races a promise against a deadline. */
export function within<T>(p: Promise<T>, timeout: number, what = 'promise'): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineError(what, timeout)), timeout);
    }),
  ]);
}

/**
 * Waits for `cond` with a deadline and says whether it came true (`waitFor` without the throw):
 * for scenarios that report an outcome instead of failing. A throwing probe counts as "not yet".
 */
export async function until(cond: () => unknown, ms: number, every = 10): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (cond()) return true;
    } catch {
      // not yet
    }
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * An observation window, for behaviour that is about time passing (a backoff wait, a suspended
 * app, a keepalive): true if `invariant` held for all of `ms`, false as soon as it breaks. Not a
 * way to wait for something to happen: use waitFor/until for that.
 */
export async function holdsFor(invariant: () => unknown, ms: number, every = 10): Promise<boolean> {
  const broke = await until(() => !invariant(), ms, every);
  return !broke;
}
