/**
 * Verdicts on the WebSocket itself: upgrade (status → likely cause, docs/troubleshooting.md#checklist row 5)
 * and echo (round trip with latency).
 */
import { isTerminalCloseCode } from '@wss-mp/protocol';
import type { DoctorCheck } from './types';
import type { EchoResult, UpgradeResult } from './ws-probe';

const NGINX_UPGRADE =
  'nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade (a map with \'\' → close); Apache: ProxyPass … upgrade=websocket';

/** HTTP status of a refused upgrade → [likely cause, fix]. */
export const UPGRADE_HINTS: Record<number, [string, string]> = {
  200: [
    'answered as a normal web request: a proxy is not forwarding the Upgrade/Connection headers, or this URL is a web page, not the socket',
    `forward the upgrade (${NGINX_UPGRADE}) and point the URL at the WebSocket path`,
  ],
  400: [
    'Bad Request: the Upgrade/Connection headers were lost on the way (a proxy without WebSocket support), or plain HTTP reached a TLS port',
    `forward the upgrade (${NGINX_UPGRADE}); proxy_pass to http:// for a plain-ws backend`,
  ],
  401: ['Unauthorized: the server wants credentials for this URL', 'add the token the server expects (doctor never prints query values)'],
  403: [
    'Forbidden: an auth, Origin or IP check refused the upgrade',
    'check the server\'s auth and Origin rules; mini programs send no usable Origin header, so let an absent one through',
  ],
  404: [
    'Not Found: nothing serves WebSockets on this exact path',
    'use the path the server listens on (wss-mp-server serves --path, default /wss), and match it in the proxy (nginx location = /wss)',
  ],
  405: ['Method Not Allowed: the route exists but not for a GET upgrade', 'route this path to the WebSocket server'],
  426: [
    'Upgrade Required: a WebSocket server answered, but the Upgrade header did not reach it (a proxy dropped it)',
    `forward the upgrade (${NGINX_UPGRADE})`,
  ],
  502: [
    'Bad Gateway: the proxy is up but the backend is down or unreachable',
    'start the backend and check the proxy\'s upstream address/port (e.g. proxy_pass http://127.0.0.1:8282); see the proxy error log',
  ],
  503: ['Service Unavailable: the backend is overloaded, in maintenance, or has no healthy upstream', 'check the backend and the proxy\'s upstream health'],
  504: [
    'Gateway Timeout: the backend accepted but did not answer the upgrade in time',
    'check that the backend speaks WebSocket on that port and is not blocked; see the proxy error log',
  ],
};

const REDIRECT = new Set([301, 302, 303, 307, 308]);

export function checkUpgrade(r: UpgradeResult, path: string): DoctorCheck {
  if (r.ok) {
    return {
      id: 'upgrade',
      status: 'PASS',
      summary: `101 Switching Protocols on ${path} in ${r.ms} ms${r.server ? ` (server: ${r.server})` : ''}`,
      data: { status: 101, ms: r.ms, server: r.server },
    };
  }
  const data = { status: r.status, server: r.server, body: r.body, errorCode: r.errorCode };
  if (r.status !== undefined) {
    const line = `HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ''} on ${path}${r.server ? ` (server: ${r.server})` : ''}`;
    const body = r.body ? ` — "${r.body.slice(0, 120)}"` : '';
    if (REDIRECT.has(r.status)) {
      return {
        id: 'upgrade',
        status: 'FAIL',
        summary: `${line}: redirect to ${r.location ?? '(no Location)'}; sockets do not follow redirects`,
        fix: 'use the final URL directly (often http→https or a missing/extra trailing slash)',
        data: { ...data, location: r.location },
      };
    }
    const hint = UPGRADE_HINTS[r.status] ?? (r.status >= 500
      ? ['server error while upgrading', 'see the server / proxy error log']
      : ['the upgrade was refused', 'check the path and the proxy\'s WebSocket forwarding']);
    return { id: 'upgrade', status: 'FAIL', summary: `${line}: ${hint[0]}${body}`, fix: hint[1], data };
  }
  const code = r.errorCode ?? 'ERROR';
  let fix = 'check the server and proxy logs';
  if (code === 'ETIMEDOUT') fix = 'the server accepted TCP/TLS but never answered the upgrade: is a WebSocket server behind this port?';
  else if (code === 'ECONNRESET') fix = 'the server closed the connection on the upgrade request: check the proxy/backend logs (double TLS? a TLS backend behind proxy_pass http://?)';
  else if (code === 'BAD_ACCEPT') fix = 'the answer was 101 but with a wrong Sec-WebSocket-Accept: a proxy or middleware rewrote the handshake';
  return { id: 'upgrade', status: 'FAIL', summary: `no upgrade (${code}: ${r.errorMessage})`, fix, data };
}

export function checkEcho(e: EchoResult, payload: string, timeoutMs: number): DoctorCheck {
  const cut = payload.length > 40 ? payload.slice(0, 40) + '…' : payload;
  // JSON frames read best as they are; other text is quoted so spaces stay visible.
  const shown = /^[[{]/.test(cut) && !/[\u0000-\u001f]/.test(cut) ? cut : JSON.stringify(cut);
  switch (e.outcome) {
    case 'echo':
      return { id: 'echo', status: 'PASS', summary: `sent ${shown}, got it back in ${e.ms} ms`, data: { ms: e.ms, reply: 'echo' } };
    case 'pong':
      return { id: 'echo', status: 'PASS', summary: `sent ${shown}, got {"type":"pong"} in ${e.ms} ms`, data: { ms: e.ms, reply: 'pong' } };
    case 'other':
      return {
        id: 'echo',
        status: 'WARN',
        summary: `sent ${shown}; within ${timeoutMs} ms only other messages came (first: ${JSON.stringify(e.other)}): the socket works, the echo was not answered`,
        fix: 'fine if the server does not echo; pass --echo with a message it answers to measure the round trip',
        data: { reply: 'other', first: e.other },
      };
    case 'silent':
      return {
        id: 'echo',
        status: 'WARN',
        summary: `sent ${shown}, no reply within ${timeoutMs} ms`,
        fix: 'fine if the server does not answer this message; otherwise pass --echo with one it answers (wss-mp-server answers {"type":"ping"})',
        data: { reply: null },
      };
    case 'closed': {
      const code = e.closeCode ?? 1005;
      const reason = e.closeReason ? ` "${e.closeReason}"` : '';
      if (isTerminalCloseCode(code) || code === 1008) {
        return {
          id: 'echo',
          status: 'WARN',
          summary: `the server closed the socket after the upgrade with ${code}${reason} (auth / policy)`,
          fix: 'the endpoint works but refused this client: add the token the server expects to the URL',
          data: { closeCode: code },
        };
      }
      return {
        id: 'echo',
        status: 'FAIL',
        summary: `the socket closed right after the upgrade with ${code}${reason} before any reply`,
        fix: code === 1006
          ? 'dropped without a close frame: check the backend logs, and that the proxy does not cut the tunnel (proxy_read_timeout)'
          : 'check the server logs for why it closes new sockets',
        data: { closeCode: code },
      };
    }
    default:
      return { id: 'echo', status: 'FAIL', summary: `socket error after the upgrade: ${e.errorMessage}`, fix: 'check the server logs' };
  }
}
