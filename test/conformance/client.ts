// A raw protocol client for the conformance suite: a `ws` socket offering wss-mp.v1 that
// records every frame and lets a check wait for the next one matching a predicate, with a
// deadline. Nothing in it knows about wss-mp-server: it is what any backend is judged by.
import { WebSocket, type ClientOptions } from 'ws';

export type Frame = Record<string, any>;

export class ProtoClient {
  readonly frames: Frame[] = [];
  /** Index of the first frame not yet consumed by next(). */
  private read = 0;
  private wake: (() => void) | undefined;
  closed: { code: number; reason: string } | undefined;
  private seq = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      let f: Frame;
      try {
        f = JSON.parse(text);
      } catch {
        f = { t: '(not JSON)', text };
      }
      this.frames.push(f);
      this.wake?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake?.();
    });
  }

  static open(url: string, opts: ClientOptions & { protocols?: string[] } = {}): Promise<ProtoClient> {
    const { protocols = ['wss-mp.v1'], ...rest } = opts;
    const ws = new WebSocket(url, protocols, rest);
    const c = new ProtoClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    });
  }

  id(prefix = 'c'): string {
    return `${prefix}-${process.pid}-${++this.seq}-${Math.random().toString(36).slice(2, 8)}`;
  }

  send(frame: Frame | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next unconsumed frame matching `pred` (frames before it that do not match are skipped). */
  async next(pred: (f: Frame) => boolean = () => true, timeout = 10_000, what = 'a frame'): Promise<Frame> {
    const end = Date.now() + timeout;
    for (;;) {
      while (this.read < this.frames.length) {
        const f = this.frames[this.read++]!;
        if (pred(f)) return f;
      }
      if (this.closed) throw new Error(`closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeout} ms waiting for ${what}; got ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Sends a `req` and resolves with its `ack`. */
  async request(data: unknown, id = this.id('r')): Promise<Frame> {
    this.send({ t: 'req', id, data });
    return this.next((f) => f.t === 'ack' && f.id === id, 10_000, `ack ${id}`);
  }

  /** Sends a `sub` and resolves with its ack's data; a refused subscription fails the test. */
  async subscribed(ch: string, pos?: { offset: number; epoch: string }): Promise<Frame> {
    const id = this.id('s');
    this.send({ t: 'sub', id, ch, pos });
    const ack = await this.next((f) => f.t === 'ack' && f.id === id, 15_000, `sub ack on ${ch}`);
    if (ack.error !== undefined) throw new Error(`subscription to ${ch} refused: ${JSON.stringify(ack.error)}`);
    return ack.data;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
      setTimeout(() => this.ws.terminate(), 2_000).unref();
    });
  }
}
