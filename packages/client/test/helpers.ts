// Shared set-up for unit tests: a client on a FakeWx with a FakeClock, recording every event.
import { createClient } from '../src/index';
import type { Client, ClientEvents } from '../src/client';
import type { ClientOptions } from '../src/options';
import { FakeClock, fixedRandom } from './fake-clock';
import { FakeWx } from './fake-wx';

export type Recorded = { [K in keyof ClientEvents]: ClientEvents[K][] } & { all: string[] };

export const URL = 'wss://example.test/ws';

export function setup(opts: Partial<ClientOptions> = {}, configure?: (wx: FakeWx) => void) {
  const clock = new FakeClock();
  const wx = new FakeWx(clock);
  configure?.(wx);
  const client = createClient({ url: URL, platform: wx, clock, random: fixedRandom(0.5), ...opts });
  const ev = record(client);
  return { clock, wx, client, ev };
}

/** set-up, then run until the first open. */
export async function opened(opts: Partial<ClientOptions> = {}, configure?: (wx: FakeWx) => void) {
  const s = setup(opts, configure);
  await s.clock.until(() => s.client.state === 'open');
  return s;
}

export function record(client: Client): Recorded {
  const r: Recorded = { open: [], message: [], close: [], error: [], state: [], reconnecting: [], all: [] };
  for (const k of ['open', 'message', 'close', 'error', 'state', 'reconnecting'] as const) {
    client.on(k, (e: any) => {
      (r[k] as any[]).push(e);
      r.all.push(
        k === 'state' ? `state:${e.to}` : k === 'close' ? `close:${e.code}${e.willReconnect ? '+' : ''}` : k === 'error' ? `error:${e.code}` : k,
      );
    });
  }
  return r;
}

export const errorCodes = (r: Recorded) => r.error.map((e) => e.code);
