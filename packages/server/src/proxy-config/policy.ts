/**
 * The TLS policy the proxy configs enforce: Mozilla Server Side TLS 6.0 "intermediate", the
 * same policy as the native-TLS server (../tls.ts, whose cipher list and HSTS value we reuse).
 * What differs here is that it runs in the proxy's TLS library, not Node's: the group list
 * depends on the proxy's OpenSSL, and Caddy (Go) names suites differently.
 */
import { HSTS_HEADER, MOZILLA_INTERMEDIATE_CIPHERS } from '../common/tls';

export { HSTS_HEADER, MOZILLA_INTERMEDIATE_CIPHERS };

/**
 * Key-exchange groups, Mozilla's order, for nginx `ssl_ecdh_curve` and Apache
 * `SSLOpenSSLConfCmd Curves`. Mozilla lists X25519MLKEM768 first; OpenSSL < 3.5 (Debian 12:
 * 3.0) does not know it and the proxy refuses to start, so it is opt-in (`postQuantum`).
 */
export const PROXY_CURVES = 'X25519:prime256v1:secp384r1';
export const PROXY_CURVES_PQ = `X25519MLKEM768:${PROXY_CURVES}`;

/** The same TLS 1.2 suites under the IANA names Caddy (Go crypto/tls) uses, same order. */
export const MOZILLA_INTERMEDIATE_CIPHERS_IANA = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
] as const;

/** TLS session cache lifetime (Mozilla: 1 day, 10 MB shared). */
export const SESSION_TIMEOUT = '1d';
