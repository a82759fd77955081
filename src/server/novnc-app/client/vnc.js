// vnc.html: the session (connect, credentials, server check, disconnect,
// reconnect) and what acts on it: the dialogs, the status line, the keys,
// the clipboard, full screen, dragging, the bell and the wake lock. The bar,
// its panels and the settings form are in controls.js.
// document.body.dataset.state says where the page is (disconnected,
// connecting, credentials, verify, connected, disconnecting, reconnecting,
// failed); window.rfb is the latest RFB object. Both are for scripts and tests.
import * as Log from '../core/util/logging.js';
import { isTouchDevice } from '../core/util/browser.js';
import { Settings } from './settings.js';
import { Connection, fingerprint, websocketUrl } from './connection.js';
import { ModifierToggles, SINGLE_KEYS, attachTouchKeyboard } from './keys.js';
import { ControlBar, bindSettingsForm } from './controls.js';

const $ = (id) => document.getElementById(id);
const settings = new Settings();
Log.initLogging(settings.get('logging'));

/** The current connection, or null. */
let connection = null;
/** The user wants a session: after a drop, reconnect if the setting says so. */
let wanted = false;
let reconnectTimer = null;
let countdownTimer = null;
/** Credentials typed for this page, kept for reconnects; dropped after an authentication failure. */
let credentials = null;
let typedCredentials = null;
let desktopName = '';
let wakeLock = null;
let audio = null;

const state = () => document.body.dataset.state;
const bar = new ControlBar(() => connection?.rfb.focus());
/** The RFB object while connected (input goes nowhere otherwise). */
const liveRfb = () => (state() === 'connected' ? connection?.rfb ?? null : null);

// ----- state and status -----

const TRANSITIONS = { connecting: 'Connecting...', disconnecting: 'Disconnecting...', reconnecting: 'Reconnecting...' };

function setState(next) {
  document.body.dataset.state = next;
  const connected = next === 'connected';
  const viewOnly = settings.get('view_only');
  $('connect-dialog').hidden = next !== 'disconnected' && next !== 'failed';
  $('credentials-dialog').hidden = next !== 'credentials';
  $('verify-dialog').hidden = next !== 'verify';
  $('transition-dialog').hidden = !(next in TRANSITIONS);
  if (next in TRANSITIONS) $('transition-text').textContent = TRANSITIONS[next];
  $('cancel-button').hidden = next === 'disconnecting';
  $('disconnect-button').hidden = !connection && next !== 'reconnecting';
  $('keys-button').hidden = !connected || viewOnly;
  $('keyboard-button').hidden = !connected || viewOnly || !isTouchDevice;
  $('power-button').hidden = !connected || viewOnly || !connection?.rfb.capabilities.power;
  $('drag-button').hidden = !connected || !connection?.rfb.clippingViewport;
  $('clipboard-text').readOnly = viewOnly;
  for (const el of document.querySelectorAll('[data-when="offline"]')) el.disabled = !(next === 'disconnected' || next === 'failed');
  for (const name of ['keys', 'power']) if ($(`${name}-button`).hidden) bar.close(name);
  $('connect-target').textContent = safeUrl() ?? '';
}

function safeUrl() {
  try {
    return websocketUrl(settings);
  } catch {
    return null;
  }
}

let statusTimer = null;
/** A message at the top; `normal` ones fade after a few seconds, warnings and errors stay until clicked or replaced. */
function showStatus(text, level = 'normal') {
  const status = $('status');
  status.textContent = text;
  status.dataset.level = level;
  status.classList.add('shown');
  clearTimeout(statusTimer);
  if (level === 'normal') statusTimer = setTimeout(() => status.classList.remove('shown'), 3000);
}
$('status').addEventListener('click', () => $('status').classList.remove('shown'));

function connectedText() {
  const encrypted = connection?.url.startsWith('wss:') ? 'encrypted' : 'unencrypted';
  return `Connected (${encrypted}) to ${desktopName || new URL(connection.url).host}`;
}

// ----- connecting -----

function connect() {
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  if (connection) return;
  wanted = true;
  const password = settings.get('password');
  const given = credentials ?? (password === null ? undefined : { password });
  let c;
  try {
    c = new Connection($('screen'), websocketUrl(settings), { shared: settings.get('shared'), credentials: given, repeaterID: settings.get('repeaterID') });
  } catch (err) {
    wanted = false;
    setState('failed');
    showStatus(`Cannot connect: ${err.message}`, 'error');
    return;
  }
  connection = c;
  window.rfb = c.rfb;
  desktopName = '';
  applyViewSettings(c.rfb);
  c.rfb.addEventListener('connect', () => {
    if (typedCredentials) credentials = typedCredentials;
    setState('connected');
    showStatus(connectedText());
    c.rfb.focus();
    holdWakeLock();
  });
  c.rfb.addEventListener('desktopname', (e) => {
    desktopName = e.detail.name;
    document.title = `${desktopName} - noVNC`;
    if (state() === 'connected') showStatus(connectedText());
  });
  c.rfb.addEventListener('credentialsrequired', (e) => askForCredentials(e.detail.types));
  c.rfb.addEventListener('serververification', (e) => verifyServer(e.detail));
  c.rfb.addEventListener('securityfailure', () => (credentials = typedCredentials = null));
  c.rfb.addEventListener('clipboard', (e) => ($('clipboard-text').value = e.detail.text));
  c.rfb.addEventListener('bell', ring);
  c.rfb.addEventListener('capabilities', () => setState(state()));
  c.rfb.addEventListener('clippingviewport', (e) => {
    if (!e.detail && c.rfb.dragViewport) toggleDrag(false);
    setState(state());
  });
  c.rfb.addEventListener('disconnect', (e) => disconnected(c, e.detail.clean));
  setState('connecting');
}

async function disconnected(c, clean) {
  if (connection !== c) return;
  connection = null;
  modifiers.releaseAll();
  releaseWakeLock();
  toggleDrag(false);
  setState('disconnecting'); // while the message is worked out (at most about a second)
  const message = await c.explain(clean);
  if (connection) return; // the user connected again meanwhile
  if (wanted && !c.byUser && !c.securityFailure && settings.get('reconnect')) {
    showStatus(message.text, message.level === 'normal' ? 'warn' : message.level);
    scheduleReconnect();
    return;
  }
  wanted = false;
  document.title = 'noVNC';
  setState(message.level === 'error' ? 'failed' : 'disconnected');
  showStatus(message.text, message.level);
}

function scheduleReconnect() {
  setState('reconnecting');
  const delay = settings.get('reconnect_delay');
  const due = Date.now() + delay;
  const tick = () => ($('transition-text').textContent = `Reconnecting in ${Math.max(0, Math.ceil((due - Date.now()) / 1000))} s...`);
  tick();
  countdownTimer = setInterval(tick, 250);
  reconnectTimer = setTimeout(connect, delay);
}

function disconnect() {
  wanted = false;
  clearTimeout(reconnectTimer);
  clearInterval(countdownTimer);
  if (connection) {
    modifiers.releaseAll();
    setState('disconnecting');
    connection.disconnect();
  } else {
    setState('disconnected');
    showStatus('Disconnected');
  }
}

function askForCredentials(types) {
  for (const name of ['username', 'password', 'target']) $(`${name}-field`).hidden = !types.includes(name);
  setState('credentials');
  $(types.find((t) => ['username', 'password', 'target'].includes(t)) ?? 'password').focus();
}

$('credentials-dialog').addEventListener('submit', (e) => {
  e.preventDefault();
  const given = {};
  for (const name of ['username', 'password', 'target']) {
    if ($(`${name}-field`).hidden) continue;
    given[name] = $(name).value;
    if (name === 'password') $(name).value = '';
  }
  typedCredentials = { ...credentials, ...given };
  setState('connecting');
  $('transition-text').textContent = 'Authenticating...';
  connection?.rfb.sendCredentials(typedCredentials);
});

async function verifyServer(detail) {
  setState('verify');
  $('fingerprint').textContent = await fingerprint(detail);
}

$('approve-button').addEventListener('click', () => {
  setState('connecting');
  connection?.rfb.approveServer();
});
$('reject-button').addEventListener('click', disconnect);
$('connect-button').addEventListener('click', connect);
$('cancel-button').addEventListener('click', disconnect);
$('disconnect-button').addEventListener('click', disconnect);

// ----- settings -----

/** Settings that change a live session; the rest apply at the next connect. */
function applyViewSettings(rfb) {
  const resize = settings.get('resize');
  rfb.viewOnly = settings.get('view_only');
  rfb.clipViewport = settings.get('view_clip');
  rfb.scaleViewport = resize === 'scale';
  rfb.resizeSession = resize === 'remote';
  rfb.qualityLevel = settings.get('quality');
  rfb.compressionLevel = settings.get('compression');
  rfb.showDotCursor = settings.get('show_dot');
}

settings.onChange((name) => {
  if (name === 'logging') Log.initLogging(settings.get('logging'));
  if (name === 'keep_device_awake') settings.get(name) ? holdWakeLock() : releaseWakeLock();
  if (name === 'view_only') modifiers.releaseAll();
  if (connection) applyViewSettings(connection.rfb);
  setState(state());
});

// ----- keys -----

const modifiers = new ModifierToggles(liveRfb, { ctrl: $('ctrl-key'), alt: $('alt-key'), windows: $('windows-key') });
for (const [name, { keysym, code }] of Object.entries(SINGLE_KEYS)) {
  $(`${name}-key`).addEventListener('click', () => {
    liveRfb()?.sendKey(keysym, code);
    liveRfb()?.focus();
  });
}
$('cad-key').addEventListener('click', () => {
  liveRfb()?.sendCtrlAltDel();
  liveRfb()?.focus();
});
attachTouchKeyboard($('keyboard-input'), liveRfb);
$('keyboard-button').addEventListener('click', () => {
  const input = $('keyboard-input');
  if (document.activeElement === input) input.blur();
  else input.focus();
});

$('shutdown-button').addEventListener('click', () => liveRfb()?.machineShutdown());
$('reboot-button').addEventListener('click', () => liveRfb()?.machineReboot());
$('reset-button').addEventListener('click', () => liveRfb()?.machineReset());

// ----- clipboard, fullscreen, dragging, bell, wake lock -----

$('clipboard-text').addEventListener('change', () => liveRfb()?.clipboardPasteFrom($('clipboard-text').value));
$('clipboard-clear').addEventListener('click', () => {
  $('clipboard-text').value = '';
  liveRfb()?.clipboardPasteFrom('');
});

$('fullscreen-button').hidden = !document.fullscreenEnabled;
$('fullscreen-button').addEventListener('click', () => {
  const done = document.fullscreenElement ? document.exitFullscreen() : document.documentElement.requestFullscreen();
  done.catch((err) => showStatus(`Full screen is not available: ${err.message}`, 'warn')).finally(() => liveRfb()?.focus());
});
document.addEventListener('fullscreenchange', () => $('fullscreen-button').setAttribute('aria-pressed', String(document.fullscreenElement !== null)));

function toggleDrag(on = !connection?.rfb.dragViewport) {
  if (connection) connection.rfb.dragViewport = on;
  $('drag-button').setAttribute('aria-pressed', String(on));
}
$('drag-button').addEventListener('click', () => toggleDrag());

function ring() {
  if (!settings.get('bell')) return;
  try {
    audio ??= new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.2);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.2);
  } catch {
    /* no audio here */
  }
}

async function holdWakeLock() {
  if (!settings.get('keep_device_awake') || state() !== 'connected' || wakeLock || !navigator.wakeLock) return;
  try {
    wakeLock = await navigator.wakeLock.request('screen');
    wakeLock.addEventListener('release', () => (wakeLock = null));
  } catch (err) {
    Log.Warn(`cannot keep the device awake: ${err.message}`);
  }
}
function releaseWakeLock() {
  wakeLock?.release();
  wakeLock = null;
}
// The browser drops the lock when the page is hidden; take it again when it is back.
document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && holdWakeLock());

// ----- start -----

bindSettingsForm(settings);
setState('disconnected');
if (settings.get('autoconnect')) connect();
else $('connect-button').focus();
