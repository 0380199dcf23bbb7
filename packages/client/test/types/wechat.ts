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

// wss-mp-client/messaging: the same options plus token/storage; typed events and errors.
import { createMessagingClient, MESSAGING_DEFAULTS, type MessagingError, type Position, type Subscription } from 'wss-mp-client/messaging';
const mc = createMessagingClient({
  url: 'wss://example.com/wss',
  token: async ({ refused }) => (refused ? 'fresh' : 'cached'),
  storage: { getItem: (k) => wx.getStorageSync(k) as string, setItem: (k, v) => wx.setStorageSync(k, v), removeItem: (k) => wx.removeStorageSync(k) },
  requestTimeout: MESSAGING_DEFAULTS.requestTimeout,
});
const sub: Subscription = mc.subscribe('news', {
  onPublication: (data, { offset, epoch }: Position) => console.log(data, offset.toFixed(), epoch.trim()),
  onResync: ({ channel, position, previous }) => console.log(channel, position.offset, previous.epoch),
  onError: (e) => console.log(e.remoteCode),
});
mc.request<{ ok: boolean }>({ to: 'tom' }, { timeout: 5000 }).then((r) => r.ok, (e: MessagingError) => e.code === 'ERR_TIMEOUT');
mc.on('reply', ({ id, data, error }) => console.log(id, data, error && error.code));
mc.on('resync', ({ channel }) => channel.length);
mc.on('welcome', ({ cid, user }) => console.log(cid, user));
mc.on('error', (e) => console.log(e.code));
console.log(sub.position && sub.position.offset, mc.pending, mc.client.state);
sub.unsubscribe();
mc.destroy();
