import type { Data } from './platform/types';

/**
 * Bounded FIFO for messages sent while the socket is not open. When full, `drop-oldest` evicts
 * the head to make room (the newest state usually matters most), `reject` refuses the new message.
 * Delivery stays at-most-once: a queued message is written once, on the next open socket.
 */
export type Overflow = 'drop-oldest' | 'reject';

export interface Queue {
  readonly items: Data[];
  /** 'queued', or 'dropped' when the new message was refused; `onDrop` runs for every lost message. */
  push(data: Data): 'queued' | 'dropped';
}

export function createQueue(max: number, overflow: Overflow, onDrop: () => void): Queue {
  const items: Data[] = [];
  return {
    items,
    push(data) {
      if (items.length >= max) {
        if (overflow === 'reject' || max === 0) {
          onDrop();
          return 'dropped';
        }
        items.shift();
        onDrop();
      }
      items.push(data);
      return 'queued';
    },
  };
}
