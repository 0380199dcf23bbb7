// The loss matrix's verdict, from what the server journaled and what the app saw. Pure: no I/O,
// so its own test (loss-checker.test.ts) can feed it every kind of failure.
//
// Publications. The server's streams number publications 1, 2, 3… without holes inside an
// epoch, so the set the app had to see is known even for a publication the server made and
// crashed before journaling: every offset up to the highest one known in each epoch. Walking the
// app's deliveries in order from its first position, each must be the last one + 1 in the same
// epoch. A `resync` announces a gap: the old epoch's publications after `previous` and the new
// epoch's up to `position` may be missing, and only a resync whose epochs differ (the server's
// history really is gone) may announce one. Anything else missing is a silent loss.
//
// Requests. Each seq is issued once by the app (one request() per seq, so one id per seq). The
// effect journal must hold every seq exactly once, the app must have seen exactly one answer per
// seq carrying that seq, and the handler may have run twice only across a server crash.

export interface Position {
  offset: number;
  epoch: string;
}

export type AppEvent =
  | { t: 'start'; position: Position }
  | { t: 'pub'; offset: number; epoch: string; seq: number }
  | { t: 'resync'; previous: Position; position: Position };

export interface Journal {
  /** pubs.log in order. */
  pubs: { epoch: string; offset: number; seq: number }[];
  /** Handler runs (calls.log) and applied effects (effects.log), as seqs. */
  calls: number[];
  effects: number[];
}

export interface Observed {
  events: AppEvent[];
  /** seq of every answer the app got (request() resolved or a `reply` event). */
  answers: number[];
  /** Requests the app issued (1..requests). */
  requests: number;
  /** Whether the scenario restarted the server (history and dedup memory lost). */
  restarts: boolean;
  /** Whether the server died without draining (SIGKILL): only then may a handler run twice. */
  crash?: boolean;
  /** The history outlived every process (two nodes + a Redis that kept its data): no `resync` is
   * acceptable, whatever was restarted, and any one is a failure. */
  historyKept?: boolean;
}

export interface Verdict {
  published: number;
  delivered: number;
  /** Publications missing inside a gap a resync announced. */
  announced: number;
  resyncs: number;
  silentLoss: number;
  duplicates: number;
  outOfOrder: number;
  /** Deliveries whose data is not what the server published at that position. */
  wrongData: number;
  /** Publisher seqs the app got at two or more offsets: a publication reported as refused (so
   * made again) had reached the stream after all. Each offset still arrived once. */
  republished: number;
  /** Resyncs that announced a gap the server could have filled (same epoch) or that do not follow the app's position. */
  badResyncs: number;
  requests: number;
  processedOnce: number;
  processedTwice: number;
  neverProcessed: number;
  answeredOnce: number;
  /** Handler runs beyond the first per seq (absorbed by the idempotent effect). */
  reruns: number;
  problems: string[];
  pass: boolean;
}

const key = (epoch: string, offset: number) => `${epoch}#${offset}`;

export function check(journal: Journal, seen: Observed): Verdict {
  const problems: string[] = [];
  const note = (p: string) => problems.length < 10 && problems.push(p);

  // Every publication the server made: offsets 1..top in each epoch.
  const top = new Map<string, number>();
  const dataAt = new Map<string, number>();
  for (const p of journal.pubs) {
    top.set(p.epoch, Math.max(top.get(p.epoch) ?? 0, p.offset));
    dataAt.set(key(p.epoch, p.offset), p.seq);
  }
  for (const e of seen.events) if (e.t === 'pub') top.set(e.epoch, Math.max(top.get(e.epoch) ?? 0, e.offset));

  const delivered = new Set<string>();
  const announcedGaps: { epoch: string; from: number; to: number }[] = [];
  let pos: Position | undefined;
  let start: Position | undefined;
  let duplicates = 0;
  let outOfOrder = 0;
  let wrongData = 0;
  const offsetsOfSeq = new Map<number, number>();
  let resyncs = 0;
  let badResyncs = 0;
  for (const e of seen.events) {
    if (e.t === 'start') {
      pos = start = e.position;
    } else if (e.t === 'resync') {
      resyncs++;
      if (!pos || e.previous.epoch !== pos.epoch || e.previous.offset !== pos.offset) {
        badResyncs++;
        note(`resync from ${JSON.stringify(e.previous)} but the app was at ${JSON.stringify(pos)}`);
      }
      if (e.previous.epoch === e.position.epoch) {
        badResyncs++;
        note(`resync within epoch ${e.position.epoch}: the server still had the history`);
      }
      // The old epoch after `previous` and the new one up to `position` are announced as lost.
      announcedGaps.push({ epoch: e.previous.epoch, from: e.previous.offset + 1, to: Infinity });
      announcedGaps.push({ epoch: e.position.epoch, from: 1, to: e.position.offset });
      pos = e.position;
    } else {
      const k = key(e.epoch, e.offset);
      if (delivered.has(k)) {
        duplicates++;
        note(`duplicate ${k}`);
        continue;
      }
      delivered.add(k);
      offsetsOfSeq.set(e.seq, (offsetsOfSeq.get(e.seq) ?? 0) + 1);
      if (!pos || e.epoch !== pos.epoch || e.offset !== pos.offset + 1) {
        outOfOrder++;
        note(`${k} delivered after ${pos ? key(pos.epoch, pos.offset) : 'nothing'}`);
      }
      const expected = dataAt.get(k);
      if (expected !== undefined && expected !== e.seq) {
        wrongData++;
        note(`${k} carried seq ${e.seq}, the server published seq ${expected} there`);
      }
      pos = { epoch: e.epoch, offset: e.offset };
    }
  }

  let published = 0;
  let announced = 0;
  let silentLoss = 0;
  for (const [epoch, max] of top) {
    // Publications before the app's first position were made before it subscribed ("from now").
    const from = start && start.epoch === epoch ? start.offset + 1 : 1;
    for (let o = from; o <= max; o++) {
      published++;
      if (delivered.has(key(epoch, o))) continue;
      if (announcedGaps.some((g) => g.epoch === epoch && o >= g.from && o <= g.to)) announced++;
      else {
        silentLoss++;
        note(`${key(epoch, o)} never delivered and no resync announced it`);
      }
    }
  }

  // Requests.
  const count = (xs: number[]) => {
    const m = new Map<number, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const effects = count(journal.effects);
  const calls = count(journal.calls);
  const answers = count(seen.answers);
  let processedOnce = 0;
  let processedTwice = 0;
  let neverProcessed = 0;
  let answeredOnce = 0;
  let reruns = 0;
  for (let s = 1; s <= seen.requests; s++) {
    const n = effects.get(s) ?? 0;
    if (n === 1) processedOnce++;
    else if (n === 0) {
      neverProcessed++;
      note(`request ${s} never processed`);
    } else {
      processedTwice++;
      note(`request ${s} processed ${n} times`);
    }
    const a = answers.get(s) ?? 0;
    if (a === 1) answeredOnce++;
    else note(`request ${s} answered ${a} times`);
    reruns += Math.max(0, (calls.get(s) ?? 0) - 1);
  }
  if (reruns > 0 && !seen.crash) note(`the handler ran ${reruns} times more than once on a server that never crashed`);

  let republished = 0;
  for (const [seq, times] of offsetsOfSeq) {
    if (times < 2) continue;
    republished++;
    note(`seq ${seq} published at ${times} offsets (a refused publication that was made after all)`);
  }
  // With the history kept (Redis), the publisher's retries carry an idempotency key: a
  // publication whose outcome was lost is never made twice.
  const mayResync = seen.restarts && seen.historyKept !== true;
  const pass =
    silentLoss === 0 && duplicates === 0 && outOfOrder === 0 && wrongData === 0 && badResyncs === 0 &&
    (mayResync || resyncs === 0) && (seen.historyKept !== true || republished === 0) && published > 0 &&
    processedOnce === seen.requests && answeredOnce === seen.requests && (seen.crash === true || reruns === 0);
  if (!mayResync && resyncs > 0) note(`${resyncs} resyncs on a server that kept its history`);
  return {
    published, delivered: delivered.size, announced, resyncs, silentLoss, duplicates, outOfOrder, wrongData, republished, badResyncs,
    requests: seen.requests, processedOnce, processedTwice, neverProcessed, answeredOnce, reruns, problems, pass,
  };
}

/** Parses the fixture's journal files (text). */
export function parseJournal(pubs: string, calls: string, effects: string): Journal {
  const lines = (s: string) => s.split('\n').filter(Boolean);
  return {
    pubs: lines(pubs).map((l) => {
      const [epoch, offset, seq] = l.split(' ');
      return { epoch: epoch!, offset: Number(offset), seq: Number(seq) };
    }),
    calls: lines(calls).map(Number),
    effects: lines(effects).map(Number),
  };
}
