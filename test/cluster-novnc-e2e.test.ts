// noVNC in Chromium -> the gateway (a SQLite lookup names the cluster proxy to
// dial and the VNC node behind it) -> the real `wsgate cluster-proxy` CLI (v2
// hand-off) -> TigerVNC: the page connects with the VNC password and shows the
// desktop's colour, so the hand-off carries a real RFB session unchanged.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext } from 'playwright-core';
import { spawnCli, startGateway, tempDir, type RunningGateway } from './support/index.js';
import { vncDatabase, workdir } from './support/cluster.js';
import { launchChromium, newPage, problems, waitForColour } from './support/browser.js';
import { startVncDesktop, type VncDesktop } from './support/vnc.js';

const PASSWORD = 'cl-Pw42';
const TEAL = [0, 128, 128];

let desktop: VncDesktop;
let context: BrowserContext;

after(async () => {
  await context?.close();
  await desktop?.stop();
}, { timeout: 20_000 });
const dir = tempDir(after, 'cluster-novnc');

before(async () => {
  desktop = await startVncDesktop({ dir, password: PASSWORD, rootColour: '#008080', geometry: '640x480' });
  context = await launchChromium(dir);
}, { timeout: 30_000 });

test('noVNC -> gateway -> wsgate cluster-proxy (v2) -> TigerVNC: connects and shows the desktop', { timeout: 60_000 }, async (t) => {
  const { dir: work, secretFile } = workdir(t);
  const proxy = await spawnCli(['cluster-proxy', '--listen', '127.0.0.1:0', '--secret-file', secretFile, '--versions', '2', '--allow', `127.0.0.1:${desktop.port}`]);
  t.after(() => proxy.child.kill('SIGKILL'));
  const resolver = vncDatabase(work, [{ key: 'desk-1', nodehost: '127.0.0.1', nodeport: desktop.port, connecthost: '127.0.0.1', connectport: proxy.port }]);
  const gw: RunningGateway = await startGateway({
    web: { novnc: 'builtin' },
    routes: [{ path: '/websockify', handler: 'tcp-proxy', resolver, allow: [`127.0.0.1:${proxy.port}`], clusterHandoff: { version: 2, secretFile } }],
  });
  t.after(() => gw.stop());
  const page = await newPage(context);
  t.after(() => page.close());
  await page.goto(`http://127.0.0.1:${gw.port}/vnc.html?autoconnect=1&password=${PASSWORD}&path=websockify%3Fkey%3Ddesk-1`);
  await page.waitForFunction(() => document.body.dataset.state === 'connected', undefined, { timeout: 20_000 });
  await waitForColour(page, 600, 440, TEAL);
  assert.deepEqual(problems(page), []);
  // The proxy logged the relay to the node it was told about.
  assert.match(proxy.output(), new RegExp(`127\\.0\\.0\\.1:${desktop.port}`));
});
