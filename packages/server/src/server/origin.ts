/**
 * The Origin allow-list check for WebSocket upgrades, parsed strictly.
 *
 * With an allow-list set, a browser can only reach the server from a listed page. Browsers
 * send exactly one `scheme://host[:port]`, or `null` for opaque origins (sandboxed iframes,
 * `data:` and `file:` pages: any web page can make one), so anything else is refused: `null`,
 * a path, a list of origins, a duplicated header (Node joins it into a list), userinfo or
 * spaces, whenever the value names an http(s) origin at all. Clients that are not browsers
 * (mini programs, native apps) send no Origin, one with their own scheme, a bare host or a
 * comma-joined list of such, and pass: the allow-list is a defence against browser pages only.
 */
const ORIGIN_SHAPE = /^([a-z][a-z0-9+.-]*):\/\/[^\s/?#,@\\]+$/i;
const WEB_SCHEME = /https?:\/\//i;

/** Normalises an http(s) origin for comparison: lower-case, default port dropped; else null. */
export function normalizeOrigin(origin: string): string | null {
  if (!/^https?:\/\/[^\s,/]+\/?$/i.test(origin)) return null;
  try {
    return new URL(origin).origin.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * Why an upgrade with this Origin header is refused, or undefined when it may proceed.
 * An empty `allowed` set means any origin.
 */
export function originRefusal(header: string | string[] | undefined, allowed: ReadonlySet<string>): string | undefined {
  if (header === undefined || allowed.size === 0) return undefined;
  const value = Array.isArray(header) ? header.join(', ') : header;
  if (value.trim().toLowerCase() === 'null') return 'origin not allowed: opaque origin (null)';
  // A value that names no web origin at all does not come from a browser page: mini programs
  // send none, `weapp://…`, a bare host or even comma-joined values. It passes, as no header does.
  if (!WEB_SCHEME.test(value)) return undefined;
  if (Array.isArray(header) || value.includes(',')) return 'origin not allowed: more than one origin';
  const shape = ORIGIN_SHAPE.exec(value);
  if (!shape) return 'origin not allowed: not a scheme://host[:port] origin';
  const scheme = shape[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return 'origin not allowed: not a scheme://host[:port] origin';
  const n = normalizeOrigin(value);
  if (n === null || !allowed.has(n)) return 'origin not allowed';
  return undefined;
}
