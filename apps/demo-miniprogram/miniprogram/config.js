// Where the demo connects. The default is the dev server started by `npm start` at the repo root
// (wss-mp-server --dev-cert, port 8282, path /wss). DevTools only: with "urlCheck": false in
// project.config.json, or with the dev CA trusted by the machine.
// A real device needs a whitelisted domain with a publicly trusted certificate: see README.md.
// You can also override it per run with the page query `url` (DevTools: 添加编译模式 → 启动参数
// `url=wss%3A%2F%2Fexample.com%2Fwss`).
module.exports = {
  url: 'wss://localhost:8282/wss'
};
