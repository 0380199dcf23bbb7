/**
 * Caddy: a Caddyfile site block. Caddy proxies WebSocket upgrades by itself, replaces
 * client-sent X-Forwarded-* unless `trusted_proxies` says otherwise (2.5+), and without
 * --cert/--key obtains and renews the certificate itself. Tested against Caddy 2.6.
 */
import type { ResolvedProxyConfigOptions } from './options';
import { HSTS_HEADER, MOZILLA_INTERMEDIATE_CIPHERS_IANA } from './policy';
import { upstreamAuthority, type RenderedParts } from './shared';

export function renderCaddy(o: ResolvedProxyConfigOptions): RenderedParts {
  const address = o.listen.port === 443 ? o.domain : `${o.domain}:${o.listen.port}`;
  const bind = o.listen.host ? `\n    bind ${o.listen.host.replace(/^\[|\]$/g, '')}\n` : '';
  const install = [
    'Append to /etc/caddy/Caddyfile (or save it beside and "import" it there).',
    'caddy validate --config /etc/caddy/Caddyfile && systemctl reload caddy\n' +
      'A reload closes every open WebSocket with 1001 (going away); clients reconnect.',
  ];
  const notes = o.cert
    ? []
    : [
      `Caddy obtains and renews the certificate for ${o.domain} itself: ports 80 and 443 must be`,
      'reachable from the internet and the DNS name must point at this machine.',
    ];
  const tlsArgs = o.cert ? ` ${o.cert} ${o.key}` : '';

  const body = `${address} {${bind}
    # Mozilla "intermediate" (Server Side TLS 6.0): TLS 1.2 and 1.3 only (WeChat needs 1.2+);
    # on 1.2 only ECDHE key exchange with AEAD ciphers: forward secrecy, which iOS ATS (and so
    # WeChat on iPhone) requires. Key-exchange groups: Caddy's defaults (X25519, P-256, P-384;
    # Caddy >= 2.10 adds the post-quantum hybrid).${o.cert ? '\n    # The certificate file must hold the full chain (leaf + intermediates).' : ''}
    tls${tlsArgs} {
        protocols tls1.2 tls1.3
        ciphers ${MOZILLA_INTERMEDIATE_CIPHERS_IANA.join(' ')}
    }

    # Browsers remember to use https for 2 years.
    header Strict-Transport-Security "${HSTS_HEADER}"

    # Exact path: matches ${o.path} only, not ${o.path}x or ${o.path}/x (it ignores case, and
    # the app answers other spellings with 404).
    @wss path ${o.path}
    handle @wss {
        reverse_proxy ${upstreamAuthority(o.upstream)} {
            # Caddy sets X-Forwarded-For/-Proto/-Host from the TCP peer and drops the
            # client's values (no trusted_proxies here). X-Real-IP and Forwarded are not
            # touched by default: set the one, drop the other.
            header_up X-Real-IP {remote_host}
            header_up -Forwarded
            transport http {
                dial_timeout 5s
                # Idle timeout of the tunnel: closes it when the app sends nothing for this
                # long (Caddy has none by default). The app pings every ${o.heartbeatInterval} s, so a live
                # socket never reaches it.
                read_timeout ${o.idleTimeout}s
            }
        }
    }

    # Anything else: not found (or your site's own routes).
    handle {
        respond 404
    }
}
`;
  return { install, notes, body, main: '' };
}
