// The --workers primary's admin target with scripted workers: how reports add up, what a dead
// worker leaves behind (its counters, not its gauges), a call cut by a worker's exit. The e2e
// twin with real processes (SIGKILL, SIGSTOP, SIGTERM): test/server-workers-ops.e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../../src/server/ops/admin';
import { ClusterAdmin, type OpsWorker } from '../../../src/server/ops/cluster-admin';
import type { MetricJson } from '../../../src/server/ops/metrics';
import { Stats } from '../../../src/server/ops/stats';
import type { WorkerReport } from '../../../src/server/ops/wire';
import type { OpsMessage, OpsRequest } from '../../../src/server/ops/worker-ops';

/** A worker that answers each call with `answer(call)` on the next tick (or never, for undefined). */
function fakeWorker(admin: ClusterAdmin, pid: number, answer: (r: OpsRequest) => unknown): OpsWorker & { calls: OpsRequest[] } {
  const w = {
    process: { pid },
    calls: [] as OpsRequest[],
    send(m: OpsMessage) {
      const r = m as OpsRequest;
      w.calls.push(r);
      const value = answer(r);
      if (value === undefined) return true;
      setImmediate(() => admin.handle(w, { wssmp: 'ops-reply', id: r.id, ok: true, value }));
      return true;
    },
  };
  admin.handle(w, { wssmp: 'ops-up' }); // not added yet: ignored
  return w;
}

function report(connections: number, received: number): WorkerReport {
  const counter = (name: string, value: number): MetricJson => ({ name, help: name, type: 'counter', aggregator: 'sum', values: [{ value, labels: {} }] });
  const gauge = (name: string, value: number): MetricJson => ({ name, help: name, type: 'gauge', aggregator: 'sum', values: [{ value, labels: {} }] });
  const stats = { connections, users: 0, channels: 0, ...new Stats().snapshot(), messagesIn: received };
  return {
    prom: [gauge('wss_mp_connections', connections), gauge('wss_mp_ready', 1), counter('wss_mp_messages_received_total', received)],
    stats,
  };
}

const reportsOf = (r: WorkerReport) => (m: OpsRequest) =>
  m.op === 'report' ? r : m.op === 'presence' ? { users: [], connections: r.stats.connections, userConnections: {} } : undefined;

function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('counters add up over the workers and survive a worker\'s exit; gauges count only the workers there', async () => {
  const admin = new ClusterAdmin(2);
  const a = fakeWorker(admin, 101, reportsOf(report(2, 5)));
  const b = fakeWorker(admin, 102, reportsOf(report(3, 7)));
  admin.add(a, 1);
  admin.add(b, 2);
  admin.handle(a, { wssmp: 'ops-up' });
  admin.handle(b, { wssmp: 'ops-up' });

  let text = (await admin.metrics()).text;
  assert.equal(metric(text, 'wss_mp_connections'), 5);
  assert.equal(metric(text, 'wss_mp_messages_received_total'), 12);
  assert.equal(metric(text, 'wss_mp_worker_connections{worker="1"}'), 2);
  assert.equal(metric(text, 'wss_mp_ready'), 1);
  assert.equal((await admin.stats()).messagesIn, 12);

  // Worker 1 dies: its 5 messages stay counted, its 2 connections are gone.
  admin.remove(a);
  admin.replaced();
  text = (await admin.metrics()).text;
  assert.equal(metric(text, 'wss_mp_messages_received_total'), 12);
  assert.equal(metric(text, 'wss_mp_connections'), 3);
  assert.equal(metric(text, 'wss_mp_worker_up{worker="1"}'), 0);
  assert.equal(metric(text, 'wss_mp_ready'), 0, 'not ready with a worker missing');
  assert.equal(metric(text, 'wss_mp_worker_restarts_total'), 1);

  // Its replacement, worker 1 again, counts from zero on top.
  const c = fakeWorker(admin, 103, reportsOf(report(1, 1)));
  admin.add(c, 1);
  admin.handle(c, { wssmp: 'ops-up' });
  text = (await admin.metrics()).text;
  assert.equal(metric(text, 'wss_mp_messages_received_total'), 13);
  assert.equal(metric(text, 'wss_mp_connections'), 4);
  assert.equal(metric(text, 'wss_mp_worker_up{worker="1"}'), 1);
  assert.equal(metric(text, 'wss_mp_ready'), 1);
  const stats = await admin.stats();
  assert.equal(stats.messagesIn, 13);
  assert.deepEqual(stats.workers, { 1: { pid: 103, up: true, connections: 1 }, 2: { pid: 102, up: true, connections: 3 } });
});

test('a call cut short by the worker\'s exit fails at once with 503 UNAVAILABLE, not at its timeout', async () => {
  const admin = new ClusterAdmin(1);
  const w = fakeWorker(admin, 201, () => undefined); // never answers
  admin.add(w, 1);
  admin.handle(w, { wssmp: 'ops-up' });
  const call = admin.publish('news', 1);
  assert.equal(w.calls[0]!.op, 'publish');
  const t0 = Date.now();
  admin.remove(w);
  await assert.rejects(call, (e: unknown) => e instanceof ApiError && e.status === 503 && e.code === 'UNAVAILABLE');
  assert.ok(Date.now() - t0 < 1000);
  // No worker left: refused without waiting either.
  await assert.rejects(admin.publish('news', 1), (e: unknown) => e instanceof ApiError && e.status === 503);
});

test('a node-wide call: a worker\'s 4xx is the answer (every worker has the same options), ids from every worker', async () => {
  const admin = new ClusterAdmin(2);
  const a = fakeWorker(admin, 301, (r) => (r.op === 'disconnect' ? [1, 3] : undefined));
  const b = fakeWorker(admin, 302, (r) => (r.op === 'disconnect' ? [2] : undefined));
  for (const [w, n] of [[a, 1], [b, 2]] as const) {
    admin.add(w, n);
    admin.handle(w, { wssmp: 'ops-up' });
  }
  assert.deepEqual(await admin.disconnect({ user: 'alice' }, 4003, 'banned'), [1, 3, 2]);
  const refusing = fakeWorker(admin, 303, () => undefined);
  refusing.send = (m: OpsMessage) => {
    setImmediate(() => admin.handle(refusing, { wssmp: 'ops-reply', id: (m as OpsRequest).id, ok: false, error: { status: 409, code: 'NO_USERS', message: 'no users' } }));
    return true;
  };
  admin.remove(b);
  admin.add(refusing, 2);
  admin.handle(refusing, { wssmp: 'ops-up' });
  await assert.rejects(admin.disconnect({ user: 'alice' }, 1000, ''), (e: unknown) => e instanceof ApiError && e.status === 409 && e.code === 'NO_USERS');
});
