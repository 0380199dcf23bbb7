// The admin listener as tests reach it: its Prometheus /metrics, parsed, and its JSON API.
import assert from 'node:assert/strict';

/** Parses Prometheus text: `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** GET `${admin}/metrics`, asserted 200, parsed; `check` adds a test file's own assertions on the response and its text. */
export async function scrapeMetrics(admin: string, check?: (r: Response, text: string) => void): Promise<Map<string, number>> {
  const r = await fetch(`${admin}/metrics`);
  assert.equal(r.status, 200);
  const text = await r.text();
  check?.(r, text);
  return parseMetrics(text);
}

/** An admin API call: GET, or POST with a JSON `body`; `key` (null: none) as the bearer token. */
export function adminFetch(admin: string, path: string, body?: unknown, key: string | null = null): Promise<Response> {
  return fetch(`${admin}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
