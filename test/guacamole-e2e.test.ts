// Guacamole end to end: Guacamole's own JavaScript client (guacamole-common-js)
// in Debian's chromium, driven by playwright-core <- the real wsgate CLI
// (handler: guacamole, settings from SQLite) <- the guacd stand-in.
//
// The client comes from the npm package guacamole-common-js when it is
// installed, or from WSGATE_GUACAMOLE_JS: a script that defines the global
// `Guacamole` (e.g. guacamole-client's modules/*.js concatenated, to test
// another client generation). Without either the tests are skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { spawnCli } from './support/index.js';
import { instruction } from './support/guacamole.js';
import { startGuacdStandin, type Standin, type StandinConnect } from './support/guacd-standin.js';

declare global {
  interface Window {
    start(query: string, path?: string): void;
    t: {
      states: number[];
      tunnelStates: number[];
      errors: Array<[number, string]>;
      names: string[];
      uuid: string | null;
      client: { sendKeyEvent(pressed: 0 | 1, keysym: number): void; sendMouseState(state: unknown): void; disconnect(): void; getDisplay(): { getWidth(): number; getHeight(): number; flatten(): HTMLCanvasElement } };
    };
    Guacamole: { Mouse: { State: new (x: number, y: number, left: boolean, middle: boolean, right: boolean, up: boolean, down: boolean) => unknown } };
  }
}

/** The client script and what it is, or why there is none. */
async function clientScript(): Promise<{ source: string; what: string } | { skip: string }> {
  const file = process.env.WSGATE_GUACAMOLE_JS;
  if (file) return { source: await readFile(file, 'utf8'), what: file };
  try {
    const main = createRequire(import.meta.url).resolve('guacamole-common-js');
    // The package's CommonJS build, given a `module` and published as window.Guacamole.
    const cjs = await readFile(main, 'utf8');
    return { source: `(function(){var module={exports:{}},exports=module.exports;\n${cjs}\n;window.Guacamole=module.exports.default||module.exports.Guacamole||module.exports;})();`, what: main };
  } catch {
    return { skip: 'guacamole-common-js is not installed (npm i -D guacamole-common-js@1.5.0) and WSGATE_GUACAMOLE_JS is not set' };
  }
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>wsgate Guacamole e2e</title>
<script src="guacamole-common.js"></script>
<div id="display"></div>
<script>
window.start = function (query, path) {
  var tunnel = new Guacamole.WebSocketTunnel(path || '/guac');
  var client = new Guacamole.Client(tunnel);
  var t = window.t = { states: [], tunnelStates: [], errors: [], names: [], uuid: null, client: client };
  client.onstatechange = function (s) { t.states.push(s); };
  client.onerror = function (status) { t.errors.push([status.code, status.message]); };
  client.onname = function (name) { t.names.push(name); };
  tunnel.onstatechange = function (s) { t.tunnelStates.push(s); if (tunnel.uuid) t.uuid = tunnel.uuid; };
  tunnel.onerror = function (status) { t.errors.push([status.code, 'tunnel: ' + status.message]); };
  document.getElementById('display').appendChild(client.getDisplay().getElement());
  client.connect(query);
};
</script>`;

const CONNECTED = 3; // Guacamole.Client.State
const UNSTABLE = 3; // Guacamole.Tunnel.State
const ORANGE = [255, 128, 0];
/** Multi-byte text (no astral characters: the 1.5.0 client counts UTF-16 units) long enough to span messages. */
const NAMES = Array.from({ length: 40 }, (_, i) => `${i}:` + 'Grüße, 世界; ünïcödé. €'.repeat(150 + i));

let dir = '';
let context: BrowserContext;
let standin: Standin;
let refusing: Standin;
let gateway: { port: number; stop(): Promise<void> };
const script = await clientScript();

before(async () => {
  if ('skip' in script) return;
  dir = await mkdtemp(join(tmpdir(), 'wsgate-guac-e2e-'));
  standin = await startGuacdStandin({ nopMs: 60_000, afterDraw: NAMES.map((n) => instruction('name', n)).join('') });
  refusing = await startGuacdStandin({ refuse: { message: 'No such desktop', status: 0x0207 } });
  const db = new Database(join(dir, 'conns.db'));
  db.exec('CREATE TABLE conns (token TEXT, protocol TEXT, hostname TEXT, port TEXT, password TEXT, guacdhost TEXT, guacdport TEXT)');
  db.prepare('INSERT INTO conns VALUES (?, ?, ?, ?, ?, ?, ?)').run('tok-desk', 'vnc', 'desk.lan', '5901', 'pw', null, null);
  db.prepare('INSERT INTO conns VALUES (?, ?, ?, ?, ?, ?, ?)').run('tok-gone', 'vnc', 'gone.lan', '5901', 'pw', '127.0.0.1', String(refusing.port));
  db.close();
  await mkdir(join(dir, 'web'));
  await writeFile(join(dir, 'web', 'index.html'), PAGE);
  await writeFile(join(dir, 'web', 'guacamole-common.js'), script.source);
  const config = join(dir, 'wsgate.yaml');
  await writeFile(config, `listen: 127.0.0.1:0\nweb: web\nroutes:\n  - path: /guac\n    handler: guacamole\n    guacd: 127.0.0.1:${standin.port}\n    resolver: { type: sqlite, path: conns.db, query: "SELECT * FROM conns WHERE token = ?" }\n  - path: /guac-http\n    handler: guacamole\n    guacd: 127.0.0.1:${standin.port}\n    refuse: http\n    resolver: { type: sqlite, path: conns.db, query: "SELECT * FROM conns WHERE token = ?" }\n`);
  const cli = await spawnCli(['--config', config]);
  gateway = {
    port: cli.port,
    stop: async () => {
      if (cli.child.exitCode === null) cli.child.kill('SIGTERM');
      await cli.exited;
    },
  };
  context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, { timeout: 30_000 });

after(async () => {
  await context?.close();
  await gateway?.stop();
  await standin?.close();
  await refusing?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}, { timeout: 20_000 });

async function openTunnel(query: string, path = '/guac'): Promise<Page> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.setDefaultTimeout(15_000);
  await page.goto(`http://127.0.0.1:${gateway.port}/`);
  await page.evaluate(([q, p]) => window.start(q!, p!), [query, path]);
  return page;
}

const skip = 'skip' in script ? script.skip : false;

test('the Guacamole web client connects through wsgate, draws, sends keys and mouse, stays stable when idle', { timeout: 60_000, skip }, async (t) => {
  t.diagnostic(`client: ${'what' in script ? script.what : ''}`);
  const connected = once(standin.events, 'connect');
  const page = await openTunnel('token=tok-desk&GUAC_WIDTH=1280&GUAC_HEIGHT=720&GUAC_DPI=96&GUAC_IMAGE=image/png&GUAC_TIMEZONE=Europe/Paris');
  t.after(() => page.close());
  const [info] = (await connected) as [StandinConnect];
  assert.deepEqual(info.size, ['1280', '720', '96']);
  assert.equal(info.values.hostname, 'desk.lan');
  await page.waitForFunction((s) => window.t.states.includes(s), CONNECTED);
  assert.match((await page.evaluate(() => window.t.uuid))!, /^[0-9a-f-]{36}$/);

  // The stand-in's screen: 1024x768 orange.
  await page.waitForFunction(() => window.t.client.getDisplay().getWidth() === 1024);
  const rgb = await page.evaluate(() => [...window.t.client.getDisplay().flatten().getContext('2d')!.getImageData(500, 400, 1, 1).data.slice(0, 3)]);
  assert.deepEqual(rgb, ORANGE);

  // Instructions with long multi-byte values, in random chunks: each message parsed whole by the client.
  await page.waitForFunction((n) => window.t.names.length === n, NAMES.length);
  assert.deepEqual(await page.evaluate(() => window.t.names), NAMES);

  const key = once(standin.events, 'key');
  const mouse = once(standin.events, 'mouse');
  await page.evaluate(() => {
    window.t.client.sendKeyEvent(1, 0xff0d);
    window.t.client.sendMouseState(new window.Guacamole.Mouse.State(10, 20, true, false, false, false, false));
  });
  assert.deepEqual((await key)[0], ['65293', '1']);
  assert.deepEqual((await mouse)[0], ['10', '20', '1']);

  // guacd (the stand-in) now says nothing; the answered pings (and the gateway's nop) keep the tunnel from turning unstable (1.5 s).
  const internal: string[][] = [];
  standin.events.on('instruction', (i: string[]) => i[0] === '' && internal.push(i));
  await page.waitForTimeout(4000);
  const { tunnelStates, errors } = await page.evaluate(() => ({ tunnelStates: window.t.tunnelStates, errors: window.t.errors }));
  assert.ok(!tunnelStates.includes(UNSTABLE), `tunnel states: ${tunnelStates}`);
  assert.deepEqual(errors, []);
  assert.deepEqual(internal, [], 'the client\'s pings must not reach guacd');

  const disconnected = new Promise<void>((resolve) => standin.events.on('instruction', (i: string[]) => i[0] === 'disconnect' && resolve()));
  await page.evaluate(() => window.t.client.disconnect());
  await disconnected;
});

test('a connection guacd refuses: the web client reports guacd\'s status (519)', { timeout: 30_000, skip }, async (t) => {
  const page = await openTunnel('token=tok-gone');
  t.after(() => page.close());
  await page.waitForFunction(() => window.t.errors.length > 0);
  const errors = await page.evaluate(() => window.t.errors);
  assert.equal(errors[0]![0], 519, JSON.stringify(errors));
  assert.ok(errors.every(([code]) => code === 519), `every report carries the status: ${JSON.stringify(errors)}`);
});

test('an unknown token: the handshake is refused and the client gives up', { timeout: 30_000, skip }, async (t) => {
  const page = await openTunnel('token=nope', '/guac-http');
  t.after(() => page.close());
  await page.waitForFunction(() => window.t.errors.length > 0);
  const errors = await page.evaluate(() => window.t.errors);
  // With refuse: http a refused handshake reaches a browser as 1006, which the client maps to UPSTREAM_NOT_FOUND.
  assert.equal(errors[0]![0], 0x0207, JSON.stringify(errors));
});

test('an unknown token under the default refusal mode: the client is told CLIENT_UNAUTHORIZED (769) in the close frame', { timeout: 30_000, skip }, async (t) => {
  const page = await openTunnel('token=nope');
  t.after(() => page.close());
  await page.waitForFunction(() => window.t.errors.length > 0);
  const errors = await page.evaluate(() => window.t.errors);
  assert.equal(errors[0]![0], 0x0301, JSON.stringify(errors));
  assert.ok(errors.every(([code]) => code === 0x0301), `every report carries the status: ${JSON.stringify(errors)}`);
});
