// The seven disruptions of the loss matrix and the runner that drives one of them: a server
// process, an app, 1,000 publications and 1,000 requests at a steady rate over `duration`, the
// disruption at `at`, then (once both streams are done) a wait for the app to catch up, and the
// checker's verdict over the journals and what the app saw.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { check, parseJournal, type AppEvent, type Verdict } from './checker';
import { journalDir, memoryStorage, readJournal, startApp, startFixture, startRelay, type App, type Relay, type ServerProc } from './harness';
import type { FixtureConfig } from './fixture';
import { CLIENT_MP } from '../comparison/subjects';
import { loadMiniprogramMessaging } from '../support/miniprogram-module';
import { DeadlineError } from '../support/wait';

export interface Scenario {
  id: string;
  /** The README's row label. */
  name: string;
  /** ms over which the 1,000 publications and 1,000 requests are spread. */
  duration: number;
  /** ms after the start when the disruption begins. */
  at: number;
  /** The server process is replaced: its in-memory history and deduplication are gone. */
  restarts: boolean;
  /** The server process dies without draining (SIGKILL): a handler that ran may not have been
   * answered, so the resend may run it again. A drain (SIGTERM) must never cause that. */
  crash?: boolean;
  fixture?: Partial<FixtureConfig>;
  /** Close codes of which the app must have seen one: proof that the disruption did bite (null: it closes no socket). */
  bites: number[] | null;
  disrupt(ctx: Ctx): Promise<void>;
}

// What a disruption is expected to cause on the way (the checker proves nothing was lost by it):
// failed attempts, dead links, a frame refused by a socket that was closing (resent after the
// reconnect), a request that outlived its promise's timeout (its answer comes as a reply), the
// core's frame queue overflowing while offline (the messaging layer keeps every request itself and
// reconnects to resend them all).
export const TRANSIENT = ['ERR_SOCKET', 'ERR_HEARTBEAT_TIMEOUT', 'ERR_CONNECT_TIMEOUT', 'ERR_SEND', 'ERR_TIMEOUT', 'ERR_QUEUE_FULL'];

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A value that is "not now": waiters get it once it is set again. */
export class Gate<T> {
  private value: T | undefined;
  private waiters: ((v: T) => void)[] = [];
  set(v: T) {
    this.value = v;
    for (const w of this.waiters.splice(0)) w(v);
  }
  clear() {
    this.value = undefined;
  }
  get(): Promise<T> {
    return this.value !== undefined ? Promise.resolve(this.value) : new Promise((r) => this.waiters.push(r));
  }
  get now(): T | undefined {
    return this.value;
  }
}

export interface Ctx {
  server: Gate<ServerProc>;
  app: Gate<App>;
  relay?: Relay;
  /** Padding of the publications made now, in bytes. */
  pad: number;
  restartServer(sig: NodeJS.Signals): Promise<void>;
  /** The app process ends (or freezes): requests wait for `resumeApp`. */
  freezeApp(): App;
  newApp(): void;
  resumeApp(app: App): void;
}

export const SCENARIOS: Scenario[] = [
  {
    id: 'kill', name: 'Server SIGKILL + restart', duration: 10_000, at: 3_000, restarts: true, crash: true, bites: [1006],
    disrupt: (ctx) => ctx.restartServer('SIGKILL'),
  },
  {
    id: 'term', name: 'Server SIGTERM (drain) + restart', duration: 10_000, at: 3_000, restarts: true, bites: [1001],
    disrupt: (ctx) => ctx.restartServer('SIGTERM'),
  },
  {
    id: 'stop', name: 'Server frozen (SIGSTOP) 30 s', duration: 38_000, at: 3_000, restarts: false, bites: [4500],
    async disrupt(ctx) {
      const s = await ctx.server.get();
      s.signal('SIGSTOP');
      await pause(30_000);
      s.signal('SIGCONT');
    },
  },
  {
    id: 'suspend', name: 'App suspended 60 s (closed 1000 "interrupted"), then shown', duration: 68_000, at: 3_000, restarts: false, bites: [1000],
    disrupt: (ctx) => suspendApp(ctx, 60_000),
  },
  {
    // The link is probed at once and declared dead (4500), or replaced when the network is back
    // (4504), or the messaging layer reconnects to resend what the core's full queue dropped (4502).
    id: 'network', name: 'Network off 10 s, then on', duration: 18_000, at: 3_000, restarts: false, bites: [4500, 4502, 4504],
    disrupt: (ctx) => networkOff(ctx, ctx.relay!, 10_000),
  },
  {
    id: 'cold', name: 'App cold restart (storage kept)', duration: 10_000, at: 3_000, restarts: false, bites: null,
    disrupt: (ctx) => coldRestart(ctx),
  },
  {
    id: 'slow', name: 'Slow consumer cut by the server (4008)', duration: 12_000, at: 3_000, restarts: false, bites: [4008],
    fixture: { maxBufferedAmount: 256 * 1024 },
    disrupt: async (ctx) => slowConsumer(ctx, await ctx.server.get()),
  },
];

export interface Result {
  /** `restarts`: the history could be lost (a single node restarted), so a `resync` may be due. */
  scenario: Pick<Scenario, 'id' | 'name' | 'restarts'>;
  verdict: Verdict;
  /** Wall time of the scenario, ms. */
  ms: number;
  /** Reconnections the app made (opens after the first, over every app instance): the disruption did bite. */
  reconnects: number;
  /** Close codes the app saw, counted ("4008×2 1006×1"). */
  closes: string;
  errors: string[];
}

export interface RunOptions {
  certDir: string;
  ca: string;
  jwtSecret: string;
  /** The app's token (a JWT signed with jwtSecret). */
  token: string;
  count?: number;
  /** ms to wait for the app to catch up after both streams are done. */
  settle?: number;
}

export async function runScenario(sc: Scenario, o: RunOptions): Promise<Result> {
  const t0 = Date.now();
  const n = o.count ?? 1000;
  const dir = journalDir();
  const cfg: FixtureConfig = { port: 0, dir, certDir: o.certDir, jwtSecret: o.jwtSecret, ...sc.fixture };
  const first = await startFixture(cfg);
  cfg.port = first.port;
  const procs: ServerProc[] = [first];
  const events: AppEvent[] = [];
  const answers: number[] = [];
  const storage = memoryStorage();
  const relay = sc.id === 'network' ? await startRelay(() => cfg.port) : undefined;
  const url = relay ? first.url.replace(`:${first.port}`, `:${relay.port}`) : first.url;
  const apps: App[] = [];
  const dist = path.dirname(CLIENT_MP);
  const newApp = () => {
    // A new app process: a fresh realm for the bundle, a fresh wx, the same storage.
    const create = loadMiniprogramMessaging(dist).messaging.exports.createMessagingClient;
    const app = startApp({ create, url, ca: o.ca, storage, events, answers, clientOptions: { token: o.token } });
    apps.push(app);
    ctx.app.set(app);
    return app;
  };
  const ctx: Ctx = {
    server: new Gate(),
    app: new Gate(),
    relay,
    pad: 0,
    async restartServer(sig) {
      const s = await ctx.server.get();
      ctx.server.clear();
      s.signal(sig);
      await s.exited;
      const next = await startFixture(cfg);
      procs.push(next);
      ctx.server.set(next);
    },
    freezeApp() {
      const app = ctx.app.now!;
      ctx.app.clear();
      return app;
    },
    newApp,
    resumeApp: (app) => ctx.app.set(app),
  };
  ctx.server.set(first);
  const errors: string[] = [];
  let reconnects = 0;
  const closes = new Map<number, number>();
  try {
    await firstPosition(newApp(), events);
    let last: { offset: number; epoch: string } | undefined;
    const due = pacing(sc.duration, n);
    const publications = (async () => {
      for (let i = 1; i <= n; i++) {
        await due(i);
        for (;;) {
          const s = await ctx.server.get();
          try {
            last = await s.publish(i, ctx.pad || undefined);
            break;
          } catch {
            await s.exited; // the scenario restarts it
          }
        }
      }
    })();
    await Promise.all([publications, requestStream(ctx.app, n, due, answers), disruptAt(sc, ctx)]);
    await untilCaughtUp(() => ctx.app.now!, answers, n, last, o.settle ?? 60_000, errors);
  } catch (e) {
    errors.push(String(e));
  } finally {
    reconnects = endRun(apps, procs, closes, errors);
    relay?.close();
  }
  await Promise.all(procs.map((p) => p.exited));
  const verdict = check(parseJournal(...readJournal(dir)), { events, answers, requests: n, restarts: sc.restarts, crash: sc.crash === true });
  rmSync(dir, { recursive: true, force: true });
  errors.push(...bitErrors(sc, closes, apps));
  return { scenario: sc, verdict, ms: Date.now() - t0, reconnects, closes: closeText(closes), errors };
}

export const subPosition = (app: App) => app.sub.position;

// The disruptions both matrices share (ctx: a single-node Ctx or a cluster's).

/** The app is hidden and suspended for `ms` (the platform closes its socket 1000 "interrupted"), then resumed and shown. */
export async function suspendApp(ctx: Pick<Ctx, 'freezeApp' | 'resumeApp'>, ms: number): Promise<void> {
  const app = ctx.freezeApp();
  app.wx.hide();
  app.wx.suspend();
  await pause(ms);
  app.wx.resume();
  app.wx.show();
  ctx.resumeApp(app);
}

/** The network is off for `ms`: `link` (the relay or balancer in front of the server) refuses and the wx shim reports it. */
export async function networkOff(ctx: Pick<Ctx, 'app'>, link: { off(): void; on(): void }, ms: number): Promise<void> {
  const app = await ctx.app.get();
  link.off();
  app.wx.network(false);
  await pause(ms);
  link.on();
  app.wx.network(true);
}

/** The app process ends; a new one starts 2 s later with the same storage. */
export async function coldRestart(ctx: Pick<Ctx, 'freezeApp' | 'newApp'>): Promise<void> {
  ctx.freezeApp().destroy();
  await pause(2_000); // the app is not running
  ctx.newApp();
}

/** The app stops reading while heavier publications flow, until `server` (the app's) gives up on it. */
export async function slowConsumer(ctx: Pick<Ctx, 'app' | 'pad'>, server: ServerProc): Promise<void> {
  const app = await ctx.app.get();
  const task = app.wx.tasks.filter((t) => t.state === 'open').at(-1) as unknown as { ws: { pause(): void; resume(): void } };
  task.ws.pause();
  ctx.pad = 16 * 1024;
  const end = Date.now() + 20_000;
  while (!server.logs.some((l) => /slow consumer/.test(String(l.by ?? l.reason ?? ''))) && Date.now() < end) await pause(20);
  ctx.pad = 0;
  task.ws.resume();
}

// The steps of a run both matrices share.

/** Streams start once the subscription has its first position ("from now"): waits for it and journals it as the start. */
export async function firstPosition(app: App, events: AppEvent[]): Promise<void> {
  const end = Date.now() + 30_000;
  while (!subPosition(app)) {
    if (Date.now() > end) throw new DeadlineError('the first subscription ack', 30_000);
    await pause(10);
  }
  events.push({ t: 'start', position: { ...subPosition(app)! } });
}

/** `due(i)` resolves when item i of n is due: n items spread evenly over `duration` ms from now. */
export function pacing(duration: number, n: number): (i: number) => Promise<unknown> {
  const start = Date.now();
  return (i) => pause(start + ((i - 1) * duration) / n - Date.now());
}

/** Requests 1..n from whichever app instance is running, as they fall due; the seqs answered go to `answers`. */
export async function requestStream(app: Gate<App>, n: number, due: (i: number) => Promise<unknown>, answers: number[]): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await due(i);
    const a = await app.get();
    a.mc.request({ seq: i }).then((r: { seq: number }) => answers.push(r.seq), () => {});
  }
}

/** The scenario's disruption, `sc.at` ms from now. */
export async function disruptAt<C>(sc: { at: number; disrupt(ctx: C): Promise<void> }, ctx: C): Promise<void> {
  await pause(sc.at);
  await sc.disrupt(ctx);
}

/** Ends a run: every app instance (endApps: returns the reconnects), then every server process (continued first: a scenario may have frozen it). */
export function endRun(apps: App[], procs: ServerProc[], closes: Map<number, number>, errors: string[]): number {
  const reconnects = endApps(apps, closes, errors);
  for (const p of procs) {
    p.signal('SIGCONT');
    p.signal('SIGKILL');
  }
  return reconnects;
}

/** Proof that the disruption did bite, as errors: a close code of `sc.bites` seen, and for `cold` a second app instance. */
export function bitErrors(sc: { id: string; bites: unknown }, closes: Map<number, number>, apps: App[]): string[] {
  const errors: string[] = [];
  if (Array.isArray(sc.bites) && !sc.bites.some((c) => closes.has(c))) {
    errors.push(`the disruption did not bite: no close ${sc.bites.join('/')} (closes: ${[...closes.keys()].join(' ') || 'none'})`);
  }
  if (sc.id === 'cold' && apps.length !== 2) errors.push(`${apps.length} app instances, expected 2`);
  return errors;
}

/** Close codes counted, for the table: "4008×2 1006×1". */
export const closeText = (closes: Map<number, number>) => [...closes].map(([c, k]) => `${c}×${k}`).join(' ');

/**
 * After both streams: waits until the app has an answer to every request, nothing pending, and
 * the last publication's position; true then, else false with the reason in `errors`.
 */
export async function untilCaughtUp(app: () => App, answers: number[], n: number, last: StreamPos | undefined, settle: number,
  errors: string[]): Promise<boolean> {
  const until = Date.now() + settle;
  for (;;) {
    const a = app();
    const p = subPosition(a);
    if (answers.length >= n && a.mc.pending === 0 && p && last && p.epoch === last.epoch && p.offset >= last.offset) return true;
    if (Date.now() > until) {
      errors.push(`not caught up after ${settle} ms: ${answers.length} answers, ${a.mc.pending} pending, at ${JSON.stringify(p)}, last published ${JSON.stringify(last)}`);
      return false;
    }
    await pause(20);
  }
}

/** Ends every app instance of a scenario: counts its close codes, keeps its non-transient errors; returns the reconnects. */
export function endApps(apps: App[], closes: Map<number, number>, errors: string[]): number {
  let reconnects = 0;
  for (const a of apps) {
    reconnects += a.mc.client.stats.reconnects;
    for (const c of a.closes) closes.set(c, (closes.get(c) ?? 0) + 1);
    errors.push(...a.errors.filter((e) => !TRANSIENT.includes(e.code)).map((e) => `${e.code}: ${e.message}`));
    a.destroy();
  }
  return reconnects;
}

type StreamPos = { offset: number; epoch: string };
