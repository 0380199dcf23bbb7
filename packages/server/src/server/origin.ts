/**
 * The Origin allow-list check for WebSocket upgrades, parsed strictly.
 *
 * With an allow-list set, a browser can only reach the server from a listed page. Browsers
 * send exactly one `scheme://host[:port]`, or `null` for opaque origins (sandboxed iframes,
 * `data:` and `file:` pages: any web page can make one), so anything else is refused: `null`,
 * a path, a list of origins, a duplicated header (Node joins it into a list), userinfo or
 * spaces. Clients that are not browsers (mini programs, native apps) send no Origin, or one
 * with their own scheme, and pass.
 */
const ORIGIN_SHAPE = /^([a-z][a-z0-9+.-]*):\/\/[^\s/?#,@\\]+$/i;

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
  if (Array.isArray(header) || header.includes(',')) return 'origin not allowed: more than one origin';
  if (header.trim().toLowerCase() === 'null') return 'origin not allowed: opaque origin (null)';
  const shape = ORIGIN_SHAPE.exec(header);
  if (!shape) return 'origin not allowed: not a scheme://host[:port] origin';
  const scheme = shape[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return undefined; // not a web page: mini program, app
  const n = normalizeOrigin(header);
  if (n === null || !allowed.has(n)) return 'origin not allowed';
  return undefined;
}
