/**
 * `renderProxyConfig(kind, options)`: the reverse-proxy side of deployment method 1 (TLS in
 * nginx / Apache / Caddy on 443, plain ws to wss-mp-server on 127.0.0.1), safe by default.
 * The CLI (`wss-mp-server proxy-config`) prints `text`. The `wss-mp-server/proxy-config` entry point.
 */
import { renderApache } from './apache';
import { renderCaddy } from './caddy';
import { renderNginx } from './nginx';
import {
  certbotPaths,
  resolveProxyConfigOptions,
  type OptionNaming,
  type ProxyConfigOptions,
  type ProxyKind,
  type ResolvedProxyConfigOptions,
} from './options';
import { OptionError } from '../common/errors';
import { PROXY_KINDS } from './options';
import { header, type RenderedParts } from './shared';

export {
  PROXY_KINDS,
  PROXY_CONFIG_DEFAULTS,
  certbotPaths,
  resolveProxyConfigOptions,
} from './options';
export type { ProxyKind, ProxyConfigOptions, ResolvedProxyConfigOptions, HostPort } from './options';
export { WssMpServerError, OptionError, ERROR_CODES, type WssMpServerErrorCode } from '../common/errors';
export { MOZILLA_INTERMEDIATE_CIPHERS_IANA, PROXY_CURVES, PROXY_CURVES_PQ } from './policy';

export interface ProxyConfig {
  kind: ProxyKind;
  /**
   * The file to install, with a header explaining where and how: an http-context file for
   * nginx (conf.d), a <VirtualHost> for Apache (sites-available), a site block for Caddy.
   */
  text: string;
  /**
   * Directives for the proxy's main (top-level) context, which a site file cannot hold:
   * nginx's `worker_shutdown_timeout`. Quoted in `text`'s header too. '' for Apache and Caddy.
   */
  main: string;
  /** Suggested file name, e.g. `example.com-wss.conf` (Caddy: `example.com-wss.caddy`). */
  fileName: string;
  /** The options after defaults and validation. */
  options: ResolvedProxyConfigOptions;
}

const RENDERERS: Record<ProxyKind, (o: ResolvedProxyConfigOptions) => RenderedParts> = {
  nginx: renderNginx,
  apache: renderApache,
  caddy: renderCaddy,
};

/**
 * Renders the config for `kind`. Throws OptionError (code ERR_INVALID_OPTION) naming the
 * first invalid option; `naming: 'cli'` names it as a flag (`--idle-timeout`).
 */
export function renderProxyConfig(kind: ProxyKind, options: ProxyConfigOptions, naming: OptionNaming = 'api'): ProxyConfig {
  if (!(PROXY_KINDS as readonly string[]).includes(kind)) {
    throw new OptionError(naming === 'api' ? 'kind' : 'proxy', PROXY_KINDS.join(', '), kind);
  }
  let o = resolveProxyConfigOptions(options, naming);
  // nginx and Apache need files; certbot's are the usual ones. Caddy gets its own.
  if (!o.cert && kind !== 'caddy') o = { ...o, ...certbotPaths(o.domain) };
  const parts = RENDERERS[kind](o);
  return {
    kind,
    text: header(kind, o, parts.install, parts.notes) + parts.body,
    main: parts.main,
    fileName: `${o.domain}-wss.${kind === 'caddy' ? 'caddy' : 'conf'}`,
    options: o,
  };
}
