// wsgate's noVNC client (vnc.html, as `wsgate --novnc-app builtin` serves it)
// in Debian's chromium against TigerVNC: the password prompt, the clipboard
// both ways (read and set on the X server with xclip), full screen, view
// only (nothing reaches the server), an extra key, the touch keyboard, local
// scaling that follows the window, and reconnecting by itself after the VNC server restarts,
// saying why the connection dropped. WSGATE_E2E_GATEWAY=websockify runs it
// through Debian's websockify instead.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { tempDir, until } from './support/index.js';
import { killGroup, spawnGroup, startVncDesktop, typedText, type VncDesktop } from './support/vnc.js';
import { canvasBox, launchChromium, newPage, problems, startWebsockify, startWsgate, waitForColour, type RunningGateway } from './support/browser.js';
import { builtinAppDir, novncDir } from '../src/server/novnc.js';

declare global {
  interface Window {
    seen?: string[];
  }
}

const GATEWAY = process.env.WSGATE_E2E_GATEWAY ?? 'wsgate';
const PASSWORD = 'e2e-Pw1';
const ORANGE = [255, 128, 0];
const WHITE = [255, 255, 255];

let desktop: VncDesktop;
let context: BrowserContext;
let gateway: RunningGateway;

after(async () => {
  await context?.close();
  await gateway?.stop();
  await desktop?.stop();
}, { timeout: 20_000 });

const dir = tempDir(after, 'novnc-client');

before(async () => {
  desktop = await startVncDesktop({ dir, password: PASSWORD, rootColour: '#ff8000', geometry: '800x600' });
  const target = `127.0.0.1:${desktop.port}`;
  if (GATEWAY === 'websockify') {
    const webDir = join(dir, 'web');
    await cp(join(novncDir(), 'core'), join(webDir, 'core'), { recursive: true });
    await cp(join(novncDir(), 'vendor'), join(webDir, 'vendor'), { recursive: true });
    await cp(builtinAppDir(), webDir, { recursive: true });
    gateway = await startWebsockify(webDir, target);
  } else {
    gateway = await startWsgate(['--novnc-app', 'builtin'], target);
  }
  context = await launchChromium(dir);
}, { timeout: 30_000 });

/**
 * vnc.html with `params` (query and fragment). Settings the user changes are
 * remembered in localStorage, so each page starts from none; `window.seen`
 * collects every state and status line the page shows.
 */
async function openClient(t: { after(fn: () => Promise<void>): void }, params: string): Promise<Page> {
  const page = await newPage(context);
  t.after(() => page.close());
  await page.addInitScript(() => {
    localStorage.clear();
    window.seen = [];
    new MutationObserver(() => {
      const line = `${document.body?.dataset.state}: ${document.getElementById('status')?.textContent ?? ''}`;
      if (window.seen!.at(-1) !== line) window.seen!.push(line);
    }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-state'] });
  });
  await page.goto(`http://127.0.0.1:${gateway.port}/vnc.html${params}`);
  return page;
}

async function waitForState(page: Page, state: string, timeout = 15_000): Promise<void> {
  try {
    await page.waitForFunction((s) => document.body.dataset.state === s, state, { timeout });
  } catch (err) {
    const seen = await page.evaluate(() => window.seen).catch(() => undefined);
    throw new Error(`page not ${state} (seen: ${JSON.stringify(seen)}; problems: ${problems(page).join(' | ') || 'none'}): ${(err as Error).message}`);
  }
}

/** Answers the password prompt and waits until connected. */
async function logIn(page: Page): Promise<void> {
  await waitForState(page, 'credentials');
  assert.equal(await page.locator('#username-field').isVisible(), false, 'VNC authentication asks for no user name');
  await page.locator('#password').fill(PASSWORD);
  await page.locator('#credentials-button').click();
  await waitForState(page, 'connected');
}

test(`${GATEWAY}: vnc.html asks for the password, and its clipboard goes both ways`, { timeout: 40_000 }, async (t) => {
  const page = await openClient(t, '?autoconnect=1');
  await logIn(page);
  await waitForColour(page, 700, 500, ORANGE);

  // Page -> server: the text edited in the clipboard panel becomes the X server's clipboard.
  const toServer = 'from the page: grüße';
  await page.locator('#clipboard-button').click();
  await page.locator('#clipboard-text').fill(toServer);
  await page.locator('#clipboard-button').click(); // closes the panel; the edit is sent as the field loses focus
  let clip = '';
  await until(async () => (clip = await desktop.x('xclip', ['-o', '-selection', 'clipboard']).catch(() => '')) === toServer, { timeoutMs: 10_000, everyMs: 100, what: () => `the X clipboard holds ${JSON.stringify(clip)}` });

  // Server -> page: an X client takes the clipboard; the panel shows its text.
  const toPage = 'from the desktop: ¡hola!';
  await writeFile(join(dir, 'clip.txt'), toPage);
  const owner = spawnGroup('xclip', ['-selection', 'clipboard', '-quiet', join(dir, 'clip.txt')], { ...process.env, DISPLAY: desktop.display });
  t.after(() => killGroup(owner));
  await page.waitForFunction((text) => (document.getElementById('clipboard-text') as HTMLTextAreaElement).value === text, toPage, { timeout: 10_000 });
  assert.deepEqual(problems(page), []);
});

test(`${GATEWAY}: vnc.html's full-screen control`, { timeout: 30_000 }, async (t) => {
  const page = await openClient(t, `?autoconnect=1#password=${PASSWORD}`);
  await waitForState(page, 'connected');
  const pressed = (value: string) => page.waitForFunction((v) => document.getElementById('fullscreen-button')!.getAttribute('aria-pressed') === v, value, { timeout: 5000 });
  await page.locator('#fullscreen-button').click();
  await page.waitForFunction(() => document.fullscreenElement === document.documentElement, undefined, { timeout: 5000 });
  await pressed('true');
  await page.locator('#fullscreen-button').click();
  await page.waitForFunction(() => document.fullscreenElement === null, undefined, { timeout: 5000 });
  await pressed('false');
});

test(`${GATEWAY}: view only: no key or click reaches the server until it is switched off`, { timeout: 40_000 }, async (t) => {
  // No window manager: X keyboard focus follows the pointer, so keys reach the xterm only while the pointer is on it.
  await desktop.x('xdotool', ['mousemove', '100', '40']);
  const before = await typedText(desktop);
  const page = await openClient(t, `?autoconnect=1&view_only=1#password=${PASSWORD}`);
  await waitForState(page, 'connected');
  await waitForColour(page, 150, 40, WHITE);
  assert.equal(await page.locator('#keys-button').isVisible(), false, 'no extra keys in view-only mode');
  const box = await canvasBox(page);
  await page.mouse.click(box.x + 600, box.y + 450); // would move the X pointer off the xterm
  await page.keyboard.type('leak');
  await page.keyboard.press('Enter');

  // Switched off in the settings panel, then typed: only what comes now may arrive. Input
  // travels in order on one connection, so anything from before would arrive first; and had
  // the click arrived, the pointer (and the X focus) would have left the xterm.
  await page.locator('#settings-button').click();
  await page.locator('[data-setting="view_only"]').uncheck();
  await page.locator('#settings-button').click();
  await page.keyboard.type('ok');
  await page.locator('#keys-button').click();
  await page.locator('#tab-key').click();
  await page.keyboard.press('Enter');
  let typed = '';
  await until(async () => (typed = await typedText(desktop)) !== before, { timeoutMs: 10_000, everyMs: 50, what: () => `the xterm wrote ${JSON.stringify(typed)}` });
  await until(async () => (typed = await typedText(desktop)).endsWith('\n'), { timeoutMs: 5000, everyMs: 50, what: () => `the xterm wrote ${JSON.stringify(typed)}` });
  assert.equal(typed, `${before}ok\t\n`);
  assert.match(await desktop.x('xdotool', ['getmouselocation']), /^x:100 y:40 /);
  assert.deepEqual(problems(page), []);
});

test(`${GATEWAY}: on a touch device, the keyboard button brings up a field whose typing reaches the server`, { timeout: 30_000 }, async (t) => {
  await desktop.x('xdotool', ['mousemove', '100', '40']); // X focus on the xterm
  const before = await typedText(desktop);
  const page = await newPage(context);
  t.after(() => page.close());
  // What noVNC's browser check looks for on a touch screen, set before any module runs.
  await page.addInitScript(() => {
    localStorage.clear();
    Object.defineProperty(Navigator.prototype, 'maxTouchPoints', { get: () => 5 });
  });
  await page.goto(`http://127.0.0.1:${gateway.port}/vnc.html?autoconnect=1#password=${PASSWORD}`);
  await waitForState(page, 'connected');
  await page.locator('#keyboard-button').click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'keyboard-input');
  await page.keyboard.type('touch typed');
  await page.keyboard.press('Backspace');
  await page.keyboard.press('Enter');
  let typed = '';
  await until(async () => (typed = await typedText(desktop)) === `${before}touch type\n`, { timeoutMs: 10_000, everyMs: 50, what: () => `the xterm wrote ${JSON.stringify(typed)}` });
});

test(`${GATEWAY}: local scaling: the canvas follows the window`, { timeout: 30_000 }, async (t) => {
  const page = await openClient(t, `?autoconnect=1#password=${PASSWORD}`);
  await waitForState(page, 'connected');
  const fits = (width: number, height: number) => {
    const factor = Math.min(width / 800, height / 600);
    return { width: 800 * factor, height: 600 * factor };
  };
  const waitForBox = async (want: { width: number; height: number }) => {
    let box = { width: 0, height: 0 };
    await until(async () => ((box = await canvasBox(page)), Math.abs(box.width - want.width) <= 1 && Math.abs(box.height - want.height) <= 1), {
      timeoutMs: 5000,
      everyMs: 50,
      what: () => `canvas ${box.width}x${box.height}, expected ${want.width}x${want.height}`,
    });
  };
  await waitForBox({ width: 800, height: 600 }); // scaling off: the remote size
  await page.locator('#settings-button').click();
  await page.locator('[data-setting="resize"]').selectOption('scale');
  await page.locator('#settings-button').click();
  await waitForBox(fits(960, 680));
  await page.setViewportSize({ width: 640, height: 400 });
  await waitForBox(fits(640, 400));
  await page.setViewportSize({ width: 900, height: 900 });
  await waitForBox(fits(900, 900));
  assert.deepEqual(problems(page), []);
});

test(`${GATEWAY}: with reconnect on, the page reconnects by itself after the VNC server restarts`, { timeout: 50_000 }, async (t) => {
  const page = await openClient(t, '?autoconnect=1&reconnect=1&reconnect_delay=300');
  await logIn(page);
  await waitForColour(page, 700, 500, ORANGE);
  await page.evaluate(() => (window.seen!.length = 0));
  await desktop.restart();
  await page.waitForFunction(() => window.seen!.some((s) => s.startsWith('reconnecting:')), undefined, { timeout: 10_000 });
  await waitForState(page, 'connected', 20_000);
  await waitForColour(page, 700, 500, ORANGE); // the new server's root window
  const seen = (await page.evaluate(() => window.seen))!;
  assert.ok(!seen.some((s) => s.startsWith('credentials:')), `asked for the password again: ${JSON.stringify(seen)}`);
  if (GATEWAY === 'wsgate') {
    // The reason from the close frame the gateway sent when Xvnc went away.
    assert.ok(
      seen.some((s) => /^reconnecting: The gateway closed the connection: backend (closed the connection \(code 1000\)|error: E[A-Z]+ \(code 1011\))$/.test(s)),
      JSON.stringify(seen),
    );
  }
});
