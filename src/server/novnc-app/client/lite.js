// vnc_lite.html: connect at once, ask for credentials in the bar if the
// server wants them, and say why the connection ended. Only the URL counts
// here (no remembered settings); `scale=true` is `resize=scale`.
import * as Log from '../core/util/logging.js';
import { Settings } from './settings.js';
import { Connection, fingerprint, websocketUrl } from './connection.js';

const $ = (id) => document.getElementById(id);
const settings = new Settings({ remember: false });
Log.initLogging(settings.get('logging'));
const scaleParam = new URLSearchParams(location.hash.slice(1)).get('scale') ?? new URLSearchParams(location.search).get('scale') ?? '';
const scale = /^(1|true|yes|on)$/i.test(scaleParam) || settings.get('resize') === 'scale';

function show(state, text) {
  document.body.dataset.state = state;
  $('status').textContent = text;
  $('credentials').hidden = state !== 'credentials';
  $('cad-button').hidden = state !== 'connected' || settings.get('view_only');
  $('verify').hidden = state !== 'verify';
}

let connection;
try {
  const password = settings.get('password');
  connection = new Connection($('screen'), websocketUrl(settings), {
    shared: settings.get('shared'),
    credentials: password === null ? undefined : { password },
    repeaterID: settings.get('repeaterID'),
  });
} catch (err) {
  show('failed', `Cannot connect: ${err.message}`);
}
if (connection) {
  const rfb = connection.rfb;
  window.rfb = rfb; // for scripts and tests driving the page
  rfb.viewOnly = settings.get('view_only');
  rfb.scaleViewport = scale;
  rfb.resizeSession = settings.get('resize') === 'remote';
  rfb.clipViewport = settings.get('view_clip');
  rfb.qualityLevel = settings.get('quality');
  rfb.compressionLevel = settings.get('compression');
  rfb.showDotCursor = settings.get('show_dot');
  let name = '';
  const connected = () => show('connected', `Connected (${connection.url.startsWith('wss:') ? 'encrypted' : 'unencrypted'}) to ${name || new URL(connection.url).host}`);
  rfb.addEventListener('connect', connected);
  rfb.addEventListener('desktopname', (e) => {
    name = e.detail.name;
    document.title = `${name} - noVNC`;
    if (document.body.dataset.state === 'connected') connected();
  });
  rfb.addEventListener('credentialsrequired', (e) => {
    $('username').hidden = !e.detail.types.includes('username');
    show('credentials', 'Credentials are required');
    ($('username').hidden ? $('password') : $('username')).focus();
  });
  rfb.addEventListener('serververification', async (e) => {
    show('verify', 'Check the server\'s identity:');
    $('fingerprint').textContent = await fingerprint(e.detail);
  });
  $('approve-button').addEventListener('click', () => {
    show('connecting', 'Connecting...');
    rfb.approveServer();
  });
  $('reject-button').addEventListener('click', () => connection.disconnect());
  rfb.addEventListener('disconnect', async (e) => {
    const message = await connection.explain(e.detail.clean);
    show(message.level === 'error' ? 'failed' : 'disconnected', message.text);
  });
  $('credentials').addEventListener('submit', (e) => {
    e.preventDefault();
    const given = { password: $('password').value };
    if (!$('username').hidden) given.username = $('username').value;
    $('password').value = '';
    show('connecting', 'Authenticating...');
    rfb.sendCredentials(given);
  });
  $('cad-button').addEventListener('click', () => rfb.sendCtrlAltDel());
  show('connecting', 'Connecting...');
}
