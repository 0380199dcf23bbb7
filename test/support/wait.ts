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
