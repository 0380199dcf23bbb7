/**
 * Under `--workers`, the admin listener lives in the primary (cluster-admin.ts) and a worker
 * answers its questions over the cluster's IPC channel: the same LocalTarget a single server
 * serves over HTTP, so a call does the same thing whichever mode the node runs in.
 *
 * Messages carry `wssmp: 'ops' | 'ops-reply' | 'ops-up'` (the relay's are 'pub', 'reply'…):
 * each side ignores what is not its own.
 */
import type { Logger } from '../../common/log';
import { toApiError, type DisconnectTarget } from './admin';
import type { LocalTarget } from './wire';

/** What the primary asks a worker (one LocalTarget method each). */
export type OpsCall =
  | { op: 'report' }
  | { op: 'ready' }
  | { op: 'publish'; channel: string; data: unknown; opts?: { idempotencyKey?: string } }
  | { op: 'send'; user: string; data: unknown; opts?: { idempotencyKey?: string } }
  | { op: 'connections'; user: string }
  | { op: 'disconnect'; target: DisconnectTarget; code: number; reason: string }
  | { op: 'presence'; channel: string | undefined }
  | { op: 'broadcast'; data: string };

export type OpsRequest = OpsCall & { wssmp: 'ops'; id: number };

/** A failed call: the API error it is answered with (status, stable code, message). */
export interface OpsFailure {
  status: number;
  code: string;
  message: string;
}

export type OpsMessage =
  | OpsRequest
  | { wssmp: 'ops-up' }
  | { wssmp: 'ops-reply'; id: number; ok: true; value: unknown }
  | { wssmp: 'ops-reply'; id: number; ok: false; error: OpsFailure };

export interface OpsPort {
  send(m: OpsMessage): unknown;
  on(event: 'message', listener: (m: unknown) => void): unknown;
}

function run(t: LocalTarget, c: OpsCall): Promise<unknown> {
  switch (c.op) {
    case 'report':
      return t.report();
    case 'ready':
      return t.ready();
    case 'publish':
      return t.publish(c.channel, c.data, c.opts);
    case 'send':
      return t.send(c.user, c.data, c.opts);
    case 'connections':
      return Promise.resolve(t.connectionIds(c.user));
    case 'disconnect':
      return t.disconnect(c.target, c.code, c.reason);
    case 'presence':
      return t.presence(c.channel);
    case 'broadcast':
      return t.broadcast(c.data);
  }
}

/** Answers the primary's calls on `port` (the worker's `process`), then says it is up. */
export function serveOps(t: LocalTarget, port: OpsPort, log: Logger): void {
  port.on('message', (m) => {
    if (m === null || typeof m !== 'object' || (m as { wssmp?: unknown }).wssmp !== 'ops') return;
    const req = m as OpsRequest;
    let p: Promise<unknown>;
    try {
      p = run(t, req);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (value) => send(port, { wssmp: 'ops-reply', id: req.id, ok: true, value }),
      (err) => {
        const e = toApiError(err);
        if (e.status === 500) log.error('error', { where: 'admin', op: req.op, error: err });
        send(port, { wssmp: 'ops-reply', id: req.id, ok: false, error: { status: e.status, code: e.code, message: e.message } });
      },
    );
  });
  send(port, { wssmp: 'ops-up' });
}

/** The primary may be gone (the worker exits on 'disconnect'): nothing to answer to. */
function send(port: OpsPort, m: OpsMessage): void {
  try {
    port.send(m);
  } catch {
    /* channel closed */
  }
}
