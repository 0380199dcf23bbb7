// A scriptable fake of WeChat's socket API (wx.connectSocket + SocketTask) and app/network
// events, on an injected FakeClock. It models what the client must survive (see
// docs/client-scenarios.md#test-harness): ≤ 5 live tasks (CLOSING included) with the "exceed max cocurrent count" failure,
// suspension (live tasks closed with 1000 "interrupted", connectSocket failing with
// runningState=suspend), send on a closed task failing "WebSocket is not connected",
// and a scripted server per task: accept, refuse, fail, black hole, late open, error-only,
// drop, push, zombie. Every behaviour here has an end-to-end twin over test/support/wx-shim.ts.
//
// Extend it by adding a Behavior or a FakeTask server-side control; keep events asynchronous
// (always through the clock), because WeChat never calls a listener synchronously.
import { PING_FRAME, PONG_FRAME } from '@wss-mp/protocol';
import type { FakeClock } from './fake-clock';

type Fn<T = any> = (res: T) => void;
export type Data = string | ArrayBuffer;

/** What the "server" does with the next connect. */
export type Behavior =
  | 'accept' // opens after `latency`
  | 'refuse' // onError, then onClose 1006
  | 'fail' // connectSocket's fail callback; no task events
  | 'blackhole' // never opens; close() while connecting completes after `latency`
  | 'late-open' // like blackhole, but close() is ignored until the test calls task.open()
  | 'error-only' // onError and nothing else, ever
  | 'throw'; // connectSocket itself throws (some platforms do on a malformed URL)

/** How the "server" answers frames: wss-mp-server (pong), a plain echo server, or silence. */
export type Reply = 'pong' | 'echo' | 'none';

export const ERR_LIMIT = 'createSocketTask:fail exceed max cocurrent count';
export const ERR_SUSPEND = 'connectSocket:fail runningState=suspend';
export const ERR_NOT_CONNECTED = 'sendSocketMessage:fail WebSocket is not connected';
export const ERR_TASK_GONE = 'closeSocket:fail taskID not exist';

let taskIds = 0;

export class FakeTask {
  readonly id = ++taskIds;
  state: 'connecting' | 'open' | 'closing' | 'closed' = 'connecting';
  /** Frames the client sent that reached the server. */
  readonly received: Data[] = [];
  /** The option object connectSocket got. */
  option: any;
  zombie = false;
  ignoreClose = false;
  closeArgs: { code?: number; reason?: string } | undefined;
  private l = { open: [] as Fn[], message: [] as Fn[], close: [] as Fn[], error: [] as Fn[] };

  constructor(private wx: FakeWx) {}

  onOpen(fn: Fn) { this.l.open.push(fn); }
  onMessage(fn: Fn) { this.l.message.push(fn); }
  onClose(fn: Fn) { this.l.close.push(fn); }
  onError(fn: Fn) { this.l.error.push(fn); }

  send(o: { data: Data; success?: Fn; fail?: Fn }) {
    if (this.state !== 'open') {
      this.wx.later(() => o.fail && o.fail({ errMsg: ERR_NOT_CONNECTED }));
      return;
    }
    if (this.zombie) return; // swallowed by a dead link: no error, no delivery
    const data = o.data;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (size > this.wx.maxPayload) {
      // What ws does past maxPayload: close 1009; later frames on this task go nowhere.
      this.serverClose(1009, 'Max payload size exceeded');
      return;
    }
    this.received.push(typeof data === 'string' ? data : data.slice(0));
    this.wx.sentLog.push(data);
    this.wx.later(() => o.success && o.success({ errMsg: 'sendSocketMessage:ok' }));
    const r = this.wx.reply;
    if (r === 'none') return;
    const answer = r === 'pong' && data === PING_FRAME ? PONG_FRAME : data;
    this.wx.later(() => this.push(answer));
  }

  close(o: { code?: number; reason?: string; fail?: Fn } = {}) {
    if (this.state === 'closed') {
      this.wx.later(() => o.fail && o.fail({ errMsg: ERR_TASK_GONE }));
      return;
    }
    this.closeArgs = { code: o.code, reason: o.reason };
    if (this.ignoreClose || this.zombie) return; // never confirmed
    if (this.state === 'closing') return;
    this.state = 'closing';
    this.wx.later(() => this.end(o.code ?? 1000, o.reason ?? ''));
  }

  // ---- server side / environment ----
  /** Completes the handshake (late open of a black-holed or late-open task). */
  open() {
    if (this.state === 'closed') return;
    this.ignoreClose = false;
    if (this.state === 'connecting') this.state = 'open';
    for (const f of this.l.open.slice()) f({ header: { 'x-task': String(this.id) }, profile: {} });
  }
  push(data: Data) {
    if (this.state !== 'open' || this.zombie) return;
    for (const f of this.l.message.slice()) f({ data });
  }
  /** Server closes with a close frame. */
  serverClose(code: number, reason = '') {
    if (this.state === 'closed') return;
    this.state = 'closing';
    this.wx.later(() => this.end(code, reason));
  }
  /** Connection lost without a close frame: onError, then onClose 1006. */
  drop() {
    if (this.state === 'closed') return;
    this.fireError({ errMsg: 'WebSocket connection lost' });
    this.end(1006, 'abnormal closure');
  }
  /** Half-open: nothing arrives any more, sends vanish, close is never confirmed. */
  makeZombie() {
    this.zombie = true;
  }
  fireError(res: unknown) {
    for (const f of this.l.error.slice()) f(res);
  }
  end(code: number, reason: string) {
    if (this.state === 'closed') return;
    this.state = 'closed';
    for (const f of this.l.close.slice()) f({ code, reason });
  }
  get live() {
    return this.state !== 'closed';
  }
}

export class FakeWx {
  /** Behaviour of the next connects, in order; `fallback` once the list is empty. */
  next: Behavior[] = [];
  fallback: Behavior = 'accept';
  reply: Reply = 'pong';
  /** Largest frame the "server" accepts (bytes); bigger ones close the task with 1009. */
  maxPayload = Infinity;
  latency = 10;
  limit = 5;
  suspended = false;
  readonly tasks: FakeTask[] = [];
  readonly options: any[] = [];
  /** Every frame any task delivered to the server, in order. */
  readonly sentLog: Data[] = [];
  connectCalls = 0;
  failedConnects: string[] = [];
  maxLive = 0;
  private app = { show: [] as Fn[], hide: [] as Fn[], net: [] as Fn[] };

  constructor(private clock: FakeClock) {}

  later(fn: () => void, ms = this.latency) {
    this.clock.setTimeout(fn, ms);
  }

  get live(): number {
    return this.tasks.filter((t) => t.live).length;
  }
  get current(): FakeTask | undefined {
    return this.tasks[this.tasks.length - 1];
  }

  connectSocket = (option: any) => {
    this.connectCalls++;
    this.options.push(option);
    const task = new FakeTask(this);
    task.option = option;
    const failWith = (errMsg: string) => {
      task.state = 'closed';
      this.failedConnects.push(errMsg);
      this.later(() => {
        option.fail && option.fail({ errMsg });
        option.complete && option.complete({ errMsg });
      });
      return task;
    };
    if (this.suspended) return failWith(ERR_SUSPEND);
    if (this.live >= this.limit) return failWith(ERR_LIMIT);
    const b = this.next.shift() ?? this.fallback;
    if (b === 'fail') return failWith('connectSocket:fail url not in domain list');
    if (b === 'throw') throw new Error('connectSocket:fail invalid url');
    this.tasks.push(task);
    this.maxLive = Math.max(this.maxLive, this.live);
    this.later(() => {
      option.success && option.success({ errMsg: 'connectSocket:ok' });
      option.complete && option.complete({ errMsg: 'connectSocket:ok' });
    }, 0);
    if (b === 'accept') this.later(() => task.state === 'connecting' && task.open());
    else if (b === 'refuse') {
      this.later(() => {
        if (task.state === 'closed') return;
        task.fireError({ errMsg: 'connectSocket:fail Connection refused' });
        task.end(1006, 'abnormal closure');
      });
    } else if (b === 'error-only') {
      task.ignoreClose = true;
      this.later(() => task.fireError({ errMsg: 'onError only' }));
    } else if (b === 'late-open') task.ignoreClose = true;
    return task;
  };

  // ---- app and network events ----
  onAppShow = (f: Fn) => void this.app.show.push(f);
  offAppShow = (f: Fn) => void remove(this.app.show, f);
  onAppHide = (f: Fn) => void this.app.hide.push(f);
  offAppHide = (f: Fn) => void remove(this.app.hide, f);
  onNetworkStatusChange = (f: Fn) => void this.app.net.push(f);
  offNetworkStatusChange = (f: Fn) => void remove(this.app.net, f);

  get appListeners(): number {
    return this.app.show.length + this.app.hide.length + this.app.net.length;
  }

  hide() {
    for (const f of this.app.hide.slice()) f({});
  }
  show() {
    for (const f of this.app.show.slice()) f({ path: 'pages/index/index', scene: 1001 });
  }
  network(isConnected: boolean) {
    for (const f of this.app.net.slice()) f({ isConnected, networkType: isConnected ? 'wifi' : 'none' });
  }
  /** The JS thread is suspended in the background: sockets die with 1000 "interrupted". */
  suspend() {
    this.suspended = true;
    for (const t of this.tasks) if (t.live) this.later(() => t.end(1000, 'interrupted'));
  }
  resume() {
    this.suspended = false;
  }
}

function remove(list: Fn[], f: Fn) {
  const i = list.indexOf(f);
  if (i >= 0) list.splice(i, 1);
}
