/**
 * Streams shared by the workers of one machine (`--workers N` without Redis): the primary
 * process holds the only MemoryBroker (IpcRelay) and each worker reaches it over the cluster's
 * IPC channel. The channel is ordered and reliable, so a worker never sees a gap: a delivery
 * that the primary sends before answering a publication or a history read arrives before the
 * answer, which is exactly what the engine needs (live publications held back during a read).
 * History lives as long as the primary: a dead worker loses nothing; a restarted server does.
 */
import type { StreamPosition } from '@wss-mp/protocol';
import { textBuffer, unavailable, type Broker, type HistoryResult, type Publication, type PublishOptions } from './broker';
import type { Presence } from './presence';

/** Worker → primary and primary → worker messages; `wssmp` tells them from cluster internals. */
export type IpcMessage =
  | { wssmp: 'pub'; id: number; stream: string; data: unknown; key?: string }
  | { wssmp: 'hist'; id: number; stream: string; since: StreamPosition | undefined }
  | { wssmp: 'sub' | 'unsub'; stream: string }
  | { wssmp: 'conn'; user: string | null; delta: 1 | -1 }
  | { wssmp: 'member'; stream: string; user: string | null; delta: 1 | -1 }
  | { wssmp: 'pres'; id: number; channel?: string }
  | { wssmp: 'deliver'; stream: string; offset: number; epoch: string; frame: string }
  | { wssmp: 'reply'; id: number; ok: true; value: unknown }
  | { wssmp: 'reply'; id: number; ok: false; error: string };

export interface IpcPort {
  send(m: IpcMessage): boolean;
  on(event: 'message', listener: (m: unknown) => void): unknown;
}

interface Waiting {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class IpcBroker implements Broker {
  private listener: (stream: string, pub: Publication) => void = () => {};
  private readonly waiting = new Map<number, Waiting>();
  private seq = 0;

  constructor(private readonly port: IpcPort = process as unknown as IpcPort) {
    port.on('message', (m) => this.onMessage(m as IpcMessage));
  }

  onPublication(listener: (stream: string, pub: Publication) => void): void {
    this.listener = listener;
  }

  private ask(m: IpcMessage & { id: number }, what: string): Promise<any> {
    return new Promise((resolve, reject) => {
      this.waiting.set(m.id, { resolve, reject });
      try {
        this.port.send(m);
      } catch (err) {
        this.waiting.delete(m.id);
        reject(unavailable(what, err));
      }
    });
  }

  async publish(stream: string, data: unknown, opts?: PublishOptions): Promise<Publication> {
    const v = (await this.ask({ wssmp: 'pub', id: ++this.seq, stream, data, key: opts?.idempotencyKey }, 'publish')) as {
      offset: number;
      epoch: string;
      frame: string;
      repeated?: boolean;
    };
    return { offset: v.offset, epoch: v.epoch, frame: textBuffer(v.frame), repeated: v.repeated };
  }

  async history(stream: string, since: StreamPosition | undefined): Promise<HistoryResult> {
    const v = (await this.ask({ wssmp: 'hist', id: ++this.seq, stream, since }, 'history')) as {
      top: StreamPosition;
      recovered: boolean;
      frames: string[];
    };
    const first = (since?.offset ?? 0) + 1;
    return { top: v.top, recovered: v.recovered, publications: v.frames.map((f, i) => ({ offset: first + i, epoch: v.top.epoch, frame: textBuffer(f) })) };
  }

  subscribe(stream: string): void {
    this.port.send({ wssmp: 'sub', stream });
  }

  unsubscribe(stream: string): void {
    this.port.send({ wssmp: 'unsub', stream });
  }

  connection(user: string | null, delta: 1 | -1): void {
    this.port.send({ wssmp: 'conn', user, delta });
  }

  member(stream: string, user: string | null, delta: 1 | -1): void {
    this.port.send({ wssmp: 'member', stream, user, delta });
  }

  presence(channel?: string): Promise<Presence> {
    return this.ask({ wssmp: 'pres', id: ++this.seq, channel }, 'presence');
  }

  private onMessage(m: IpcMessage): void {
    if (m === null || typeof m !== 'object') return;
    if (m.wssmp === 'deliver') return this.listener(m.stream, { offset: m.offset, epoch: m.epoch, frame: textBuffer(m.frame) });
    if (m.wssmp !== 'reply') return;
    const w = this.waiting.get(m.id);
    if (w === undefined) return;
    this.waiting.delete(m.id);
    if (m.ok) w.resolve(m.value);
    else w.reject(unavailable(m.error));
  }
}
