/**
 * nginx: an http-context file (a `map` and a `server`), for /etc/nginx/conf.d/, plus one
 * main-context line (`worker_shutdown_timeout`) that a conf.d file cannot hold.
 * Tested against nginx 1.22 (Debian 12); needs ≥ 1.13 for TLS 1.3.
 */
import type { ResolvedProxyConfigOptions } from './options';
import { HSTS_HEADER, MOZILLA_INTERMEDIATE_CIPHERS, PROXY_CURVES, PROXY_CURVES_PQ, SESSION_TIMEOUT } from './policy';
import { upstreamAuthority, type RenderedParts } from './shared';

export function renderNginx(o: ResolvedProxyConfigOptions): RenderedParts {
  const listen = o.listen.host ? `${o.listen.host}:${o.listen.port}` : String(o.listen.port);
  const v6 = o.listen.host ? '' : `\n    # Clients on IPv6 too: listen [::]:${o.listen.port} ssl;`;
  const cert = o.cert!;
  const key = o.key!;
  const main = `worker_shutdown_timeout ${o.workerShutdownTimeout}s;`;

  const install = [
    `Save as /etc/nginx/conf.d/${o.domain}-wss.conf (a file in the http {} context).`,
    'In /etc/nginx/nginx.conf, at the top level (beside worker_processes), add\n' +
      `  ${main}\n` +
      'A reload starts new workers; old ones keep serving open WebSockets, which the heartbeat\n' +
      'keeps alive indefinitely, so old workers (old config, old certificate) would never exit.\n' +
      'At the timeout they close them and the clients reconnect.',
    'nginx -t && systemctl reload nginx',
  ];
  const notes = [
    `If ${o.domain} already has a server {} on port ${o.listen.port} (your website), do not add a second`,
    'one (nginx would ignore it): copy the map and the `location =` block into that server and',
    'give it the ssl_* lines below.',
  ];

  const body = `# Connection header towards the app: "upgrade" for a WebSocket handshake, "close" for
# anything else. Upgrade and Connection are hop-by-hop headers: nginx drops them unless
# they are set here explicitly.
map $http_upgrade $wss_mp_connection {
    default upgrade;
    ''      close;
}

server {
    listen ${listen} ssl;${v6}
    server_name ${o.domain};

    # The full chain (leaf + intermediates, certbot's fullchain.pem). A leaf-only file works
    # in desktop browsers, which cache intermediates, and fails on phones (errno 600001).
    ssl_certificate     ${cert};
    ssl_certificate_key ${key};

    # Mozilla "intermediate" (Server Side TLS 6.0): TLS 1.2 and 1.3 only. WeChat needs 1.2+;
    # SSLv3, TLS 1.0 and 1.1 are broken. On 1.2 only ECDHE key exchange with AEAD ciphers:
    # forward secrecy, which iOS ATS (and so WeChat on iPhone) requires.
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${MOZILLA_INTERMEDIATE_CIPHERS};
    # ${o.postQuantum ? 'X25519MLKEM768 needs OpenSSL >= 3.5 (nginx -V shows the version).' : 'Add X25519MLKEM768 first once nginx runs on OpenSSL >= 3.5 (--post-quantum).'}
    ssl_ecdh_curve ${o.postQuantum ? PROXY_CURVES_PQ : PROXY_CURVES};
    # No server preference: clients without AES hardware may pick ChaCha20.
    ssl_prefer_server_ciphers off;
    ssl_session_timeout ${SESSION_TIMEOUT};
    ssl_session_cache shared:wss_mp_tls:10m;
    # nginx < 1.23.2 never rotates its session-ticket key; delete this line on newer nginx.
    ssl_session_tickets off;

    # Browsers remember to use https for 2 years.
    add_header Strict-Transport-Security "${HSTS_HEADER}" always;

${nginxLocation(o)}    # Anything else: not found (or your site's own locations).
    location / {
        return 404;
    }
}
`;
  return { install, notes, body, main };
}

/** The exact-path `location` that proxies the WebSocket (inside the server block). */
function nginxLocation(o: ResolvedProxyConfigOptions): string {
  return `    # Exact match: "location ${o.path}" would also send ${o.path}x, ${o.path}-admin ... to the app.
    location = ${o.path} {
        # No URI part after the address: the path (${o.path}) and query string pass unchanged.
        proxy_pass http://${upstreamAuthority(o.upstream)};
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $wss_mp_connection;
        proxy_set_header Host $host;

        # The client address is the TCP peer, written over whatever the client sent: anyone
        # can send X-Forwarded-For. (Behind another load balancer, use the realip module and
        # trust only that balancer.) The app trusts these headers from this proxy only.
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Forwarded-Host $host;
        # An empty value removes the header: no client-made RFC 7239 Forwarded either.
        proxy_set_header Forwarded "";

        proxy_connect_timeout 5s;
        # Idle timeout of the tunnel (nginx's default, 60 s, cuts quiet sockets). Traffic in
        # either direction resets it; the app pings every ${o.heartbeatInterval} s, so a live socket never
        # reaches it and a dead one is closed by the app's heartbeat first.
        proxy_read_timeout ${o.idleTimeout}s;
        proxy_send_timeout ${o.idleTimeout}s;
    }

`;
}
