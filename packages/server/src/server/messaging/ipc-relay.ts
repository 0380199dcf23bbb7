/**
 * The primary's half of IpcBroker: one MemoryBroker for every worker, deliveries only to the
 * workers that have subscribers on a stream, and presence summed over the workers. A worker that
 * exits is forgotten (its subscriptions and its users).
 */
import { MemoryBroker, type MemoryBrokerOptions } from './broker';
import type { IpcMessage } from './ipc-broker';

export interface RelayWorker {
  send(m: IpcMessage): unknown;
}

interface PerWorker {
  streams: Set<string>;
  users: Map<string, number>;
  connections: number;
}

export class IpcRelay {
  private readonly broker: MemoryBroker;
  private readonly workers = new Map<RelayWorker, PerWorker>();
  private readonly subscribers = new Map<string, Set<RelayWorker>>();
  /** Connections per user over every worker: the node's distinct users without a scan. */
  private readonly nodeUsers = new Map<string, number>();

  constructor(o: MemoryBrokerOptions) {
    this.broker = new MemoryBroker(o);
    this.broker.onPublication((stream, pub) => {
      const set = this.subscribers.get(stream);
      if (set === undefined) return;
      const m: IpcMessage = { wssmp: 'deliver', stream, offset: pub.offset, epoch: pub.epoch, frame: pub.frame.toString() };
      for (const w of set) safeSend(w, m);
    });
  }

  add(w: RelayWorker): void {
    this.workers.set(w, { streams: new Set(), users: new Map(), connections: 0 });
  }

  remove(w: RelayWorker): void {
    const s = this.workers.get(w);
    if (s === undefined) return;
    for (const stream of s.streams) this.unsub(w, s, stream);
    for (const [user, n] of s.users) this.count(user, -n);
    this.workers.delete(w);
  }

  /** Distinct users connected to any worker (wss_mp_users of the node). */
  get userCount(): number {
    return this.nodeUsers.size;
  }

  /** Streams with a subscriber on any worker (wss_mp_channels of the node). */
  get streamCount(): number {
    return this.subscribers.size;
  }

  private count(user: string, delta: number): void {
    const n = (this.nodeUsers.get(user) ?? 0) + delta;
    if (n <= 0) this.nodeUsers.delete(user);
    else this.nodeUsers.set(user, n);
  }

  /** A message from worker `w`; false when it is not one of ours. */
  handle(w: RelayWorker, m: unknown): boolean {
    const s = this.workers.get(w);
    if (s === undefined || m === null || typeof m !== 'object' || !('wssmp' in m)) return false;
    const msg = m as IpcMessage;
    switch (msg.wssmp) {
      case 'pub': {
        // MemoryBroker delivers (to the subscribed workers, this one included) before returning.
        const p = this.broker.publish(msg.stream, msg.data);
        safeSend(w, { wssmp: 'reply', id: msg.id, ok: true, value: { offset: p.offset, epoch: p.epoch, frame: p.frame.toString() } });
        break;
      }
      case 'hist': {
        const h = this.broker.history(msg.stream, msg.since);
        safeSend(w, { wssmp: 'reply', id: msg.id, ok: true, value: { top: h.top, recovered: h.recovered, frames: h.publications.map((p) => p.frame.toString()) } });
        break;
      }
      case 'sub': {
        if (s.streams.has(msg.stream)) break;
        s.streams.add(msg.stream);
        let set = this.subscribers.get(msg.stream);
        if (set === undefined) this.subscribers.set(msg.stream, (set = new Set()));
        set.add(w);
        break;
      }
      case 'unsub':
        this.unsub(w, s, msg.stream);
        break;
      case 'conn':
        s.connections += msg.delta;
        if (msg.user !== null) {
          const n = (s.users.get(msg.user) ?? 0) + msg.delta;
          if (n <= 0) s.users.delete(msg.user);
          else s.users.set(msg.user, n);
          this.count(msg.user, msg.delta);
        }
        break;
      case 'pres': {
        let connections = 0;
        for (const x of this.workers.values()) connections += x.connections;
        safeSend(w, { wssmp: 'reply', id: msg.id, ok: true, value: { users: [...this.nodeUsers.keys()], connections } });
        break;
      }
      default:
        return false;
    }
    return true;
  }

  private unsub(w: RelayWorker, s: PerWorker, stream: string): void {
    s.streams.delete(stream);
    const set = this.subscribers.get(stream);
    if (set === undefined) return;
    set.delete(w);
    if (set.size === 0) this.subscribers.delete(stream);
  }
}

/** A worker that is exiting cannot take messages; it is removed on its 'exit'. */
function safeSend(w: RelayWorker, m: IpcMessage): void {
  try {
    w.send(m);
  } catch {
    /* channel closed */
  }
}
