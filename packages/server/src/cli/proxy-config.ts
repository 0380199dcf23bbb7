/**
 * `wss-mp-server proxy-config nginx|apache|caddy --domain NAME [options]`: prints a reverse-proxy
 * config. Exit codes: 0 printed, 2 usage or invalid option (the message names the option).
 */
import { EXIT_USAGE, parseCommandArgs, writeCliError, type CliIo } from './io';
import { WssMpServerError } from '../shared/errors';
import { PROXY_CONFIG_DEFAULTS as D, PROXY_KINDS, type ProxyKind } from '../proxy-config/options';
import { renderProxyConfig } from '../proxy-config/index';

export const USAGE = `Usage: wss-mp-server proxy-config <nginx|apache|caddy> --domain NAME [options]

Prints a reverse-proxy config for deployment method 1: the proxy terminates TLS for
wss://NAME/PATH and forwards plain ws to wss-mp-server --behind-proxy on 127.0.0.1.
TLS 1.2 + 1.3 with Mozilla's intermediate suites, HSTS, exact path, real client IP from the
TCP peer (client-sent X-Forwarded-For / X-Real-IP overwritten), idle timeout above the
heartbeat. The header of the output says where the file goes.

Options:
  --domain NAME              public DNS name the mini program connects to (required)
  --path PATH                exact socket path (default ${D.path})
  --upstream HOST:PORT       where wss-mp-server listens (default ${D.upstream})
  --listen [ADDR:]PORT       TLS listener (default ${D.listen})
  --cert FILE --key FILE     full-chain certificate and key, absolute paths
                             (default: certbot's /etc/letsencrypt/live/NAME/fullchain.pem
                             and privkey.pem; Caddy: it obtains its own)
  --idle-timeout SECONDS     close tunnels silent this long (default ${D.idleTimeout}; >= 3 x heartbeat)
  --heartbeat-interval SEC   the app server's ping interval (default ${D.heartbeatInterval})
  --worker-shutdown-timeout SECONDS
                             nginx: old workers close their sockets this long after a
                             reload (default ${D.workerShutdownTimeout})
  --post-quantum             offer X25519MLKEM768 first (nginx/Apache on OpenSSL >= 3.5)
  -h, --help                 this text

Example:
  wss-mp-server proxy-config nginx --domain example.com > /etc/nginx/conf.d/example.com-wss.conf
`;

export async function main(argv: string[], io: CliIo = process): Promise<number> {
  const fail = (msg: string) => {
    writeCliError(io, 'proxy-config', msg);
    return EXIT_USAGE;
  };
  let parsed;
  try {
    parsed = parseCommandArgs(argv, {
      domain: { type: 'string' },
      path: { type: 'string' },
      upstream: { type: 'string' },
      listen: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'idle-timeout': { type: 'string' },
      'heartbeat-interval': { type: 'string' },
      'worker-shutdown-timeout': { type: 'string' },
      'post-quantum': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    return fail(positionals.length === 0
      ? `which proxy? expected one of ${PROXY_KINDS.join(', ')}`
      : `expected one proxy, got ${positionals.join(' ')}`);
  }
  const kind = positionals[0]!.toLowerCase() as ProxyKind;
  if (!(PROXY_KINDS as readonly string[]).includes(kind)) {
    return fail(`unknown proxy "${positionals[0]}": expected one of ${PROXY_KINDS.join(', ')}`);
  }
  if (v.domain === undefined) return fail('--domain is required (the name the mini program connects to)');
  try {
    const config = renderProxyConfig(kind, {
      domain: v.domain,
      path: v.path,
      upstream: v.upstream,
      listen: v.listen,
      cert: v.cert,
      key: v.key,
      idleTimeout: v['idle-timeout'],
      heartbeatInterval: v['heartbeat-interval'],
      workerShutdownTimeout: v['worker-shutdown-timeout'],
      postQuantum: v['post-quantum'] ?? false,
    }, 'cli');
    io.stdout.write(config.text);
    return 0;
  } catch (err) {
    if (err instanceof WssMpServerError) return fail(err.message);
    throw err;
  }
}
