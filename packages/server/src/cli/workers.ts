/**
 * `--workers N`: the primary process of a node:cluster. It forks N workers running the same
 * command line (each a full server on the one shared port; the primary hands out connections
 * round-robin), forwards SIGHUP/SIGUSR2 (certificate reload) to every worker, turns
 * SIGTERM/SIGINT into a drain of every worker, replaces a worker that dies, hosts the
 * streams the workers share when there is no Redis (IpcRelay), and with --admin the node's one
 * admin listener (ClusterAdmin: metrics, probes and API over every worker).
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { OptionError } from '../common/errors';
import type { Logger } from '../common/log';
import { IpcRelay } from '../server/messaging/ipc-relay';
import type { MemoryBrokerOptions } from '../server/messaging/broker';
import type { ClusterAdmin } from '../server/ops/cluster-admin';

/**
 * The environment variable that tells a forked process it is a worker, and which: 1…N, a
 * replacement taking the number of the worker it replaces (so `worker` labels stay N values).
 */
export const WORKER_ENV = 'WSS_MP_WORKER';

/** This worker's number (1…N), from WORKER_ENV. */
export function workerNumber(): number {
  return Number(process.env[WORKER_ENV]);
}

/** `N` or `auto` (one per core). Throws OptionError. */
export function parseWorkers(v: string): number {
  if (v === 'auto') return availableParallelism();
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new OptionError('--workers', 'a number of processes 1–1024, or auto (one per core)', v);
  return n;
}

export function isWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] !== undefined;
}

/** A worker that comes up and dies within this (ms) is replaced only after it: no fork storm. */
const CRASH_LOOP_MS = 1000;

export interface PrimaryOptions {
  workers: number;
  /** When set, the primary keeps the shared streams (no Redis). */
  relay: MemoryBrokerOptions | undefined;
  log: Logger;
  /** With --admin: the node's admin target, told of every worker and of the drain. */
  admin?: ClusterAdmin;
}

/** Runs the primary until every worker has drained after SIGTERM/SIGINT; resolves with the exit code. */
export function runPrimary(o: PrimaryOptions): Promise<number> {
  const { log } = o;
  const relay = o.relay ? new IpcRelay(o.relay) : undefined;
  const admin = o.admin;
  if (admin && relay) admin.exact = relay;
  const born = new Map<Worker, number>();
  const numbers = new Map<Worker, number>();
  let stopping = false;
  const fork = (n: number) => {
    const w = cluster.fork({ [WORKER_ENV]: String(n) });
    born.set(w, Date.now());
    numbers.set(w, n);
    // A send to a worker that is exiting fails with EPIPE, emitted on the child process and
    // re-emitted on the Worker: unheard there, it would crash the primary. The worker leaves on 'exit'.
    w.process.on('error', () => {});
    w.on('error', () => {});
    relay?.add(w);
    admin?.add(w, n);
    w.on('message', (m) => {
      if (!relay?.handle(w, m)) admin?.handle(w, m);
    });
    w.on('online', () => log.info('worker', { worker: n, pid: w.process.pid, msg: 'started' }));
    w.on('listening', () => (listened = true));
  };
  // A worker that fails before any worker ever listened (a missing certificate, a port in use)
  // would fail again: replacing it forever would hide the error behind a fork loop.
  let listened = false;
  let failed: number | undefined;
  return new Promise((resolve) => {
    cluster.on('exit', (w, code, signal) => {
      relay?.remove(w);
      admin?.remove(w);
      const age = Date.now() - (born.get(w) ?? 0);
      const n = numbers.get(w) ?? 1;
      born.delete(w);
      numbers.delete(w);
      if (!stopping && !listened) {
        log.error('worker', { pid: w.process.pid, code, signal, msg: 'a worker failed at start-up; stopping' });
        stopping = true;
        failed = code || 1;
        for (const x of born.keys()) x.process.kill('SIGKILL');
      }
      if (stopping) {
        if (born.size > 0) return;
        if (failed === undefined) log.info('worker', { msg: 'every worker drained and exited' });
        return resolve(failed ?? 0);
      }
      log.warn('worker', { worker: n, pid: w.process.pid, code, signal, msg: 'worker died; starting a replacement' });
      admin?.replaced();
      if (age < CRASH_LOOP_MS) setTimeout(() => fork(n), CRASH_LOOP_MS);
      else fork(n);
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn('exit', { signal, msg: 'second signal: killing the workers without waiting for the drain' });
        for (const w of born.keys()) w.process.kill('SIGKILL');
        process.exit(1);
      }
      stopping = true;
      if (admin) admin.draining = true;
      log.info('signal', { signal, msg: `draining ${born.size} workers` });
      if (born.size === 0) resolve(0);
      for (const w of born.keys()) w.process.kill('SIGTERM');
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    for (const sig of ['SIGHUP', 'SIGUSR2'] as const) {
      process.on(sig, () => {
        for (const w of born.keys()) w.process.kill(sig);
      });
    }
    for (let n = 1; n <= o.workers; n++) fork(n);
  });
}
