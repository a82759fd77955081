// Recording a real noVNC -> wsgate -> TigerVNC session and playing it back:
// the session is recorded twice at once (two gateways in front of the same
// desktop: --record in noVNC's format, and a config route recording FBS);
// the VNC server is then stopped, `wsgate replay` plays each file to a fresh
// noVNC client in Chromium, and that client shows the recorded desktop's
// colours without being asked for a password: the FBS file's handshake was
// rewritten to security type None when recorded, the noVNC file's is when replayed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { REPO_ROOT, spawnCli, tempDir, until } from './support/index.js';
import { startVncDesktop, type VncDesktop } from './support/vnc.js';
import { launchChromium, newPage, problems, startWsgate, waitForColour, type RunningGateway } from './support/browser.js';
import { novncDir } from '../src/server/novnc.js';
import { readRecording } from '../src/proxy/recording/playback.js';

declare global {
  interface Window {
    events?: Array<{ type: string; detail: unknown }>;
    rfb: { sendCredentials(c: { password: string }): void };
  }
}

const PASSWORD = 'rec-Pw1';
const ORANGE = [255, 128, 0];
const WHITE = [255, 255, 255];

let desktop: VncDesktop | null = null;
let context: BrowserContext;
let web: RunningGateway;
const stops: Array<() => Promise<unknown>> = [];

after(async () => {
  await context?.close();
  for (const stop of stops.reverse()) await stop();
  await desktop?.stop();
}, { timeout: 20_000 });
const dir = tempDir(after, 'record-e2e');

before(async () => {
  desktop = await startVncDesktop({ dir, password: PASSWORD, rootColour: '#ff8000', geometry: '800x600' });
  const webDir = join(dir, 'web');
  await cp(join(novncDir(), 'core'), join(webDir, 'core'), { recursive: true });
  await cp(join(novncDir(), 'vendor'), join(webDir, 'vendor'), { recursive: true });
  await cp(join(REPO_ROOT, 'test/fixtures/novnc-rfb.html'), join(webDir, 'rfb.html'));
  web = await startWsgate(['--web', webDir, '--record', join(dir, 'session')], `127.0.0.1:${desktop.port}`);
  stops.push(() => web.stop());
  context = await launchChromium(dir);
}, { timeout: 30_000 });

async function waitForEvent(page: Page, type: string): Promise<void> {
  try {
    await page.waitForFunction((t) => window.events?.some((e) => e.type === t), type);
  } catch (err) {
    const events = await page.evaluate(() => window.events?.map((e) => e.type)).catch(() => undefined);
    throw new Error(`no ${type} event (events: ${events?.join(',') ?? 'none'}; problems: ${problems(page).join(' | ') || 'none'}): ${(err as Error).message}`);
  }
}

/** One noVNC session through a gateway at `wsUrl`, kept open a moment after the desktop shows. */
async function recordSession(wsUrl: string): Promise<void> {
  const page = await newPage(context);
  try {
    await page.goto(`http://127.0.0.1:${web.port}/rfb.html?url=${encodeURIComponent(wsUrl)}`);
    await waitForEvent(page, 'credentialsrequired');
    await page.evaluate((pw) => window.rfb.sendCredentials({ password: pw }), PASSWORD);
    await waitForEvent(page, 'connect');
    await waitForColour(page, 700, 500, ORANGE);
    await waitForColour(page, 150, 40, WHITE);
    await new Promise((resolve) => setTimeout(resolve, 1500));
  } finally {
    await page.close();
  }
}

/** `wsgate replay FILE` to a fresh noVNC client; resolves with its page once the desktop's colours show. */
async function replayTo(file: string): Promise<Page> {
  const replay = await spawnCli(['replay', file, '--port', '0']);
  stops.push(async () => (replay.child.kill('SIGTERM'), await replay.exited));
  const page = await newPage(context);
  await page.goto(`http://127.0.0.1:${web.port}/rfb.html?url=${encodeURIComponent(`ws://127.0.0.1:${replay.port}/`)}`);
  await waitForEvent(page, 'connect');
  await waitForColour(page, 700, 500, ORANGE);
  await waitForColour(page, 150, 40, WHITE);
  const events = await page.evaluate(() => window.events!.map((e) => e.type));
  assert.ok(!events.includes('credentialsrequired'), `events: ${events}`);
  return page;
}

test('a recorded noVNC session replays to a fresh noVNC client with no VNC server running: noVNC format and FBS', { timeout: 90_000 }, async (t) => {
  // The FBS recording: a second gateway with a config route, in front of the same desktop.
  const fbsDir = join(dir, 'fbs');
  const config = join(dir, 'fbs.yaml');
  await writeFile(config, `listen: 127.0.0.1:0\ngracePeriod: 0\nroutes:\n  - path: "*"\n    handler: tcp-proxy\n    target: 127.0.0.1:${desktop!.port}\n    record: { dir: ${fbsDir}, format: fbs }\n`);
  const fbsGateway = await spawnCli(['--config', config]);
  stops.push(async () => (fbsGateway.child.kill('SIGTERM'), await fbsGateway.exited));

  await recordSession(`ws://127.0.0.1:${web.port}/websockify`);
  await recordSession(`ws://127.0.0.1:${fbsGateway.port}/websockify`);
  const novncFile = join(dir, 'session.1');
  await until(() => readFileSync(novncFile, 'latin1').endsWith("'EOF'];\n"), { timeoutMs: 5000, what: 'the noVNC recording complete' });
  const [fbsName] = readdirSync(fbsDir);
  const fbsFile = join(fbsDir, fbsName!);
  assert.match(fbsName!, /\.fbs$/);
  // The FBS file starts as a server offering None: version, [1 type: None], SecurityResult OK.
  await until(() => readRecording(readFileSync(fbsFile)).frames.length > 3, { timeoutMs: 5000, what: 'the FBS recording written' });
  const fbsHead = Buffer.concat(readRecording(readFileSync(fbsFile)).frames.map((f) => f.data)).subarray(0, 20);
  assert.equal(fbsHead.toString('latin1', 0, 12), 'RFB 003.008\n');
  assert.deepEqual([...fbsHead.subarray(12, 18)], [1, 1, 0, 0, 0, 0]);
  assert.ok(!readFileSync(fbsFile).includes(Buffer.from(PASSWORD)), 'no password in the file');

  // No VNC server from here on.
  await desktop!.stop();
  desktop = null;

  const fromNovnc = await replayTo(novncFile);
  t.after(() => fromNovnc.close());
  const fromFbs = await replayTo(fbsFile);
  t.after(() => fromFbs.close());
});
