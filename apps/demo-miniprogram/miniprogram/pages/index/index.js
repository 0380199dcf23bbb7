// The demo page: log in (wx.login → the server's login route → a token), connect with
// wss-mp-client/messaging, subscribe to a channel and list its publications, and a "send tom"
// button whose acknowledged reply is listed; plus the state, the reconnect count and the
// round-trip time. Plain ES2015 so every base library runs it as is.
// `require('wss-mp-client/messaging')` resolves to miniprogram_npm/wss-mp-client/messaging.js,
// produced by DevTools → Tools → Build npm (or `pnpm demo:pack` at the repo root).
const { createMessagingClient } = require('wss-mp-client/messaging');
const config = require('../../config.js');

const MAX_ITEMS = 20;
const STATS_REFRESH_MS = 1000;

function describe(data) {
  return typeof data === 'string' ? data : JSON.stringify(data);
}

/** wx.login, then the server's login route: resolves with a token. */
function login(url) {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (r) => wx.request({
        url: url,
        method: 'POST',
        data: { code: r.code },
        success: (res) => {
          if (res.statusCode === 200 && res.data && res.data.token) resolve(res.data.token);
          else reject(new Error('login: HTTP ' + res.statusCode + ' ' + describe(res.data)));
        },
        fail: (e) => reject(new Error('login: ' + e.errMsg))
      }),
      fail: (e) => reject(new Error('wx.login: ' + e.errMsg))
    });
  });
}

Page({
  data: {
    url: '',
    state: 'idle',
    user: '–',
    lastSend: '',
    replies: [],
    news: [],
    reconnects: 0,
    rtt: '–',
    error: ''
  },

  onLoad(query) {
    query = query || {};
    const url = query.url ? decodeURIComponent(query.url) : config.url;
    const loginUrl = query.login ? decodeURIComponent(query.login) : config.login;
    const channel = query.channel || config.channel;
    const options = Object.assign({}, config.options, { url: url });
    if (query.heartbeat) options.heartbeatInterval = Number(query.heartbeat);
    if (loginUrl) {
      // Called before every attempt; a fresh login only when there is no token yet or the server
      // refused the last one (expired).
      options.token = (info) => (this.token && !info.refused ? this.token : login(loginUrl).then((t) => (this.token = t)));
    }
    this.nextId = 1;
    this.setData({ url: url, channel: channel });
    const mc = createMessagingClient(options);
    this.mc = mc;
    this.unsubscribe = [
      mc.client.on('state', (e) => this.setData({ state: e.to })),
      mc.client.on('open', () => this.setData({ error: '' })),
      mc.client.on('reconnecting', (e) => this.setData({ error: 'reconnecting: attempt ' + e.attempt + ' in ' + e.delay + ' ms' })),
      mc.on('welcome', (e) => this.setData({ user: e.user == null ? 'anonymous' : e.user })),
      mc.on('reply', (e) => this.add('replies', e.error ? e.error.code : describe(e.data))),
      mc.on('resync', () => this.setData({ news: [], error: 'news: some were missed, list restarted' })),
      mc.on('error', (err) => this.setData({ error: (err.code || 'error') + ': ' + err.message }))
    ];
    // Each publication exactly once and in order, also across reconnects and app restarts.
    this.subscription = mc.subscribe(channel, {
      onPublication: (data, pos) => this.add('news', '#' + pos.offset + ' ' + describe(data))
    });
    this.setData({ state: mc.client.state });
    // rtt comes from the heartbeat, which raises no event of its own: refresh the numbers.
    this.statsTimer = setInterval(() => this.refreshStats(), STATS_REFRESH_MS);
  },

  onUnload() {
    clearInterval(this.statsTimer);
    (this.unsubscribe || []).forEach((off) => off());
    if (this.mc) this.mc.destroy();
    this.mc = null;
  },

  refreshStats() {
    if (!this.mc) return;
    const stats = this.mc.client.stats;
    const rtt = stats.rtt == null ? '–' : Math.round(stats.rtt) + ' ms';
    if (stats.reconnects !== this.data.reconnects || rtt !== this.data.rtt) {
      this.setData({ reconnects: stats.reconnects, rtt: rtt });
    }
  },

  add(list, text) {
    const update = {};
    update[list] = [{ id: this.nextId++, text: text }].concat(this.data[list]).slice(0, MAX_ITEMS);
    this.setData(update);
    this.refreshStats();
  },

  sendTom() {
    // Kept (and resent after reconnects) until the server acknowledges it; the ack carries the reply.
    this.setData({ lastSend: 'waiting for the ack' });
    this.mc.request('tom').then(
      (reply) => {
        this.setData({ lastSend: 'acknowledged' });
        this.add('replies', describe(reply));
      },
      (err) => this.setData({ lastSend: err.code === 'ERR_TIMEOUT' ? 'still pending' : err.code })
    );
  },

  reconnectNow() {
    this.mc.client.reconnect();
  }
});
