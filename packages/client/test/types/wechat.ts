// A WeChat mini-program TypeScript project using the published types: lib ES2017,
// miniprogram-api-typings, no DOM, skipLibCheck false (see tsconfig.json next to this file).
import { CLIENT_DEFAULTS, createClient, type SocketError, type Client, type Platform, type State } from 'wss-mp-client';

const client: Client = createClient({
  url: async () => ({ url: 'wss://example.com/wss', header: { authorization: 'Bearer t' }, protocols: ['v1'] }),
  heartbeatInterval: CLIENT_DEFAULTS.heartbeatInterval,
  queueOverflow: 'reject',
  shouldReconnect: (code) => code < 4000 || code > 4499,
  pongMessage: '{"type":"pong"}',
  maxMessageSize: 64 * 1024,
});
// WeChat's own connectSocket options, typed, passed through.
createClient({ url: { url: 'wss://example.com/wss', tcpNoDelay: true, perMessageDeflate: true, timeout: 5000, forceCellularNetwork: false } });
const platform: Platform = wx; // the real wx namespace is a Platform
createClient({ url: 'wss://example.com/wss', platform });
const off = client.on('close', ({ code, reason, willReconnect }) => console.log(code.toFixed(), reason.trim(), willReconnect));
client.on('error', (e) => {
  const c: SocketError['code'] = e.code;
  console.log(c);
});
client.on('message', ({ data }) => (typeof data === 'string' ? data.length : data.byteLength));
client.on('state', ({ from, to }) => {
  const s: State = to;
  console.log(from, s);
});
const r: 'sent' | 'queued' | 'dropped' = client.send(new Uint8Array(2));
client.send(new ArrayBuffer(1));
client.reconnect(4100, 'switch');
client.close(1000, 'bye');
const n: number | null = client.stats.rtt;
off();
client.destroy();
export { r, n };
