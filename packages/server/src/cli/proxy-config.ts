/**
 * `wss-mp-server proxy-config nginx|apache|caddy --domain NAME [flags]`: prints a reverse-proxy
 * config. Exit codes: 0 printed, 2 usage or invalid option (the message names the option).
 */
import { EXIT_USAGE, writeCliError, type CliIo } from './io';
import { WssMpServerError } from '../common/errors';
import { formatDuration } from '../common/units';
import { PROXY_CONFIG_DEFAULTS as D, PROXY_KINDS, type ProxyKind } from '../proxy-config/options';
import { renderProxyConfig } from '../proxy-config/index';
import { helpText, parseFlags, type Command } from './flags';

const secs = (n: number) => formatDuration(n * 1000);

export const PROXY_CONFIG: Command = {
  invocation: 'wss-mp-server proxy-config',
  summary: 'print a reverse-proxy config (nginx, Apache, Caddy) for wss-mp-server --behind-proxy',
  usage: ['wss-mp-server proxy-config <nginx|apache|caddy> --domain NAME [flags]'],
  about: [
    'Prints a reverse-proxy config for deployment method 1: the proxy terminates TLS for',
    'wss://NAME/PATH and forwards plain ws to wss-mp-server --behind-proxy on 127.0.0.1.',
    'TLS 1.2 + 1.3 with Mozilla\'s intermediate suites, HSTS, exact path, real client IP from the',
    'TCP peer (client-sent X-Forwarded-For / X-Real-IP overwritten), idle timeout above the',
    'heartbeat. The header of the output says where the file goes.',
  ],
  flags: [
    { name: 'domain', kind: 'text', arg: 'NAME', default: 'required', help: 'public DNS name the mini program connects to' },
    { name: 'path', kind: 'text', arg: 'PATH', default: D.path, help: 'exact socket path' },
    { name: 'upstream', kind: 'text', arg: 'HOST:PORT', default: D.upstream, help: 'where wss-mp-server listens' },
    { name: 'listen', kind: 'text', arg: '[ADDR:]PORT', default: D.listen, help: 'TLS listener' },
    { name: 'cert', kind: 'text', arg: 'FILE', default: 'certbot\'s fullchain.pem', help: 'full-chain certificate, absolute path, with --key (Caddy: it obtains its own)' },
    { name: 'key', kind: 'text', arg: 'FILE', default: 'certbot\'s privkey.pem', help: 'private key for --cert, absolute path' },
    { name: 'idle-timeout', kind: 'duration', arg: 'DURATION', default: secs(D.idleTimeout), help: 'close tunnels silent this long; at least 3 x --heartbeat-interval' },
    { name: 'heartbeat-interval', kind: 'duration', arg: 'DURATION', default: secs(D.heartbeatInterval), help: 'the app server\'s ping interval' },
    { name: 'worker-shutdown-timeout', kind: 'duration', arg: 'DURATION', default: secs(D.workerShutdownTimeout), help: 'nginx: old workers close their sockets this long after a reload' },
    { name: 'post-quantum', kind: 'switch', default: 'off', help: 'offer X25519MLKEM768 first (nginx/Apache on OpenSSL >= 3.5)' },
    { name: 'help', kind: 'switch', short: 'h', default: '-', help: 'this text' },
  ],
  footer: [
    'Example:',
    '  wss-mp-server proxy-config nginx --domain example.com > /etc/nginx/conf.d/example.com-wss.conf',
  ],
};

export const USAGE = helpText(PROXY_CONFIG);

/** Milliseconds from the flag table, as the seconds the API takes (fractions fail its check). */
const seconds = (ms: unknown) => (ms === undefined ? undefined : (ms as number) / 1000);

export async function main(argv: string[], io: CliIo = process): Promise<number> {
  const fail = (msg: string) => {
    writeCliError(io, 'proxy-config', msg);
    return EXIT_USAGE;
  };
  try {
    const { values: v, positionals } = parseFlags(PROXY_CONFIG, argv, true);
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
    const text = (k: string) => v[k] as string | undefined;
    const config = renderProxyConfig(kind, {
      domain: text('domain')!,
      path: text('path'),
      upstream: text('upstream'),
      listen: text('listen'),
      cert: text('cert'),
      key: text('key'),
      idleTimeout: seconds(v['idle-timeout']),
      heartbeatInterval: seconds(v['heartbeat-interval']),
      workerShutdownTimeout: seconds(v['worker-shutdown-timeout']),
      postQuantum: (v['post-quantum'] as boolean | undefined) ?? false,
    }, 'cli');
    io.stdout.write(config.text);
    return 0;
  } catch (err) {
    if (err instanceof WssMpServerError) return fail(err.message);
    throw err;
  }
}
