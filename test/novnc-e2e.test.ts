// noVNC end to end: TigerVNC's Xvnc (password auth, an orange desktop, an
// xterm writing typed lines to a file) <- the real wsgate CLI <- noVNC from
// @novnc/novnc in Debian's chromium, driven by playwright-core.
// WSGATE_E2E_GATEWAY=websockify runs the same test through Debian's
// websockify, showing that the test measures the client path, not wsgate.
// WSGATE_SCREENSHOT=1 also writes docs/novnc-screenshot.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT, spawnCli, tempDir, until } from './support/index.js';
import { freePort, killGroup, spawnGroup, startVncDesktop, typedText, type VncDesktop } from './support/vnc.js';
import { novncDir } from '../src/server/novnc.js';
import { NOVNC_PAGE } from '../src/server/novnc-page.js';

declare global {
  interface Window {
    events?: Array<{ type: string; detail: unknown }>;
    rfb: { sendCredentials(c: { password: string }): void };
  }
}

const GATEWAY = process.env.WSGATE_E2E_GATEWAY ?? 'wsgate';
const PASSWORD = 'e2e-Pw1';
const ORANGE = [255, 128, 0];
const WHITE = [255, 255, 255];

interface RunningGateway {
  port: number;
  stop(): Promise<void>;
}

let desktop: VncDesktop;
let context: BrowserContext;
/** Serves test/fixtures/novnc-rfb.html (and, for websockify, vnc.html) next to noVNC's core/. */
let filesGateway: RunningGateway;
/** Serves wsgate's own client page: `wsgate --novnc` (websockify: the same gateway). */
let novncGateway: RunningGateway;

async function startWsgate(args: string[]): Promise<RunningGateway> {
  const cli = await spawnCli(['--grace-period', '0', ...args, '127.0.0.1:0', `127.0.0.1:${desktop.port}`]);
  return {
    port: cli.port,
    stop: async () => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGTERM');
      await cli.exited;
    },
  };
}

async function startWebsockify(webDir: string): Promise<RunningGateway> {
  const port = await freePort();
  const child = spawnGroup('websockify', ['--web', webDir, `127.0.0.1:${port}`, `127.0.0.1:${desktop.port}`]);
  const accepting = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  await until(async () => child.exitCode !== null || (await accepting()), { timeoutMs: 10_000, everyMs: 50, what: () => `websockify did not listen: ${child.output()}` });
  if (child.exitCode !== null) throw new Error(`websockify exited: ${child.output()}`);
  return { port, stop: () => killGroup(child) };
}

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
  const webDir = join(dir, 'web');
  await cp(join(novncDir(), 'core'), join(webDir, 'core'), { recursive: true });
  await cp(join(novncDir(), 'vendor'), join(webDir, 'vendor'), { recursive: true });
  await cp(join(REPO_ROOT, 'test/fixtures/novnc-rfb.html'), join(webDir, 'rfb.html'));
  await writeFile(join(webDir, 'vnc.html'), NOVNC_PAGE); // only websockify reads this copy
  if (GATEWAY === 'websockify') {
    filesGateway = novncGateway = await startWebsockify(webDir);
  } else {
    filesGateway = await startWsgate(['--web', webDir]);
    novncGateway = await startWsgate(['--novnc']);
  }
  context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 960, height: 680 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, { timeout: 30_000 });


/** What went wrong inside each page (failed requests, HTTP errors, script errors), for failure messages. */
const pageProblems = new WeakMap<Page, string[]>();

async function openPage(url: string): Promise<Page> {
  const page = await context.newPage();
  const problems: string[] = [];
  pageProblems.set(page, problems);
  page.on('requestfailed', (r) => problems.push(`${r.url()} failed: ${r.failure()?.errorText}`));
  page.on('response', (r) => void (r.status() >= 400 && problems.push(`${r.url()} answered ${r.status()}`)));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`console: ${m.text()}`)));
  page.setDefaultTimeout(15_000);
  await page.goto(url);
  // Seen once in CI: the page's module never ran (a static-file fetch failed in
  // the browser). Say what failed, so it can be found, and load the page once
  // more: this test is about the VNC session, test/static-files covers --web.
  if (!(await page.evaluate(() => window.events !== undefined))) {
    console.error(`# ${url}: the page script did not run; problems: ${problems.join(' | ') || 'none'}; loading it again`);
    problems.length = 0;
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
    const problems = pageProblems.get(page) ?? [];
    throw new Error(`no ${type} event (events: ${events ? events.join(',') || 'none' : 'page script never ran'}; problems: ${problems.join(' | ') || 'none'}): ${(err as Error).message}`);
  }
}

/** The RGB of the noVNC canvas at (x, y), as the user sees it. */
function pixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.evaluate(([px, py]) => [...document.querySelector<HTMLCanvasElement>('#screen canvas')!.getContext('2d')!.getImageData(px!, py!, 1, 1).data.slice(0, 3)], [x, y]);
}

/** Waits until the canvas shows `rgb` at (x, y) (within 4 per channel: the server may use lossy encodings). */
async function waitForColour(page: Page, x: number, y: number, rgb: number[]): Promise<void> {
  let last: number[] = [];
  await until(async () => (last = await pixel(page, x, y)).every((v, i) => Math.abs(v - rgb[i]!) <= 4), { timeoutMs: 10_000, everyMs: 50, what: () => `pixel (${x},${y}) is ${last}, expected ${rgb}` });
}

async function canvasSize(page: Page): Promise<{ width: number; height: number }> {
  return page.evaluate(() => {
    const c = document.querySelector('#screen canvas') as HTMLCanvasElement;
    return { width: c.width, height: c.height };
  });
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
  const page = await context.newPage();
  t.after(() => page.close());
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(`http://127.0.0.1:${novncGateway.port}/vnc.html?autoconnect=1&password=${PASSWORD}&path=websockify%3Ftoken%3Dtok-42`);
  await page.waitForFunction(() => document.body.dataset.state === 'connected', undefined, { timeout: 15_000 });
  assert.match(await page.locator('#status').innerText(), /^Connected \(unencrypted\) to wsgate-e2e/);
  assert.deepEqual(sockets, [`ws://127.0.0.1:${novncGateway.port}/websockify?token=tok-42`]);
  assert.deepEqual(await canvasSize(page), { width: 800, height: 600 });
  await waitForColour(page, 700, 500, ORANGE);
  await waitForColour(page, 150, 40, WHITE);
  if (process.env.WSGATE_SCREENSHOT) await page.screenshot({ path: join(REPO_ROOT, 'docs/novnc-screenshot.png') });
});
