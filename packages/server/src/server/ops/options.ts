/**
 * Options of the admin listener (`admin`, `adminKey`). Defaults live in OPS_DEFAULTS, which a
 * test compares with the README's admin table.
 */
import { OptionError } from '../../common/errors';

export const OPS_DEFAULTS = Object.freeze({
  /** Interface of the admin listener when `admin` names only a port: loopback, never the world by default. */
  adminHost: '127.0.0.1',
  /** Largest admin API request body, bytes. */
  adminMaxBody: 1024 * 1024,
  /** Shortest accepted admin key, characters (a key is a password nobody types: make it long). */
  adminKeyMinLength: 16,
});

export interface AdminOptions {
  host: string;
  port: number;
  /** The API key; undefined: API only on a loopback bind. */
  key: Buffer | undefined;
  maxBody: number;
}

/** `admin`: "HOST:PORT", "[v6]:PORT", a port number, or { host?, port }. */
export function resolveAdmin(admin: unknown, adminKey: unknown): AdminOptions | undefined {
  if (adminKey !== undefined && (typeof adminKey !== 'string' || adminKey.length < OPS_DEFAULTS.adminKeyMinLength)) {
    throw new OptionError('adminKey', `a string of at least ${OPS_DEFAULTS.adminKeyMinLength} characters`,
      typeof adminKey === 'string' ? `${adminKey.length} characters` : adminKey);
  }
  if (admin === undefined || admin === false) {
    if (adminKey !== undefined) throw new OptionError('adminKey', 'admin as well (the key protects the admin listener)', 'no admin');
    return undefined;
  }
  const accepted = 'a port, "HOST:PORT" (e.g. "127.0.0.1:9464") or { host, port }';
  let host: string = OPS_DEFAULTS.adminHost;
  let port: unknown = admin;
  if (typeof admin === 'string') {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d+)$/.exec(admin) ?? /^()()(\d+)$/.exec(admin);
    if (!m) throw new OptionError('admin', accepted, admin);
    host = m[1] || m[2] || host;
    port = Number(m[3]);
  } else if (admin !== null && typeof admin === 'object') {
    const o = admin as { host?: unknown; port?: unknown };
    if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) throw new OptionError('admin.host', 'a host name or IP address', o.host);
    host = (o.host as string | undefined) ?? host;
    port = o.port;
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) throw new OptionError('admin', accepted, admin);
  return { host, port, key: adminKey === undefined ? undefined : Buffer.from(adminKey as string), maxBody: OPS_DEFAULTS.adminMaxBody };
}

/** Loopback binds may serve the API without a key: only processes on this machine reach them. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
