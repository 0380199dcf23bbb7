/**
 * The primary's half of IpcBroker: one MemoryBroker for every worker, deliveries only to the
 * workers that have subscribers on a stream, and presence (overall and per channel) summed over
 * the workers. A worker that exits is forgotten at once (its subscriptions, its users, its
 * channel members): the IPC channel is reliable, so no heartbeat is needed to notice.
 */
import { MemoryBroker, type MemoryBrokerOptions } from './broker';
import type { IpcMessage } from './ipc-broker';
import { PresenceTally } from './presence';

export interface RelayWorker {
  send(m: IpcMessage): unknown;
}

/** Connections, and connections per user, of one worker (overall or on one channel). */
class Counts {
  connections = 0;
  readonly users = new Map<string, number>();

  add(user: string | null, delta: number): void {
    this.connections += delta;
    if (user === null) return;
    const n = (this.users.get(user) ?? 0) + delta;
    if (n <= 0) this.users.delete(user);
    else this.users.set(user, n);
  }

  into(t: PresenceTally): void {
    t.connections += this.connections;
    for (const [u, n] of this.users) t.user(u, n);
  }
}

interface PerWorker {
  streams: Set<string>;
  overall: Counts;
  /** Channel → its subscribers on this worker. */
  channels: Map<string, Counts>;
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
    this.workers.set(w, { streams: new Set(), overall: new Counts(), channels: new Map() });
  }

  remove(w: RelayWorker): void {
    const s = this.workers.get(w);
    if (s === undefined) return;
    for (const stream of s.streams) this.unsub(w, s, stream);
    for (const [user, n] of s.overall.users) this.count(user, -n);
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
        const p = this.broker.publish(msg.stream, msg.data, msg.key === undefined ? undefined : { idempotencyKey: msg.key });
        safeSend(w, { wssmp: 'reply', id: msg.id, ok: true, value: { offset: p.offset, epoch: p.epoch, frame: p.frame.toString(), repeated: p.repeated } });
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
        s.overall.add(msg.user, msg.delta);
        if (msg.user !== null) this.count(msg.user, msg.delta);
        break;
      case 'member': {
        let c = s.channels.get(msg.stream);
        if (c === undefined) s.channels.set(msg.stream, (c = new Counts()));
        c.add(msg.user, msg.delta);
        if (c.connections <= 0) s.channels.delete(msg.stream);
        break;
      }
      case 'pres': {
        const t = new PresenceTally();
        for (const x of this.workers.values()) (msg.channel === undefined ? x.overall : x.channels.get(msg.channel))?.into(t);
        safeSend(w, { wssmp: 'reply', id: msg.id, ok: true, value: t.result() });
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
