// The browser demo (apps/demo-web) in Debian's headless Chromium, driven by playwright-core,
// against wss-mp-server --dev-cert --static apps/demo-web/dist (what `npm start` runs), with the
// dev CA really trusted (NSS database; see support/chromium.ts). Also runs the Workerman FAQ's
// console test as written. Screenshot: test-results/demo-web.png.
// Needs the built server and demo-web (`pnpm -r build`; `npm test` does it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './support/server';
import { requireBinary } from './support/binaries';
import { startDevServer } from './support/dev-server';
import { launchTrustingChromium } from './support/chromium';
import { waitFor } from './support/wait';

const DEMO_WEB_DIST = path.join(ROOT, 'apps/demo-web/dist');
const SCREENSHOT = path.join(ROOT, 'test-results/demo-web.png');

// The FAQ's browser-console test, verbatim (seed/workerman-faq-wss.pt.txt, method 1) but for
// the host name: the dev server listens on a random port instead of behind a proxy on 443.
const faqSnippet = (url: string) => `
ws = new WebSocket("${url}");

ws.onopen = function() {
    alert("Conexão bem-sucedida");
    ws.send('tom');
    alert("Enviando uma string para o servidor: tom");
};
ws.onmessage = function(e) {
    alert("Mensagem recebida do servidor: " + e.data);
};
`;

test('demo-web in Chromium: send tom, see tom; and the FAQ console snippet', async (t) => {
  const executablePath = requireBinary(t, 'chromium');
  if (!executablePath) return;
  assert.ok(existsSync(path.join(DEMO_WEB_DIST, 'index.html')), `${DEMO_WEB_DIST} is missing: pnpm -r build`);

  const dev = await startDevServer(['--static', DEMO_WEB_DIST]);
  t.after(() => dev.stop());
  const started = Date.now();
  const chrome = await launchTrustingChromium({ executablePath, caCert: dev.ca, leafCert: dev.cert });
  t.after(() => chrome.close());
  console.log(`# chromium: launched in ${Date.now() - started} ms, ${chrome.trust === 'nss' ? 'dev CA trusted (NSS db)' : 'server key pinned (SPKI list)'}`);

  const page = await chrome.browser.newPage({ viewport: { width: 480, height: 720 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const origin = `https://localhost:${dev.server.port}`;

  // 1. The demo page, over https with the dev certificate; its default URL is wss://<host>/wss.
  //    A short heartbeat makes the rtt (measured by the SDK's ping/pong) show up quickly.
  const response = await page.goto(`${origin}/?heartbeat=300`);
  assert.equal(response?.status(), 200);
  assert.equal(await page.textContent('.url'), `wss://localhost:${dev.server.port}/wss`);
  await page.waitForFunction(() => document.querySelector('.state')?.textContent === 'open', null, { timeout: 10_000 });
  assert.equal(await page.locator('.reply').count(), 0);
  await page.click('.send');
  await page.waitForFunction(() => document.querySelector('.reply')?.textContent === 'tom', null, { timeout: 10_000 });
  assert.equal(await page.textContent('.last-send'), 'sent');
  assert.equal(await page.textContent('.reconnects'), '0');
  await page.waitForFunction(() => /^\d+ ms$/.test(document.querySelector('.rtt')?.textContent ?? ''), null, { timeout: 10_000 });
  console.log(`# chromium: launch → page → open → click → "tom" in ${Date.now() - started} ms`);
  // "reconnect" drops the link and opens a new one: the counter shows it, and tom still echoes.
  await page.click('.reconnect');
  await page.waitForFunction(() => document.querySelector('.reconnects')?.textContent === '1', null, { timeout: 10_000 });
  await page.waitForFunction(() => document.querySelector('.state')?.textContent === 'open', null, { timeout: 10_000 });
  await page.click('.send');
  await page.waitForFunction(() => document.querySelectorAll('.reply').length === 2, null, { timeout: 10_000 });
  assert.deepEqual(await page.locator('.reply').allTextContents(), ['tom', 'tom']);
  mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // 2. The FAQ's console test, as written, on a fresh page of the same origin (a console runs
  //    in some page; mixed-content rules need an https one). Its alerts are the output.
  const consolePage = await chrome.browser.newPage();
  const alerts: string[] = [];
  consolePage.on('dialog', (d) => {
    alerts.push(d.message());
    void d.accept();
  });
  await consolePage.goto(`${origin}/`);
  await consolePage.evaluate(faqSnippet(`wss://localhost:${dev.server.port}/wss`));
  await waitFor(() => alerts.length >= 3, { timeout: 10_000, what: 'the FAQ snippet\'s three alerts' });
  assert.deepEqual(alerts.slice(0, 3), [
    'Conexão bem-sucedida',
    'Enviando uma string para o servidor: tom',
    'Mensagem recebida do servidor: tom',
  ]);
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the demo page');
});
