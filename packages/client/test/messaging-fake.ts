// A scripted wss-mp.v1 server on the FakeWx (a test double for unit tests, not the real server):
// it selects the subprotocol in the 101 headers, sends `welcome`, acknowledges requests once per
// id (idempotency), keeps an in-memory history per channel (offset + epoch) and replays it on
// `sub` with a position, exactly as docs/protocol.md describes. Knobs let a test hold acks,
// refuse the handshake with a status, not select the subprotocol, or inject frames. Its end-to-end
// twin is test/support/messaging-server.ts on real sockets.
import { PING_FRAME, PONG_FRAME } from '@wss-mp/protocol';
import type { FakeClock } from './fake-clock';
import type { FakeTask, FakeWx } from './fake-wx';

interface Stream {
  epoch: string;
  items: { offset: number; data: unknown }[];
}

export class FakeProtocolServer {
  readonly streams = new Map<string, Stream>();
  /** Request ids in the order the handler ran (a duplicate never runs twice). */
  readonly handled: string[] = [];
  /** Every frame received, parsed, with the task id. */
  readonly frames: { task: number; f: any }[] = [];
  readonly answers = new Map<string, unknown>();
  /** false: requests are processed but not acknowledged (the ack is "lost"). */
  ack = true;
  selectProtocol = true;
  welcome = true;
  /** The next handshakes fail with this HTTP status (as the ws shim reports it), one per entry. */
  refuse: number[] = [];
  handler: (data: unknown) => unknown = (d) => d;
  /** Rate limit: every req/sub/unsub frame goes through it first (see FakeLimit). */
  limit: { check(f: any): number | undefined } | undefined;
  private subs = new Map<FakeTask, Set<string>>();
  private cid = 0;

  constructor(
    private wx: FakeWx,
    clock: FakeClock,
  ) {
    wx.reply = 'none';
    const connect = wx.connectSocket;
    wx.connectSocket = (o: any) => {
      const status = this.refuse.shift();
      if (status) wx.next.unshift('blackhole');
      const t: FakeTask = connect(o);
      if (!t.live) return t;
      if (status) {
        clock.setTimeout(() => {
          t.fireError({ errMsg: `connectSocket:fail Unexpected server response: ${status}` });
          t.end(1006, '');
        }, 5);
        return t;
      }
      const onOpen = t.onOpen.bind(t);
      t.onOpen = (fn) =>
        onOpen((res: any) => fn({ ...res, header: { ...res.header, ...(this.selectProtocol ? { 'Sec-Websocket-Protocol': 'wss-mp.v1' } : {}) } }));
      onOpen(() => {
        this.subs.set(t, new Set());
        if (this.welcome) clock.setTimeout(() => t.push(JSON.stringify({ t: 'welcome', v: 1, cid: String(++this.cid), user: null, ping: 25000 })), 1);
      });
      const send = t.send.bind(t);
      t.send = (x: any) => {
        send(x);
        if (t.state === 'open' && !t.zombie) clock.setTimeout(() => this.frame(t, x.data), 1);
      };
      return t;
    };
  }

  stream(ch: string): Stream {
    let s = this.streams.get(ch);
    if (!s) this.streams.set(ch, (s = { epoch: 'e1', items: [] }));
    return s;
  }

  /** Appends to the channel's history and sends it to every live subscriber. */
  publish(ch: string, data: unknown): number {
    const s = this.stream(ch);
    const offset = (s.items.at(-1)?.offset ?? 0) + 1;
    s.items.push({ offset, data });
    for (const [t, chs] of this.subs) if (t.state === 'open' && chs.has(ch)) this.push(t, { t: 'pub', ch, offset, epoch: s.epoch, data });
    return offset;
  }

  /** History lost (a restart without persistence): new epoch, offsets start again. */
  loseHistory(ch: string, epoch = 'e2') {
    this.streams.set(ch, { epoch, items: [] });
  }

  push(t: FakeTask, f: object) {
    t.push(JSON.stringify(f));
  }

  get current(): FakeTask {
    return this.wx.current!;
  }

  private frame(t: FakeTask, data: unknown) {
    if (data === PING_FRAME) return t.push(PONG_FRAME);
    const f = JSON.parse(data as string);
    this.frames.push({ task: t.id, f });
    const wait = this.limit?.check(f);
    if (wait !== undefined) {
      // Not processed: answered with its id (and retryAfter, unless NaN: none given).
      return this.push(t, { t: 'error', id: f.id, code: 'RATE_LIMITED', message: 'over the rate limit', ...(Number.isNaN(wait) ? {} : { retryAfter: wait }) });
    }
    const chs = this.subs.get(t)!;
    if (f.t === 'req') {
      if (!this.answers.has(f.id)) {
        this.handled.push(f.id);
        this.answers.set(f.id, this.handler(f.data));
      }
      if (this.ack) this.push(t, { t: 'ack', id: f.id, data: this.answers.get(f.id) });
    } else if (f.t === 'sub') {
      const s = this.stream(f.ch);
      const top = s.items.at(-1)?.offset ?? 0;
      let recovered = true;
      if (f.pos) {
        const first = s.items[0]?.offset ?? top + 1;
        if (f.pos.epoch !== s.epoch || f.pos.offset > top || f.pos.offset + 1 < first) recovered = false;
        else for (const i of s.items) if (i.offset > f.pos.offset) this.push(t, { t: 'pub', ch: f.ch, offset: i.offset, epoch: s.epoch, data: i.data });
      }
      chs.add(f.ch);
      this.push(t, { t: 'ack', id: f.id, data: { ch: f.ch, offset: top, epoch: s.epoch, recovered } });
    } else if (f.t === 'unsub') {
      chs.delete(f.ch);
      this.push(t, { t: 'ack', id: f.id });
    }
  }

  /** Frames of one type the server received, in order. */
  sent(type: string) {
    return this.frames.filter((x) => x.f.t === type).map((x) => x.f);
  }
}

/**
 * The server's slot rule (packages/server/src/server/ops/rate-limit.ts, messages only) on the
 * fake clock: a refusal gets the time its resend fits behind the refusals before it. `early`
 * counts what the real server holds against a connection: refusals while slots are still ahead,
 * more than the grace (2 s) after the run began.
 */
export class FakeLimit {
  tokens: number;
  last: number;
  until = 0;
  since = 0;
  refused = 0;
  early = 0;
  constructor(
    private clock: FakeClock,
    private rate: number,
    private burst: number,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }
  check(): number | undefined {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens--;
      return undefined;
    }
    this.refused++;
    const gap = 1000 / this.rate;
    let at = now + (1 - this.tokens) * gap;
    if (now < this.until) {
      at = Math.max(at, this.until + gap);
      if (now - this.since > 2000) this.early++;
    } else this.since = now;
    this.until = at;
    return Math.ceil(at - now) + 1;
  }
}

/** A Map-backed storage that counts writes and can be made to throw. */
export class MemoryStorage {
  readonly map = new Map<string, string>();
  writes = 0;
  fail = false;
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    if (this.fail) throw new Error('setStorageSync:fail exceed storage max size 10MB');
    this.writes++;
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
  json(k: string) {
    const v = this.map.get(k);
    return v ? JSON.parse(v) : undefined;
  }
}
