// What a page in a real browser (Debian's chromium, driven by
// playwright-core) learns of a refusal, which is why `refuse: auto` is the
// default: an HTTP refusal reaches the page as a bare 1006 with no reason,
// a close frame's code and reason do reach it, and wsgate's noVNC client
// shows that reason. A page from another site still learns nothing (the
// Origin refusal is HTTP in every mode).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { spawnCli, tempDir } from './support/index.js';

const dir = tempDir(after, 'refusal-browser');
let context: BrowserContext;
const gateways: Array<Awaited<ReturnType<typeof spawnCli>>> = [];

async function gateway(extra: string[]): Promise<number> {
  const tokens = join(dir, 'tokens.cfg');
  await writeFile(tokens, 'known: 127.0.0.1:9\n');
  const cli = await spawnCli(['--grace-period', '0', '--novnc-app', 'builtin', '--token-plugin', 'TokenFile', '--token-source', tokens, ...extra, '127.0.0.1:0']);
  gateways.push(cli);
  return cli.port;
}

before(async () => {
  context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, { timeout: 30_000 });

after(async () => {
  await context?.close();
  for (const g of gateways) g.child.kill('SIGKILL');
});

/** Opens `pageUrl`, then a WebSocket to `wsUrl` from it; the close event's code and reason. */
async function closeSeenBy(pageUrl: string, wsUrl: string): Promise<{ code: number; reason: string }> {
  const page = await context.newPage();
  try {
    await page.goto(pageUrl);
    return await page.evaluate(
      (url) =>
        new Promise<{ code: number; reason: string }>((resolve) => {
          const ws = new WebSocket(url);
          ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
        }),
      wsUrl,
    );
  } finally {
    await page.close();
  }
}

test('refuse: http reaches a page as 1006 and no reason; auto (the default) gives it the code and the reason', { timeout: 30_000 }, async () => {
  const auto = await gateway([]);
  const http = await gateway(['--refuse', 'http']);
  const page = (port: number) => `http://127.0.0.1:${port}/vnc.html`;
  assert.deepEqual(await closeSeenBy(page(http), `ws://127.0.0.1:${http}/websockify?token=unknown`), { code: 1006, reason: '' });
  assert.deepEqual(await closeSeenBy(page(auto), `ws://127.0.0.1:${auto}/websockify?token=unknown`), { code: 1008, reason: 'unknown or expired token' });
  assert.deepEqual(await closeSeenBy(page(auto), `ws://127.0.0.1:${auto}/websockify?token=known`), { code: 1011, reason: 'backend unreachable' });
  // same-host: a page on this host but another port may connect; a page of another site learns nothing.
  assert.deepEqual(await closeSeenBy(page(http), `ws://127.0.0.1:${auto}/websockify?token=unknown`), { code: 1008, reason: 'unknown or expired token' });
  assert.deepEqual(await closeSeenBy(`http://localhost:${http}/vnc.html`, `ws://127.0.0.1:${auto}/websockify?token=unknown`), { code: 1006, reason: '' });
});

test("wsgate's noVNC page shows the reason of a refusal", { timeout: 30_000 }, async () => {
  const port = await gateway([]);
  const page = await context.newPage();
  try {
    await page.goto(`http://127.0.0.1:${port}/vnc.html?autoconnect=1&path=websockify%3Ftoken%3Dunknown`);
    await page.waitForFunction(() => document.body.dataset.state === 'failed', undefined, { timeout: 15_000 });
    assert.equal(await page.locator('#status').innerText(), 'The gateway closed the connection: unknown or expired token (code 1008)');
  } finally {
    await page.close();
  }
});
