/**
 * What the server counts, as plain integer fields: the message path adds to two numbers and
 * looks nothing up (no label lookup, no Map, no allocation). Everything per connection or per
 * handshake is counted from the log events the server already emits (`observe`), so counting
 * adds no code to those paths either. metrics.ts turns these into Prometheus text on scrape.
 *
 * Across worker processes the fields are summed: `snapshot()` is plain JSON a worker can send
 * to the primary, and `add()` folds one into another (see docs/operations.md).
 */
import { CloseCode } from '@wss-mp/protocol';

/** Handshake failure reasons: a fixed set, so the metric's label set stays bounded. */
export const HANDSHAKE_FAILURES = [
  'tls_version', // the client offered only TLS < 1.2 (or no protocol we speak)
  'tls_other', // any other TLS handshake failure (bad record, reset mid-handshake…)
  'plain_http', // http:// or ws:// on the TLS port (answered 400)
  'bad_upgrade', // not a valid WebSocket upgrade, or no endpoint at that path
  'origin', // browser origin not allowed
  'auth_refused', // authenticate / jwt said 401 or 403
  'auth_error', // authenticate threw or timed out (500/503)
  'capacity', // connection caps, pending-connection caps (1013, closed at accept)
  'shutting_down', // refused while draining
  'timeout', // handshake deadline
  'rate_limited', // per-IP handshake rate limit (429, or closed at accept when far beyond it)
  'flood_penalty', // the address was cut with 4029 and is cooling down (closed at accept, or 429 behind a proxy)
] as const;
export type HandshakeFailure = (typeof HANDSHAKE_FAILURES)[number];

/** Close codes with their own label; every other code is counted as "other". */
export const CLOSE_CODE_LABELS = [
  CloseCode.NORMAL, CloseCode.GOING_AWAY, CloseCode.PROTOCOL_ERROR, CloseCode.UNSUPPORTED_DATA, CloseCode.NO_STATUS,
  CloseCode.ABNORMAL, CloseCode.INVALID_PAYLOAD, CloseCode.POLICY_VIOLATION, CloseCode.MESSAGE_TOO_BIG,
  CloseCode.INTERNAL_ERROR, CloseCode.SERVICE_RESTART, CloseCode.TRY_AGAIN_LATER, CloseCode.UNAUTHORIZED,
  CloseCode.FORBIDDEN, CloseCode.SLOW_CONSUMER, CloseCode.REPLACED, CloseCode.RATE_LIMITED,
] as const;
const CLOSE_INDEX = new Map<number, number>(CLOSE_CODE_LABELS.map((c, i) => [c, i]));
const OTHER = CLOSE_CODE_LABELS.length;

export interface StatsSnapshot {
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
  handshakes: number;
  handshakeFailures: Record<HandshakeFailure, number>;
  /** By close code ("other" for the rest). */
  disconnects: Record<string, number>;
  recoveries: { recovered: number; not_recovered: number; failed: number };
  slowConsumerCuts: number;
  rateLimitHits: { connection: number; user: number; handshake: number };
  rateLimitCloses: number;
  brokerErrors: number;
}

const TLS_VERSION_ERRORS = new Set([
  'ERR_SSL_UNSUPPORTED_PROTOCOL',
  'ERR_SSL_NO_PROTOCOLS_AVAILABLE',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
  'ERR_SSL_VERSION_TOO_LOW',
]);

export class Stats {
  messagesIn = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;
  handshakes = 0;
  readonly failures = new Float64Array(HANDSHAKE_FAILURES.length);
  readonly closes = new Float64Array(OTHER + 1);
  recovered = 0;
  notRecovered = 0;
  recoveryFailed = 0;
  slowConsumerCuts = 0;
  rateLimitConnection = 0;
  rateLimitUser = 0;
  rateLimitHandshake = 0;
  rateLimitCloses = 0;
  /** Errors logged by a broker or about one (`where` starting with "broker"). */
  brokerErrors = 0;

  /** Stats counting from `log`'s events: what already describes each handshake and close. */
  static observing(log: { observe: Stats['observe'] | undefined }): Stats {
    const s = new Stats();
    log.observe = (event, fields) => s.observe(event, fields);
    return s;
  }

  failed(reason: HandshakeFailure, n = 1): void {
    this.failures[HANDSHAKE_FAILURES.indexOf(reason)]! += n;
  }

  closed(code: number): void {
    this.closes[CLOSE_INDEX.get(code) ?? OTHER]!++;
  }

  /**
   * A log event, before the sink and `quiet` (Logger.observe): connection, close and every
   * handshake refusal already log once, with what the metrics need.
   */
  observe(event: string, f: Record<string, unknown> | undefined): void {
    switch (event) {
      case 'connection':
        this.handshakes++;
        return;
      case 'close':
        this.closed(typeof f?.code === 'number' ? f.code : CloseCode.ABNORMAL);
        if (typeof f?.by === 'string' && f.by.startsWith('slow consumer')) this.slowConsumerCuts++;
        else if (f?.code === CloseCode.RATE_LIMITED) this.rateLimitCloses++;
        return;
      case 'plain-http':
        return this.failed('plain_http');
      case 'tls-error':
        return this.failed(TLS_VERSION_ERRORS.has(String(f?.error)) ? 'tls_version' : 'tls_other');
      case 'limit': {
        // pending-caps.ts reports at most one line a second, with the count of sockets since.
        const n = typeof f?.count === 'number' ? f.count : 1;
        if (f?.limit === 'pending-connections') this.failed('capacity', n);
        else if (f?.limit === 'handshake-deadline') this.failed('timeout', n);
        return;
      }
      case 'error':
        if (typeof f?.where === 'string' && f.where.startsWith('broker')) this.brokerErrors++;
        return;
      case 'reject':
        if (f?.status === 429) this.rateLimitHandshake++;
        return this.failed(rejectReason(f));
    }
  }

  snapshot(): StatsSnapshot {
    const handshakeFailures = {} as Record<HandshakeFailure, number>;
    HANDSHAKE_FAILURES.forEach((r, i) => (handshakeFailures[r] = this.failures[i]!));
    const disconnects: Record<string, number> = {};
    CLOSE_CODE_LABELS.forEach((c, i) => (disconnects[String(c)] = this.closes[i]!));
    disconnects.other = this.closes[OTHER]!;
    return {
      messagesIn: this.messagesIn,
      bytesIn: this.bytesIn,
      messagesOut: this.messagesOut,
      bytesOut: this.bytesOut,
      handshakes: this.handshakes,
      handshakeFailures,
      disconnects,
      recoveries: { recovered: this.recovered, not_recovered: this.notRecovered, failed: this.recoveryFailed },
      slowConsumerCuts: this.slowConsumerCuts,
      rateLimitHits: { connection: this.rateLimitConnection, user: this.rateLimitUser, handshake: this.rateLimitHandshake },
      rateLimitCloses: this.rateLimitCloses,
      brokerErrors: this.brokerErrors,
    };
  }
}

/** Which failure a `reject` log line is: by the status or close code it carries. */
function rejectReason(f: Record<string, unknown> | undefined): HandshakeFailure {
  const status = f?.status;
  if (status === undefined) {
    // After the 101 (hub.open): caps (1013); 1001 while draining is not logged.
    return f?.code === CloseCode.GOING_AWAY ? 'shutting_down' : 'capacity';
  }
  if (status === 401 || (status === 403 && f?.origin === undefined)) return 'auth_refused';
  if (status === 403) return 'origin';
  if (status === 429) return 'rate_limited';
  if (status === 500) return 'auth_error';
  if (status === 503) return f?.reason === 'server shutting down' ? 'shutting_down' : 'auth_error';
  return 'bad_upgrade';
}
