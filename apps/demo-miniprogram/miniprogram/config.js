// Where the demo connects. The default is the dev server started by `npm start` at the repo root
// (wss-mp-server --dev-cert --messaging, port 8282, path /wss). DevTools only: with "urlCheck": false
// in project.config.json, or with the dev CA trusted by the machine.
// A real device needs a whitelisted domain with a publicly trusted certificate: see README.md.
// Per run, the page query overrides these (DevTools: 添加编译模式 → 启动参数), e.g.
// `url=wss%3A%2F%2Fexample.com%2Fwss&login=https%3A%2F%2Fexample.com%2Flogin&heartbeat=5000`.
module.exports = {
  url: 'wss://localhost:8282/wss',
  // The server's wechatLogin route (POST {code} → {token}). Empty: connect without a token
  // (a server without `jwt`, like `npm start`). With it, the page logs in with wx.login first.
  login: '',
  // The channel the page subscribes to; the server publishes to it (server.publish('news', …)).
  channel: 'news',
  // Any other createMessagingClient option (see packages/client/README.md). The heartbeat, which
  // also measures the rtt shown on the page, starts after 25 s without inbound traffic by default.
  options: {}
};
