// noVNC end to end: TigerVNC's Xvnc (password auth, an orange desktop, an
// xterm writing typed lines to a file) <- the real wsgate CLI <- noVNC in
// Debian's chromium, driven by playwright-core: noVNC's library on its own,
// the pages `--novnc` serves (vnc.html, vnc_lite.html, vnc_auto.html), what
// they say when the gateway refuses, and noVNC's own application when the
// machine has one. test/novnc-client-e2e.test.ts drives vnc.html's controls.
// WSGATE_E2E_GATEWAY=websockify runs the same tests (those that are not about
// wsgate itself) through Debian's websockify, showing that they measure the
// client path, not wsgate. WSGATE_SCREENSHOT=1 also writes docs/novnc-screenshot.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { REPO_ROOT, tempDir, until } from './support/index.js';
import { freePort, startVncDesktop, typedText, type VncDesktop } from './support/vnc.js';
import { canvasSize, launchChromium, newPage, problems, startWebsockify, startWsgate, waitForColour, type RunningGateway } from './support/browser.js';
import { builtinAppDir, findInstalledNovnc, novncDir } from '../src/server/novnc.js';

declare global {
  interface Window {
    events?: Array<{ type: string; detail: unknown }>;
    rfb: { sendCredentials(c: { password: string }): void };
  }
}

const GATEWAY = process.env.WSGATE_E2E_GATEWAY ?? 'wsgate';
const WSGATE_ONLY = GATEWAY === 'wsgate' ? false : 'about wsgate itself';
const PASSWORD = 'e2e-Pw1';
const ORANGE = [255, 128, 0];
const WHITE = [255, 255, 255];
/** noVNC's application installed on this machine (Debian's `novnc` package), if any. */
const INSTALLED = findInstalledNovnc();

let desktop: VncDesktop;
let context: BrowserContext;
/** Serves test/fixtures/novnc-rfb.html (and, for websockify, wsgate's client) next to noVNC's core/. */
let filesGateway: RunningGateway;
/** Serves wsgate's own client: `wsgate --novnc-app builtin` (websockify: the same gateway). */
let novncGateway: RunningGateway;

after(async () => {
  await context?.close();
  await filesGateway?.stop();
  if (novncGateway !== filesGateway) await novncGateway?.stop();
  await desktop?.stop();
}, { timeout: 20_000 });

// Registered after the teardown above: node:test runs `after` hooks in order, so the
// directory (Chromium's profile, the VNC password and typed files) goes last.
const dir = tempDir(after, 'novnc');

before(async () => {
  desktop = await startVncDesktop({ dir, password: PASSWORD, rootColour: '#ff8000', geometry: '800x600' });
  const target = `127.0.0.1:${desktop.port}`;
  const webDir = join(dir, 'web');
  await cp(join(novncDir(), 'core'), join(webDir, 'core'), { recursive: true });
  await cp(join(novncDir(), 'vendor'), join(webDir, 'vendor'), { recursive: true });
  await cp(join(REPO_ROOT, 'test/fixtures/novnc-rfb.html'), join(webDir, 'rfb.html'));
  await cp(builtinAppDir(), webDir, { recursive: true }); // only websockify reads this copy
  if (GATEWAY === 'websockify') {
    filesGateway = novncGateway = await startWebsockify(webDir, target);
  } else {
    filesGateway = await startWsgate(['--web', webDir], target);
    novncGateway = await startWsgate(['--novnc-app', 'builtin'], target);
  }
  context = await launchChromium(dir);
}, { timeout: 30_000 });

async function openPage(url: string): Promise<Page> {
  const page = await newPage(context);
  await page.goto(url);
  // Seen once in CI: the page's module never ran (a static-file fetch failed in
  // the browser). Say what failed, so it can be found, and load the page once
  // more: this test is about the VNC session, test/static-files covers --web.
  if (!(await page.evaluate(() => window.events !== undefined))) {
    console.error(`# ${url}: the page script did not run; problems: ${problems(page).join(' | ') || 'none'}; loading it again`);
    problems(page).length = 0;
    await page.reload();
  }
  return page;
}

/**
 * Waits until noVNC reported `type`. If the page's module never ran (so
 * window.events is missing), the failure says why instead of timing out on a
 * TypeError.
 */
async function waitForEvent(page: Page, type: string): Promise<void> {
  try {
    await page.waitForFunction((t) => window.events?.some((e) => e.type === t), type);
  } catch (err) {
    const events = await page.evaluate(() => window.events?.map((e) => e.type)).catch(() => undefined);
    throw new Error(`no ${type} event (events: ${events ? events.join(',') || 'none' : 'page script never ran'}; problems: ${problems(page).join(' | ') || 'none'}): ${(err as Error).message}`);
  }
}

/** Waits for the client page's state (document.body.dataset.state), saying where it was instead. */
async function waitForState(page: Page, state: string, timeout = 15_000): Promise<void> {
  try {
    await page.waitForFunction((s) => document.body.dataset.state === s, state, { timeout });
  } catch (err) {
    const now = await page.evaluate(() => `${document.body.dataset.state}: ${document.getElementById('status')?.textContent}`).catch(() => '?');
    throw new Error(`page not ${state} (it is ${now}; problems: ${problems(page).join(' | ') || 'none'}): ${(err as Error).message}`);
  }
}

test(`${GATEWAY}: a wrong password gives noVNC's securityfailure`, { timeout: 30_000 }, async (t) => {
  const page = await openPage(`http://127.0.0.1:${filesGateway.port}/rfb.html`);
  t.after(() => page.close());
  await waitForEvent(page, 'credentialsrequired');
  await page.evaluate(() => window.rfb.sendCredentials({ password: 'wrong' }));
  await waitForEvent(page, 'securityfailure');
  const events = await page.evaluate(() => window.events!.map((e) => e.type));
  assert.ok(!events.includes('connect'), `events: ${events}`);
});

test(`${GATEWAY}: noVNC connects, shows the desktop, moves the pointer and types into the xterm`, { timeout: 40_000 }, async (t) => {
  const page = await openPage(`http://127.0.0.1:${filesGateway.port}/rfb.html`);
  t.after(() => page.close());
  await waitForEvent(page, 'credentialsrequired');
  await page.evaluate((pw) => window.rfb.sendCredentials({ password: pw }), PASSWORD);
  await waitForEvent(page, 'connect');
  const events = await page.evaluate(() => window.events!.map((e) => e.type));
  assert.ok(events.indexOf('credentialsrequired') < events.indexOf('connect'), `events: ${events}`);
  assert.deepEqual(await canvasSize(page), { width: 800, height: 600 });
  await waitForColour(page, 700, 500, ORANGE); // the root window, outside the xterm
  await waitForColour(page, 150, 40, WHITE); // inside the xterm

  const box = (await page.locator('#screen canvas').boundingBox())!;
  await page.mouse.move(box.x + 600, box.y + 450);
  let where = '';
  await until(async () => /^x:600 y:450 /.test((where = await desktop.x('xdotool', ['getmouselocation']))), { timeoutMs: 10_000, everyMs: 50, what: () => `X pointer at ${where}` });

  // No window manager: X keyboard focus follows the pointer, so put it on the xterm.
  await page.mouse.click(box.x + 100, box.y + 40);
  await page.keyboard.type('hello wsgate');
  await page.keyboard.press('Enter');
  let typed = '';
  await until(async () => (typed = await typedText(desktop)) === 'hello wsgate\n', { timeoutMs: 10_000, everyMs: 50, what: () => `the xterm wrote ${JSON.stringify(typed)}` });
});

test(`${GATEWAY}: the client page (vnc.html) connects by itself and passes a token in ?path= on`, { timeout: 30_000 }, async (t) => {
  const sockets: string[] = [];
  const page = await newPage(context);
  t.after(() => page.close());
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`http://127.0.0.1:${novncGateway.port}/vnc.html?autoconnect=1&password=${PASSWORD}&path=websockify%3Ftoken%3Dtok-42`);
  await page.waitForFunction(() => document.body.dataset.state === 'connected', undefined, { timeout: 15_000 });
  assert.match(await page.locator('#status').innerText(), /^Connected \(unencrypted\) to wsgate-e2e/);
  assert.deepEqual(sockets, [`ws://127.0.0.1:${novncGateway.port}/websockify?token=tok-42`]);
  assert.deepEqual(await canvasSize(page), { width: 800, height: 600 });
  await waitForColour(page, 700, 500, ORANGE);
  await waitForColour(page, 150, 40, WHITE);
  assert.deepEqual(problems(page), []);
  if (process.env.WSGATE_SCREENSHOT) {
    // Once the status line has slid in (its transition, the one animation running).
    await page.evaluate(() => Promise.all(document.getAnimations().map((a) => a.finished)));
    await page.screenshot({ path: join(REPO_ROOT, 'docs/novnc-screenshot.png') });
  }
});

test(`${GATEWAY}: vnc_lite.html asks for the password, connects and shows the desktop`, { timeout: 30_000 }, async (t) => {
  const page = await newPage(context);
  t.after(() => page.close());
  await page.goto(`http://127.0.0.1:${novncGateway.port}/vnc_lite.html`);
  await waitForState(page, 'credentials');
  await page.locator('#password').fill(PASSWORD);
  await page.locator('#password').press('Enter');
  await waitForState(page, 'connected');
  assert.match(await page.locator('#status').innerText(), /^Connected \(unencrypted\) to wsgate-e2e$/);
  assert.equal(await page.locator('#cad-button').isVisible(), true);
  await waitForColour(page, 700, 500, ORANGE);
  assert.deepEqual(problems(page), []);
});

test(`${GATEWAY}: vnc_auto.html (vnc_lite.html's old name) is the same page, with noVNC's parameters`, { skip: WSGATE_ONLY, timeout: 30_000 }, async (t) => {
  const page = await newPage(context);
  t.after(() => page.close());
  await page.goto(`http://127.0.0.1:${novncGateway.port}/vnc_auto.html?scale=true#password=${PASSWORD}`);
  await waitForState(page, 'connected');
  await waitForColour(page, 150, 40, WHITE);
  // scale=true fits the 800x600 desktop into the space below the bar.
  const box = (await page.locator('#screen canvas').boundingBox())!;
  const screen = (await page.locator('#screen').boundingBox())!;
  const factor = Math.min(screen.width / 800, screen.height / 600);
  assert.ok(Math.abs(box.width - 800 * factor) <= 1 && Math.abs(box.height - 600 * factor) <= 1, `canvas ${box.width}x${box.height} in ${screen.width}x${screen.height}`);
});

test(`${GATEWAY}: an HTTP refusal, a refusal in a close frame and an unreachable gateway are told apart, in words`, { skip: WSGATE_ONLY, timeout: 30_000 }, async (t) => {
  // A gateway whose VNC server is not there answers the upgrade with 502 under --refuse http: the browser sees only 1006.
  const refusing = await startWsgate(['--novnc-app', 'builtin', '--refuse', 'http'], `127.0.0.1:${await freePort()}`);
  t.after(() => refusing.stop());
  const page = await newPage(context);
  t.after(() => page.close());
  await page.goto(`http://127.0.0.1:${refusing.port}/vnc.html?autoconnect=1`);
  await waitForState(page, 'failed');
  assert.equal(await page.locator('#status').innerText(), `The gateway at 127.0.0.1:${refusing.port} refused the connection (HTTP 403/404/502…); see its log`);
  assert.match(refusing.output(), /"status":502/, 'the gateway logged its answer');

  // By default (refuse: auto) the same refusal reaches a browser as a close frame, whose reason the page shows.
  const telling = await startWsgate(['--novnc-app', 'builtin'], `127.0.0.1:${await freePort()}`);
  t.after(() => telling.stop());
  await page.goto(`http://127.0.0.1:${telling.port}/vnc.html?autoconnect=1`);
  await waitForState(page, 'failed');
  assert.equal(await page.locator('#status').innerText(), 'The gateway closed the connection: backend unreachable (code 1011)');
  assert.match(telling.output(), /"status":502,"reason":"[^"]*","closeCode":1011/, 'logged by its HTTP status');

  const closedPort = await freePort();
  await page.goto(`http://127.0.0.1:${refusing.port}/vnc.html?autoconnect=1&port=${closedPort}`);
  await waitForState(page, 'failed');
  assert.equal(await page.locator('#status').innerText(), `Could not reach the gateway at 127.0.0.1:${closedPort} (is it running, and is the address right?)`);
});

test(`${GATEWAY}: --novnc serves noVNC's own application when the machine has one`, { skip: GATEWAY !== 'wsgate' ? 'about wsgate itself' : INSTALLED ? false : 'no noVNC application installed (Debian: apt-get install novnc)', timeout: 40_000 }, async (t) => {
  const installed = await startWsgate(['--novnc'], `127.0.0.1:${desktop.port}`);
  t.after(() => installed.stop());
  assert.match(installed.output(), new RegExp(`"novnc":"noVNC's application in ${INSTALLED}"`));
  const page = await newPage(context);
  t.after(() => page.close());
  await page.goto(`http://127.0.0.1:${installed.port}/vnc.html?autoconnect=1`);
  // noVNC's own UI (as in Debian's 1.3): a credentials dialog, then the "noVNC_connected" class.
  await page.locator('#noVNC_password_input').fill(PASSWORD);
  await page.locator('#noVNC_credentials_button').click();
  await page.waitForFunction(() => document.documentElement.classList.contains('noVNC_connected'), undefined, { timeout: 15_000 });
  await waitForColour(page, 700, 500, ORANGE, '#noVNC_container canvas');
  for (const path of ['/', '/vnc_lite.html', '/vnc_auto.html', '/app/ui.js']) {
    const res = await page.request.get(`http://127.0.0.1:${installed.port}${path}`);
    assert.equal(res.status(), 200, path);
  }
  assert.ok(existsSync(join(INSTALLED!, 'app', 'ui.js')));
});
