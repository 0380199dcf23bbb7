/**
 * `messaging.redis` → a RedisBroker whose state changes go to the server's log as `redis`
 * events (connected, lost, gaps), so an operator sees a Redis outage in the log at once.
 */
import type { Logger } from '../../common/log';
import type { ResolvedMessaging } from './options';
import { RedisBroker } from './redis-broker';

export function redisBrokerFor(m: ResolvedMessaging<any>, log: Logger): RedisBroker | undefined {
  if (m.redis === undefined) return undefined;
  return new RedisBroker({
    url: m.redis.url,
    prefix: m.redis.prefix,
    heartbeat: m.redis.heartbeat,
    presenceTtl: m.redis.presenceTtl,
    historySize: m.historySize,
    historyTtl: m.historyTtl,
    log: (level, _event, fields) => {
      if (level === 'error') log.error('redis', fields);
      else if (level === 'warn') log.warn('redis', fields);
      else log.info('redis', fields);
    },
  });
}
