// The demo page: one wss-mp-client connection, a "send tom" button, the replies, the state,
// the reconnect count and the round-trip time. Plain ES2015 so every base library runs it as is.
// `require('wss-mp-client')` resolves to miniprogram_npm/wss-mp-client/index.js, produced by
// DevTools → Tools → Build npm (or `pnpm demo:pack` at the repo root).
const { createClient } = require('wss-mp-client');
const config = require('../../config.js');

const MAX_REPLIES = 20;
const STATS_REFRESH_MS = 1000;

function describe(data) {
  if (typeof data === 'string') return data;
  if (data && typeof data.byteLength === 'number') return '[binary, ' + data.byteLength + ' bytes]';
  return String(data);
}

Page({
  data: {
    url: '',
    state: 'idle',
    lastSend: '',
    replies: [],
    reconnects: 0,
    rtt: '–',
    error: ''
  },

  onLoad(query) {
    query = query || {};
    const url = query.url ? decodeURIComponent(query.url) : config.url;
    const options = Object.assign({}, config.options, { url: url });
    if (query.heartbeat) options.heartbeatInterval = Number(query.heartbeat);
    this.nextReplyId = 1;
    this.setData({ url: url });
    const client = createClient(options);
    this.client = client;
    this.unsubscribe = [
      client.on('state', (e) => this.setData({ state: e.to })),
      client.on('message', (e) => this.addReply(describe(e.data))),
      client.on('open', () => this.setData({ error: '' })),
      client.on('reconnecting', (e) => this.setData({ error: 'reconnecting: attempt ' + e.attempt + ' in ' + e.delay + ' ms' })),
      client.on('error', (err) => this.setData({ error: (err.code || 'error') + ': ' + err.message }))
    ];
    this.setData({ state: client.state });
    // rtt comes from the heartbeat, which raises no event of its own: refresh the numbers.
    this.statsTimer = setInterval(() => this.refreshStats(), STATS_REFRESH_MS);
  },

  onUnload() {
    clearInterval(this.statsTimer);
    (this.unsubscribe || []).forEach((off) => off());
    if (this.client) this.client.destroy();
    this.client = null;
  },

  refreshStats() {
    if (!this.client) return;
    const stats = this.client.stats;
    const rtt = stats.rtt == null ? '–' : Math.round(stats.rtt) + ' ms';
    if (stats.reconnects !== this.data.reconnects || rtt !== this.data.rtt) {
      this.setData({ reconnects: stats.reconnects, rtt: rtt });
    }
  },

  addReply(text) {
    const replies = [{ id: this.nextReplyId++, text: text }].concat(this.data.replies).slice(0, MAX_REPLIES);
    this.setData({ replies: replies });
    this.refreshStats();
  },

  sendTom() {
    // 'sent' when open; 'queued' while (re)connecting, delivered on open; 'dropped' if the queue is full.
    this.setData({ lastSend: this.client.send('tom') });
  },

  reconnectNow() {
    this.client.reconnect();
  }
});
