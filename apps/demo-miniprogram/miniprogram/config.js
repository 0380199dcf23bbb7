// Where the demo connects. The default is the dev server started by `npm start` at the repo root
// (wss-mp-server --dev-cert, port 8282, path /wss). DevTools only: with "urlCheck": false in
// project.config.json, or with the dev CA trusted by the machine.
// A real device needs a whitelisted domain with a publicly trusted certificate: see README.md.
// Per run, the page query overrides both (DevTools: 添加编译模式 → 启动参数), e.g.
// `url=wss%3A%2F%2Fexample.com%2Fwss&heartbeat=5000`.
module.exports = {
  url: 'wss://localhost:8282/wss',
  // Any other createClient option (see packages/client/README.md). The heartbeat, which also
  // measures the rtt shown on the page, starts after 25 s without inbound traffic by default.
  options: {}
};
