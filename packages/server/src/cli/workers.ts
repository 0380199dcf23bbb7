/**
 * `--workers N`: the primary process of a node:cluster. It forks N workers running the same
 * command line (each a full server on the one shared port; the primary hands out connections
 * round-robin), forwards SIGHUP/SIGUSR2 (certificate reload) to every worker, turns
 * SIGTERM/SIGINT into a drain of every worker, replaces a worker that dies, and hosts the
 * streams the workers share when there is no Redis (IpcRelay).
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { OptionError } from '../common/errors';
import type { Logger } from '../common/log';
import { IpcRelay } from '../server/messaging/ipc-relay';
import type { MemoryBrokerOptions } from '../server/messaging/broker';

/** The environment variable that tells a forked process it is a worker (and which). */
export const WORKER_ENV = 'WSS_MP_WORKER';

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
}

/** Runs the primary until every worker has drained after SIGTERM/SIGINT; resolves with the exit code. */
export function runPrimary(o: PrimaryOptions): Promise<number> {
  const { log } = o;
  const relay = o.relay ? new IpcRelay(o.relay) : undefined;
  const born = new Map<Worker, number>();
  let stopping = false;
  let slot = 0;
  const fork = () => {
    const w = cluster.fork({ [WORKER_ENV]: String(++slot) });
    born.set(w, Date.now());
    w.process.on('error', () => {}); // a send to a worker that is exiting: it leaves on 'exit'
    relay?.add(w);
    w.on('message', (m) => relay?.handle(w, m));
    w.on('online', () => log.info('worker', { pid: w.process.pid, msg: 'started' }));
    w.on('listening', () => (listened = true));
  };
  // A worker that fails before any worker ever listened (a missing certificate, a port in use)
  // would fail again: replacing it forever would hide the error behind a fork loop.
  let listened = false;
  let failed: number | undefined;
  return new Promise((resolve) => {
    cluster.on('exit', (w, code, signal) => {
      relay?.remove(w);
      const age = Date.now() - (born.get(w) ?? 0);
      born.delete(w);
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
      log.warn('worker', { pid: w.process.pid, code, signal, msg: 'worker died; starting a replacement' });
      if (age < CRASH_LOOP_MS) setTimeout(fork, CRASH_LOOP_MS);
      else fork();
    });
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn('exit', { signal, msg: 'second signal: killing the workers without waiting for the drain' });
        for (const w of born.keys()) w.process.kill('SIGKILL');
        process.exit(1);
      }
      stopping = true;
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
    for (let i = 0; i < o.workers; i++) fork();
  });
}
