// The closed loop the developer benches share: keep `window` messages in flight on an open
// socket for `seconds` (each answer sends the next), then report answers per second and this
// process's CPU per answer (client and server share the process in these benches).
import type WebSocket from 'ws';

export interface InFlightRun {
  rate: number;
  /** Answers received while the loop ran. */
  received: number;
  /** Process CPU µs per answer: steadier than the rate on a busy machine. */
  cpuPerOp: number;
}

/** `send` sends one message; `counts` says whether a frame is an answer (default: every frame). */
export async function keepInFlight(ws: WebSocket, send: () => void, seconds: number, window: number,
  counts: (data: WebSocket.RawData) => boolean = () => true): Promise<InFlightRun> {
  let received = 0;
  let running = true;
  ws.on('message', (d) => {
    if (!counts(d)) return;
    received++;
    if (running) send();
  });
  for (let i = 0; i < window; i++) send();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const cpu = process.cpuUsage(c0);
  const rate = received / ((performance.now() - t0) / 1000);
  ws.terminate();
  return { rate, received, cpuPerOp: (cpu.user + cpu.system) / received };
}
