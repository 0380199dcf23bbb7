/**
 * wss-mp-server: a wss:// server for WeChat mini programs on `ws`.
 * See README.md for options, hooks, logs and error codes. The doctor and the proxy-config
 * generator are separate entry points (`wss-mp-server/doctor`, `wss-mp-server/proxy-config`),
 * so that importing the server does not load them.
 */
export { createServer, type WssMpServer, type BroadcastOptions } from './server/server';
export { Connection } from './server/connection';
export {
  SERVER_DEFAULTS,
  type ServerOptions,
  type ServerHooks,
  type TlsOptions,
  type MessageData,
} from './server/options';
export { WssMpServerError, OptionError, CertificateError, ERROR_CODES, type WssMpServerErrorCode } from './common/errors';
export {
  MOZILLA_INTERMEDIATE_CIPHERS,
  TLS_MIN_VERSION,
  TLS_MAX_VERSION,
  TLS_CURVES,
  TLS_POLICY,
  HSTS_HEADER,
  describeCertificate,
  type CertificateInfo,
} from './common/tls';
export { parseTrustList, resolveClientIp, isTrusted, normalizeIp, TRUST_KEYWORDS, DEFAULT_IP_HEADERS } from './server/trust-proxy';
export { ensureDevCert, defaultDevCertDir, DEV_CERT_HOSTS, type DevCertPaths } from './server/dev-cert/index';
export { PLAIN_HTTP_BODY } from './server/plain-http';
export type { LogEntry, LogLevel } from './common/log';
export { MESSAGING_DEFAULTS, REDIS_DEFAULTS, type MessagingOptions, type RedisOptions } from './server/messaging/options';
export { MemoryBroker, IDEMPOTENCY_WINDOW_MS, type Broker, type Publication, type PublishOptions, type HistoryResult } from './server/messaging/broker';
export type { Presence } from './server/messaging/presence';
export type { AuthResult, AuthRefusal, Authenticate } from './server/auth/authenticate';
export type { JwtOptions } from './server/auth/jwt';
export { WECHAT_LOGIN_DEFAULTS, type WechatLoginOptions } from './server/auth/wechat-login';
export { MESSAGING_SUBPROTOCOL, CloseCode, type StreamPosition } from '@wss-mp/protocol';
export { OPS_DEFAULTS } from './server/ops/options';
export { RATE_LIMIT_DEFAULTS, type RateLimitOptions } from './server/ops/rate-limit';
export type { HealthReporter } from './server/ops/health';
export type { Stats, StatsSnapshot } from './server/ops/stats';
