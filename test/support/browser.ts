// Browser tests: Debian's chromium driven by playwright-core, the gateways
// in front of a VNC desktop (the real wsgate CLI, or Debian's websockify),
// and reading noVNC's canvas back.
import net from 'node:net';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { spawnCli } from './cli.js';
import { until } from './until.js';
import { freePort, killGroup, spawnGroup } from './vnc.js';

export interface RunningGateway {
  port: number;
  /** What it printed so far (wsgate's JSON log lines). */
  output(): string;
  stop(): Promise<void>;
}

/** `wsgate ARGS 127.0.0.1:0 TARGET` (the websockify form), until stop(). */
export async function startWsgate(args: string[], target: string): Promise<RunningGateway> {
  const cli = await spawnCli(['--grace-period', '0', ...args, '127.0.0.1:0', target]);
  return {
    port: cli.port,
    output: cli.output,
    stop: async () => {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGTERM');
      await cli.exited;
    },
  };
}

/** Debian's websockify serving `webDir`, relaying to `target`. */
export async function startWebsockify(webDir: string, target: string): Promise<RunningGateway> {
  const port = await freePort();
  const child = spawnGroup('websockify', ['--web', webDir, `127.0.0.1:${port}`, target]);
  const accepting = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
  await until(async () => child.exitCode !== null || (await accepting()), { timeoutMs: 10_000, everyMs: 50, what: () => `websockify did not listen: ${child.output()}` });
  if (child.exitCode !== null) throw new Error(`websockify exited: ${child.output()}`);
  return { port, output: child.output, stop: () => killGroup(child) };
}

/** Headless chromium with its profile in `dir`; pages are 960x680. */
export function launchChromium(dir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 960, height: 680 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** What went wrong inside each page (failed requests, HTTP errors, script errors), for failure messages. */
const pageProblems = new WeakMap<Page, string[]>();

/** A new page that records its problems (see `problems`), before it loads anything. */
export async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const problems: string[] = [];
  pageProblems.set(page, problems);
  page.on('requestfailed', (r) => problems.push(`${r.url()} failed: ${r.failure()?.errorText}`));
  page.on('response', (r) => void (r.status() >= 400 && problems.push(`${r.url()} answered ${r.status()}`)));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`console: ${m.text()}`)));
  page.setDefaultTimeout(15_000);
  return page;
}

export function problems(page: Page): string[] {
  return pageProblems.get(page) ?? [];
}

/** The noVNC canvas inside `#screen` (wsgate's pages and the test page; noVNC's own app: `#noVNC_container canvas`). */
const CANVAS = '#screen canvas';

/** The RGB of the noVNC canvas at (x, y) of the remote screen. */
export function pixel(page: Page, x: number, y: number, canvas = CANVAS): Promise<number[]> {
  return page.evaluate(
    ([px, py, sel]) => [...document.querySelector<HTMLCanvasElement>(sel as string)!.getContext('2d')!.getImageData(px as number, py as number, 1, 1).data.slice(0, 3)],
    [x, y, canvas] as const,
  );
}

/** Waits until the canvas shows `rgb` at (x, y) (within 4 per channel: the server may use lossy encodings). */
export async function waitForColour(page: Page, x: number, y: number, rgb: number[], canvas = CANVAS): Promise<void> {
  let last: number[] = [];
  await until(async () => (last = await pixel(page, x, y, canvas)).every((v, i) => Math.abs(v - rgb[i]!) <= 4), { timeoutMs: 10_000, everyMs: 50, what: () => `pixel (${x},${y}) is ${last}, expected ${rgb}` });
}

/** The canvas's own size: the remote screen's. */
export function canvasSize(page: Page): Promise<{ width: number; height: number }> {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel) as HTMLCanvasElement;
    return { width: c.width, height: c.height };
  }, CANVAS);
}

/** The canvas as shown on the page, in CSS pixels (scaled when the client scales). */
export async function canvasBox(page: Page): Promise<{ x: number; y: number; width: number; height: number }> {
  return (await page.locator(CANVAS).boundingBox())!;
}
