/**
 * Refusals at TCP accept, before any TLS work: a client address in its flood penalty
 * (flood-penalty.ts), or one reconnecting at more than twice the per-IP handshake limit
 * (HandshakeLimiter.refusesAtAccept). The socket is destroyed in the server's `connection` event
 * (pending-caps.ts calls this first): the client sees its TCP connection closed without a
 * ServerHello, and the server has spent an accept and a Map lookup instead of a handshake.
 *
 * Only the TCP peer is known this early. A peer that is a trusted proxy carries everyone's
 * connections and is never refused here; its clients' penalties apply at the upgrade request,
 * by their forwarded address (upgrade.ts answers 429).
 *
 * Each refused socket is counted in the metrics (handshake failures `flood_penalty` and
 * `rate_limited`), but not logged one by one: a flooder reconnecting in a loop would write
 * thousands of lines a second. The penalty logs when it begins; the handshake refusals at most one
 * line a second, with their count.
 */
import type { Logger } from '../../common/log';
import { isTrusted, type Cidr } from '../trust-proxy';
import type { Limiters } from './rate-limit';
import type { Stats } from './stats';

const REPORT_EVERY_MS = 1_000;

/** `(key, ip) => true` when the socket from `ip` (per-IP key `key`, see ipCapKey) is to be destroyed unanswered. */
export type AcceptGate = (key: string, ip: string) => boolean;

export function acceptGate(limits: Limiters, trusted: readonly Cidr[], stats: Stats, log: Logger): AcceptGate | undefined {
  const { penalty, handshakes } = limits;
  if (penalty === undefined && handshakes === undefined) return undefined;
  const report = { at: 0, count: 0, ip: '' };
  return (key, ip) => {
    const now = Date.now();
    // The common case, no address penalised: one comparison; the trust check only on a hit.
    if (penalty !== undefined && !penalty.idle && penalty.remainingForKey(key, now) > 0 && !isTrusted(trusted, ip)) {
      stats.failed('flood_penalty');
      return true;
    }
    if (handshakes !== undefined && handshakes.refusesAtAccept(ip, now) && !isTrusted(trusted, ip)) {
      stats.failed('rate_limited');
      stats.rateLimitHandshake++;
      report.count++;
      report.ip = ip;
      if (now - report.at >= REPORT_EVERY_MS) {
        log.warn('limit', { limit: 'handshake-flood', ip: report.ip, count: report.count,
          msg: 'reconnecting at more than twice the per-IP handshake limit: refused at TCP accept' });
        report.at = now;
        report.count = 0;
      }
      return true;
    }
    return false;
  };
}
