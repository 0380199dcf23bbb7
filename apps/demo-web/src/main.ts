// The Workerman FAQ's browser test ("on open send tom, show every message") as a page, on
// wss-mp-client/web: reconnects, heartbeat and RTT come from the SDK. Default server: the
// host that served this page (wss-mp-server --static), path /wss; override with ?url=wss://….
// ?heartbeat=MS shortens the heartbeat (default: after 25 s of silence), which also measures rtt.
import { createClient } from 'wss-mp-client/web';

const MAX_REPLIES = 20;
const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;

const params = new URLSearchParams(location.search);

function defaultUrl(): string {
  const override = params.get('url');
  if (override) return override;
  if (!location.host) return 'wss://localhost:8282/wss'; // opened from disk
  return `${location.protocol === 'http:' ? 'ws' : 'wss'}://${location.host}/wss`;
}

function describe(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return `[binary, ${data.byteLength} bytes]`;
  return String(data);
}

const url = defaultUrl();
$('.url').textContent = url;
const heartbeat = Number(params.get('heartbeat'));
const client = createClient(heartbeat > 0 ? { url, heartbeatInterval: heartbeat } : { url });

const setState = (state: string) => {
  const el = $('.state');
  el.textContent = state;
  el.className = `state state-${state}`;
};
const refreshStats = () => {
  const { reconnects, rtt } = client.stats;
  $('.reconnects').textContent = String(reconnects);
  $('.rtt').textContent = rtt == null ? '–' : `${Math.round(rtt)} ms`;
};

client.on('state', (e) => setState(e.to));
const showError = (text: string | null) => {
  const el = $('.error');
  el.textContent = text ?? '–';
  el.classList.toggle('bad', text !== null);
};
client.on('open', () => showError(null));
client.on('message', (e) => {
  const list = $('.replies');
  list.querySelector('.empty')?.remove();
  const li = document.createElement('li');
  li.className = 'reply';
  li.textContent = describe(e.data);
  list.prepend(li);
  while (list.children.length > MAX_REPLIES) list.lastElementChild!.remove();
  refreshStats();
});
client.on('reconnecting', (e) => showError(`reconnecting: attempt ${e.attempt} in ${e.delay} ms`));
client.on('error', (err) => showError(`${err.code ?? 'error'}: ${err.message}`));

$('.send').addEventListener('click', () => {
  // 'sent' when open; 'queued' while (re)connecting, delivered on open; 'dropped' if the queue is full.
  $('.last-send').textContent = client.send('tom');
});
$('.reconnect').addEventListener('click', () => client.reconnect());

setState(client.state);
// rtt comes from the heartbeat, which raises no event of its own: refresh the numbers.
setInterval(refreshStats, 1000);
