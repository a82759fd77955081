// wsgate's noVNC page (served as /vnc.html by --novnc). The @novnc/novnc
// package on npm holds only noVNC's library (core/, vendor/), not its
// application; this page is a small client on that library that reads
// noVNC's own URL parameters, so links written for noVNC's vnc.html work:
//   host, port (default: this page's), path (default "websockify", may carry
//   a query such as "websockify?token=X"), encrypt, password, autoconnect,
//   view_only, resize (off|scale|remote), shared, reconnect, reconnect_delay,
//   quality, compression, show_dot, logging.
// Parameters after "#" win over those after "?", and never reach the server.
// It is kept as a string so that it ships inside dist/ with the code.

export const NOVNC_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>noVNC</title>
<style>
  html, body { margin: 0; height: 100%; background: #282828; color: #eee; font: 14px system-ui, sans-serif; }
  body { display: flex; flex-direction: column; }
  #bar { display: flex; gap: 8px; align-items: center; padding: 6px 10px; background: #3c3c3c; }
  #status { flex: 1; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  body[data-state="connected"] #status::before { content: "\\25CF  "; color: #6c6; }
  body[data-state="failed"] #status { color: #f88; }
  #screen { flex: 1; min-height: 0; }
  button, input { font: inherit; }
  [hidden] { display: none !important; }
</style>
</head>
<body data-state="disconnected">
<div id="bar">
  <span id="status">Disconnected</span>
  <form id="credentials" hidden>
    <input id="username" placeholder="user" autocomplete="username" hidden>
    <input id="password" type="password" placeholder="password" autocomplete="current-password">
    <button type="submit">Send</button>
  </form>
  <button id="connect" type="button">Connect</button>
  <button id="cad" type="button" hidden>Ctrl+Alt+Del</button>
  <button id="disconnect" type="button" hidden>Disconnect</button>
</div>
<div id="screen"></div>
<script type="module">
import RFB from './core/rfb.js';
import * as Log from './core/util/logging.js';

const query = new URLSearchParams(location.search);
const hash = new URLSearchParams(location.hash.slice(1));
const param = (name, fallback) => hash.get(name) ?? query.get(name) ?? fallback;
const flag = (name, fallback) => { const v = param(name, null); return v === null ? fallback : v === 'true' || v === '1'; };
const $ = (id) => document.getElementById(id);

Log.initLogging(param('logging', 'warn'));
let rfb = null;
let wanted = false; // the user wants a session: reconnect after a drop if asked to
let reconnectTimer = null;

function show(state, text) {
  document.body.dataset.state = state;
  $('status').textContent = text;
  const live = state === 'connected' || state === 'connecting' || state === 'credentials';
  $('connect').hidden = live;
  $('disconnect').hidden = !live;
  $('cad').hidden = state !== 'connected' || flag('view_only', false);
  $('credentials').hidden = state !== 'credentials';
}

function websocketUrl() {
  const scheme = flag('encrypt', location.protocol === 'https:') ? 'wss' : 'ws';
  const port = param('port', location.port);
  return scheme + '://' + param('host', location.hostname) + (port ? ':' + port : '') + '/' + param('path', 'websockify');
}

function connect() {
  clearTimeout(reconnectTimer);
  if (rfb) return;
  wanted = true;
  const url = websocketUrl();
  const password = param('password', null);
  show('connecting', 'Connecting...');
  rfb = new RFB($('screen'), url, {
    shared: flag('shared', true),
    credentials: password === null ? undefined : { password },
    repeaterID: param('repeaterID', ''),
  });
  window.rfb = rfb; // for scripts and tests driving the page
  const resize = param('resize', 'off');
  rfb.viewOnly = flag('view_only', false);
  rfb.scaleViewport = resize === 'scale';
  rfb.resizeSession = resize === 'remote';
  rfb.showDotCursor = flag('show_dot', false);
  rfb.qualityLevel = Number(param('quality', 6));
  rfb.compressionLevel = Number(param('compression', 2));
  let name = '';
  const connected = () => show('connected', 'Connected (' + (url.startsWith('wss:') ? 'encrypted' : 'unencrypted') + ') to ' + (name || param('host', location.hostname)));
  rfb.addEventListener('connect', connected);
  rfb.addEventListener('desktopname', (e) => {
    name = e.detail.name;
    document.title = name + ' - noVNC';
    if (document.body.dataset.state === 'connected') connected();
  });
  rfb.addEventListener('credentialsrequired', (e) => {
    $('username').hidden = !e.detail.types.includes('username');
    show('credentials', 'Credentials are required');
    ($('username').hidden ? $('password') : $('username')).focus();
  });
  rfb.addEventListener('securityfailure', (e) => { wanted = false; show('failed', 'Authentication failed' + (e.detail.reason ? ': ' + e.detail.reason : '')); });
  rfb.addEventListener('disconnect', (e) => {
    rfb = null;
    if (document.body.dataset.state === 'failed') return;
    if (wanted && flag('reconnect', false)) {
      show('connecting', 'Reconnecting...');
      reconnectTimer = setTimeout(connect, Number(param('reconnect_delay', 5000)));
    } else if (e.detail.clean) show('disconnected', 'Disconnected');
    else show('failed', 'Something went wrong, connection is closed');
  });
}

$('connect').addEventListener('click', connect);
$('disconnect').addEventListener('click', () => { wanted = false; clearTimeout(reconnectTimer); if (rfb) rfb.disconnect(); else show('disconnected', 'Disconnected'); });
$('cad').addEventListener('click', () => rfb && rfb.sendCtrlAltDel());
$('credentials').addEventListener('submit', (e) => {
  e.preventDefault();
  const creds = { password: $('password').value };
  if (!$('username').hidden) creds.username = $('username').value;
  $('password').value = '';
  show('connecting', 'Authenticating...');
  rfb.sendCredentials(creds);
});
if (flag('autoconnect', false)) connect();
</script>
</body>
</html>
`;
