/** A small typed emitter: one context object per event, `on` returns its own unsubscribe. */
export type Listener<T> = (event: T) => void;

export interface Emitter<M> {
  on<K extends keyof M>(type: K, listener: Listener<M[K]>): () => void;
  emit<K extends keyof M>(type: K, event: M[K]): void;
  clear(): void;
}

/**
 * A listener that throws must not break the caller's state machine: the error is handed to
 * `report` with the event type (the client reports it as an ERR_CALLBACK error event).
 * Listeners added or removed during an emit take effect from the next one.
 */
export function createEmitter<M>(report: (error: unknown, type: keyof M) => void): Emitter<M> {
  let map: { [K in keyof M]?: Listener<M[K]>[] } = {};
  return {
    on(type, listener) {
      const list = map[type] || (map[type] = []);
      list.push(listener);
      return () => {
        const i = list.indexOf(listener);
        if (i >= 0) list.splice(i, 1);
      };
    },
    emit(type, event) {
      (map[type] || []).slice().forEach((fn) => {
        try {
          fn(event);
        } catch (e) {
          report(e, type);
        }
      });
    },
    clear() {
      map = {};
    },
  };
}
