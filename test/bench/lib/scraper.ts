// What Prometheus does to a server with metrics on: GET /metrics at a fixed interval, for as long
// as the target runs (warm-ups and windows alike). Runs in the orchestrator, which is otherwise
// idle while a load generator measures: one small HTTP request a second costs it nothing that
// shows, and the server's side of each scrape (collectors, text encoding) is what we measure.
// Every answer is checked, so a scraper that silently got 404s cannot pass for "metrics on".

/** Prometheus's default is 15 s (scrape_interval); 1 s is 15× that, so the scrape's cost shows. */
export const SCRAPE_INTERVAL_MS = 1000;

/** A metric every wss-mp-server scrape has: proves the body is our metrics, not an error page. */
const MUST_HAVE = 'wss_mp_messages_received_total';

export interface ScrapeTotals {
  ok: number;
  failed: number;
  /** First failure, for the results. */
  firstError: string | null;
  /** Bytes of the last good scrape (its size stays bounded whatever the load: fixed label sets). */
  lastBytes: number;
  /** wss_mp_messages_received_total in the last good scrape. */
  lastMessagesIn: number | null;
}

export interface Scraper {
  totals(): ScrapeTotals;
  stop(): Promise<ScrapeTotals>;
}

export function startScraper(adminUrl: string, intervalMs: number): Scraper {
  const t: ScrapeTotals = { ok: 0, failed: 0, firstError: null, lastBytes: 0, lastMessagesIn: null };
  let inFlight: Promise<void> | null = null;
  const scrape = async () => {
    try {
      const r = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
      const body = await r.text();
      if (r.status !== 200 || !body.includes(MUST_HAVE)) throw new Error(`HTTP ${r.status}, ${body.length} bytes${body.includes(MUST_HAVE) ? '' : `, no ${MUST_HAVE}`}`);
      t.ok++;
      t.lastBytes = body.length;
      const m = new RegExp(`^${MUST_HAVE} (\\S+)$`, 'm').exec(body);
      t.lastMessagesIn = m ? Number(m[1]) : null;
    } catch (e) {
      t.failed++;
      t.firstError ??= (e as Error).message;
    }
  };
  // The first right away (so even a short smoke window has one), then one per interval; a tick
  // that finds the previous scrape still running is skipped, not queued.
  const tick = () => {
    if (inFlight) return;
    inFlight = scrape().finally(() => (inFlight = null));
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    totals: () => ({ ...t }),
    stop: async () => {
      clearInterval(timer);
      if (inFlight) await inFlight;
      return { ...t };
    },
  };
}
