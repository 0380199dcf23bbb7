/**
 * Apache httpd: a <VirtualHost> for sites-available/. WebSocket tunnelling through
 * mod_proxy_http's `upgrade=websocket` needs Apache ≥ 2.4.47 (older: mod_proxy_wstunnel and a
 * ws:// target, now deprecated). Tested against Apache 2.4 on Debian 12.
 *
 * Apache allows comments only on lines of their own: a trailing `# ...` after a directive is
 * read as more arguments (`RequestHeader unset X-Forwarded-For # why` fails with "too many
 * arguments"), so every comment below sits on its own line.
 */
import type { ResolvedProxyConfigOptions } from './options';
import { HSTS_HEADER, MOZILLA_INTERMEDIATE_CIPHERS, PROXY_CURVES, PROXY_CURVES_PQ } from './policy';
import { upstreamAuthority, type RenderedParts } from './shared';

/** The exact-path regex for ProxyPassMatch: paths are [A-Za-z0-9._~/-], only '.' is special. */
export function exactPathRegex(path: string): string {
  return `^${path.replace(/\./g, '\\.')}$`;
}

export function renderApache(o: ResolvedProxyConfigOptions): RenderedParts {
  const addr = o.listen.host ? `${o.listen.host}:${o.listen.port}` : `*:${o.listen.port}`;
  const t = o.idleTimeout;
  const install = [
    'a2enmod ssl proxy proxy_http headers   (Apache >= 2.4.47: apache2 -v)',
    `Save as /etc/apache2/sites-available/${o.domain}-wss.conf, then: a2ensite ${o.domain}-wss`,
    o.listen.port === 443
      ? 'Port 443 is opened by "Listen 443" in ports.conf (Debian, with mod_ssl).'
      : `Open the port: add "Listen ${o.listen.host ? `${o.listen.host}:` : ''}${o.listen.port}" to ports.conf.`,
    'apache2ctl configtest && apache2ctl graceful\n' +
      '(graceful: open WebSockets stay on the old process, new ones get the new config)',
  ];
  const notes = [
    `If ${o.domain} already has a <VirtualHost ${addr}> (your website), put the lines from`,
    '"Timeout" to "ProxyPassMatch" into it instead and give it the SSL* lines below.',
  ];

  const body = `<VirtualHost ${addr}>
    ServerName ${o.domain}

    SSLEngine on
    # The full chain (leaf + intermediates, certbot's fullchain.pem; Apache >= 2.4.8 reads
    # the chain from this file). A leaf-only file works in desktop browsers, which cache
    # intermediates, and fails on phones (errno 600001).
    SSLCertificateFile ${o.cert}
    SSLCertificateKeyFile ${o.key}

    # Mozilla "intermediate" (Server Side TLS 6.0): TLS 1.2 and 1.3 only. WeChat needs 1.2+;
    # SSLv3, TLS 1.0 and 1.1 are broken. On 1.2 only ECDHE key exchange with AEAD ciphers:
    # forward secrecy, which iOS ATS (and so WeChat on iPhone) requires.
    SSLProtocol -all +TLSv1.2 +TLSv1.3
    SSLCipherSuite ${MOZILLA_INTERMEDIATE_CIPHERS}
    # ${o.postQuantum ? 'X25519MLKEM768 needs OpenSSL >= 3.5 in mod_ssl.' : 'Add X25519MLKEM768 first once Apache runs on OpenSSL >= 3.5 (--post-quantum).'}
    SSLOpenSSLConfCmd Curves ${o.postQuantum ? PROXY_CURVES_PQ : PROXY_CURVES}
    # No server preference: clients without AES hardware may pick ChaCha20.
    SSLHonorCipherOrder off
    SSLSessionTickets off

    # Browsers remember to use https for 2 years.
    Header always set Strict-Transport-Security "${HSTS_HEADER}"

    # Idle timeout of the tunnel. Apache closes an idle WebSocket after max(Timeout,
    # timeout=), so both are set: timeout= alone cannot go below Timeout (60 s compiled in,
    # 300 s in Debian's apache2.conf). The app pings every ${o.heartbeatInterval} s, so a live socket never
    # reaches it and a dead one is closed by the app's heartbeat first.
    Timeout ${t}

    ProxyRequests Off
    ProxyPreserveHost On
    # The client address is the TCP peer, written over whatever the client sent: anyone can
    # send X-Forwarded-For. mod_proxy appends the peer to X-Forwarded-For (and adds
    # X-Forwarded-Host/-Server), so the client's values are removed first.
    RequestHeader unset X-Forwarded-For
    RequestHeader unset X-Forwarded-Host
    RequestHeader unset X-Forwarded-Server
    RequestHeader unset Forwarded
    RequestHeader set X-Real-IP "expr=%{REMOTE_ADDR}"
    RequestHeader set X-Forwarded-Proto "https"

    # Exact path (ProxyPass "${o.path}" would also match ${o.path}/anything). No path after the
    # address: without backreferences ProxyPassMatch appends the request path (${o.path}) and
    # the query string. upgrade=websocket makes mod_proxy_http tunnel the Upgrade.
    ProxyPassMatch "${exactPathRegex(o.path)}" "http://${upstreamAuthority(o.upstream)}" upgrade=websocket timeout=${t} connectiontimeout=5
</VirtualHost>
`;
  return { install, notes, body, main: '' };
}
