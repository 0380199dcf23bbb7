/**
 * A small static file handler for plain GET/HEAD requests (the browser demo page). Paths are
 * decoded once, must stay inside the root after resolving `..` and symlinks, and dotfiles are
 * not served. Only what a demo page needs; put a real web server in front for anything more.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
  '.pem': 'application/x-pem-file',
};

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * Resolves a URL path to a file inside `root` (a realpath), or null when it must not be
 * served: bad encoding, NUL, dotfile segment, or outside the root.
 */
export async function resolveStaticPath(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/');
  if (segments.some((s) => s.startsWith('.') && s !== '')) return null; // dotfiles, `..`
  let file = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  try {
    let st = await fsp.stat(file);
    if (st.isDirectory()) {
      file = path.join(file, 'index.html');
      st = await fsp.stat(file);
    }
    if (!st.isFile()) return null;
    const real = await fsp.realpath(file);
    if (!real.startsWith(root + path.sep)) return null; // a symlink out of the root
    return real;
  } catch {
    return null;
  }
}

/**
 * HSTS only for real domain names. Browsers key HSTS on the host alone, not the port: sent for
 * `localhost` it would force https on every http://localhost:* project for two years once
 * the development CA is trusted. IP literals are ignored by browsers anyway (RFC 6797 §8.1).
 */
export function hstsApplies(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const host = hostHeader.startsWith('[') ? hostHeader.slice(1, hostHeader.indexOf(']')) : hostHeader.replace(/:\d*$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === '' || h === 'localhost' || h.endsWith('.localhost') || isIP(h) !== 0) return false;
  return true;
}

export function createStaticHandler(dir: string, { hsts }: { hsts?: string } = {}) {
  let rootPromise: Promise<string> | undefined;
  const root = () => (rootPromise ??= fsp.realpath(path.resolve(dir)));
  return async function serveStatic(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const security: Record<string, string> = { 'X-Content-Type-Options': 'nosniff' };
    if (hsts && hstsApplies(req.headers.host)) security['Strict-Transport-Security'] = hsts;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return text(res, 405, 'Method Not Allowed\n', { Allow: 'GET, HEAD', ...security });
    }
    const urlPath = (req.url ?? '/').split(/[?#]/, 1)[0]!;
    let file: string | null = null;
    try {
      file = await resolveStaticPath(await root(), urlPath);
    } catch {
      file = null;
    }
    if (!file) return text(res, 404, 'Not Found\n', security);
    const st = await fsp.stat(file);
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': st.size,
      'Cache-Control': 'no-cache',
      'Last-Modified': st.mtime.toUTCString(),
      ...security,
    });
    if (req.method === 'HEAD') return void res.end();
    // A pipelined request's response waits its turn without a socket: open the file only
    // when it is this response's turn, or 10,000 pipelined GETs hold 10,000 descriptors.
    if (res.socket) sendFile(file, res);
    else res.once('socket', () => sendFile(file, res));
  };
}

/**
 * Streams `file` into `res`. pipeline() (not pipe()) destroys the file stream when the
 * response closes early: an aborted download otherwise keeps its descriptor open for good.
 */
function sendFile(file: string, res: ServerResponse): void {
  if (res.destroyed) return;
  pipeline(createReadStream(file), res, ignore);
}

function ignore(): void {
  /* the response is destroyed either way; an aborted download is not an error */
}
