/**
 * Refusals at TCP accept, before any TLS work: a client address in its flood penalty
 * (flood-penalty.ts), held unread until the cool-down ends, then closed; or one reconnecting at
 * more than twice the per-IP handshake limit (HandshakeLimiter.refusesAtAccept), closed at once.
 * pending-caps.ts asks this before the server's own `connection` listener: the client sees its
 * TCP connection closed without a ServerHello, and the server has spent an accept and a Map
 * lookup instead of a handshake.
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

/**
 * For a socket from `ip` (per-IP key `key`, see ipCapKey): 0 admits it; -1 destroys it at once;
 * n > 0 holds it unread for n ms, then destroys it (pending-caps.ts).
 */
export type AcceptGate = (key: string, ip: string) => number;

export function acceptGate(limits: Limiters, trusted: readonly Cidr[], stats: Stats, log: Logger): AcceptGate | undefined {
  const { penalty, handshakes } = limits;
  if (penalty === undefined && handshakes === undefined) return undefined;
  const report = { at: 0, count: 0, ip: '' };
  return (key, ip) => {
    const now = Date.now();
    // The common case, no address penalised: one comparison; the trust check only on a hit.
    const cooling = penalty === undefined || penalty.idle ? 0 : penalty.remainingForKey(key, now);
    if (cooling > 0 && !isTrusted(trusted, ip)) {
      stats.failed('flood_penalty');
      // Held, not closed at once: a flooder reconnects the moment it is refused, and each
      // refusal still costs an accept (measured ~100 µs of CPU); held until the cool-down ends
      // it makes one attempt per cool-down. Its neighbours behind the same NAT wait no longer
      // than they would have been refused for.
      return cooling;
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
      return -1;
    }
    return 0;
  };
}
