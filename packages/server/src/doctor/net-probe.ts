/** DNS and TCP reachability: the two steps before any TLS. */
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';

export interface DnsResult {
  ok: boolean;
  addresses: string[];
  errorCode?: string;
}

export async function resolveHost(host: string, timeoutMs: number): Promise<DnsResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<DnsResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, addresses: [], errorCode: 'ETIMEDOUT' }), timeoutMs);
  });
  const query = lookup(host, { all: true, verbatim: true }).then(
    (rows) => ({ ok: rows.length > 0, addresses: rows.map((r) => r.address) }),
    (err: NodeJS.ErrnoException) => ({ ok: false, addresses: [], errorCode: err.code ?? 'ERROR' }),
  );
  try {
    return await Promise.race([query, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export interface TcpResult {
  ok: boolean;
  ms: number;
  errorCode?: string;
}

export function probeTcp(address: string, port: number, timeoutMs: number): Promise<TcpResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const finish = (r: Omit<TcpResult, 'ms'>) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...r, ms: Math.round(performance.now() - t0) });
    };
    const timer = setTimeout(() => finish({ ok: false, errorCode: 'ETIMEDOUT' }), timeoutMs);
    socket.once('connect', () => finish({ ok: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ ok: false, errorCode: err.code ?? 'ERROR' }));
  });
}
