/**
 * The request handler of `--conformance` (test/conformance/README.md): lets the conformance
 * suite, which only speaks the protocol, make the server publish and learn its history size
 * and message rate limit (null when off).
 * Anything else is echoed, like the default handler. Never enable it in production: any
 * client could publish on any channel.
 */
import type { StreamPosition } from '@wss-mp/protocol';
import type { Connection } from '../connection';

interface Publisher {
  publish(channel: string, data: unknown): Promise<StreamPosition>;
}

export interface ConformanceLimits {
  historySize: number;
  rateLimit: { messagesPerSecond: number; messagesBurst: number } | null;
}

export function conformanceHandler(ref: { server?: Publisher }, limits: () => ConformanceLimits) {
  return (_conn: Connection<any>, data: unknown): unknown => {
    if (data !== null && typeof data === 'object') {
      const d = data as { publish?: { ch?: unknown; data?: unknown }; limits?: unknown };
      if (d.publish && typeof d.publish.ch === 'string' && !d.publish.ch.startsWith('$') && ref.server) {
        return ref.server.publish(d.publish.ch, d.publish.data);
      }
      if (d.limits === true) return limits();
    }
    return data;
  };
}
