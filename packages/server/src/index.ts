/**
 * wss-mp-server: a wss:// server for WeChat mini programs on `ws`.
 * See README.md for options, hooks, logs and error codes.
 */
export { createServer, type WssMpServer, type BroadcastOptions } from './server';
export { Connection } from './connection';
export {
  SERVER_DEFAULTS,
  type ServerOptions,
  type ServerHooks,
  type TlsOptions,
  type MessageData,
} from './options';
export { WssMpServerError, OptionError, CertificateError, ERROR_CODES, type WssMpServerErrorCode } from './errors';
export {
  MOZILLA_INTERMEDIATE_CIPHERS,
  TLS_MIN_VERSION,
  TLS_MAX_VERSION,
  TLS_CURVES,
  TLS_POLICY,
  HSTS_HEADER,
  describeCertificate,
  type CertificateInfo,
} from './tls';
export { parseTrustList, resolveClientIp, isTrusted, normalizeIp, TRUST_KEYWORDS, DEFAULT_IP_HEADERS } from './trust-proxy';
export { ensureDevCert, defaultDevCertDir, DEV_CERT_HOSTS, type DevCertPaths } from './dev-cert/index';
export { PLAIN_HTTP_BODY } from './plain-http';
export type { LogEntry, LogLevel } from './log';
export * from './doctor/index';
export * from './proxy-config/index';
