// Guacamole end to end, for one generation of Guacamole's own JavaScript
// client (guacamole-common-js) in Debian's chromium, driven by playwright-core,
// through the real wsgate CLI to the guacd stand-in. Two routes:
//   /guac    handler: guacamole (settings from SQLite), the gateway does the handshake;
//   /tunnel  tcp-proxy with framing: guacamole, to a stand-in that greets with the
//            tunnel UUID and draws (a server past the handshake, as Guacamole's Java server).
// Each test file calls guacamoleE2eTests() once, with the npm package of one generation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { once, type EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { BrowserContext, Page } from 'playwright-core';
import { spawnCli } from './cli.js';
import { launchChromium, newPage, problems } from './browser.js';
import { tempDir } from './temp-dir.js';
import { instruction } from './guacamole.js';
import { startGuacdStandin, type Standin, type StandinConnect } from './guacd-standin.js';

declare global {
  interface Window {
    start(path: string, query: string): void;
    received: { first: string | null; messages: number; pings: number };
    t: {
      states: number[];
      tunnelStates: number[];
      errors: Array<[number, string]>;
      names: string[];
      uuid: string | null;
      client: { disconnect(): void; getDisplay(): { getWidth(): number; flatten(): HTMLCanvasElement } };
    };
  }
}

export interface ClientGeneration {
  /** The npm package holding it. */
  package: string;
  /** Its tunnel buffers instructions across messages (Guacamole.Parser, 1.5.2 and later); 1.5.0 parses each message on its own. */
  buffering: boolean;
}

/** The package's CommonJS build, wrapped to publish window.Guacamole; and its folder and version. */
async function clientScript(name: string): Promise<{ source: string; version: string; main: string }> {
  // Both packages' "exports" forbid the package.json subpath: resolve the main, walk up to the package.
  const main = createRequire(import.meta.url).resolve(name);
  let dir = dirname(main);
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')).name !== name) {
    if (dirname(dir) === dir) throw new Error(`no package.json of ${name} above ${main}`);
    dir = dirname(dir);
  }
  const { version } = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string };
  const cjs = await readFile(main, 'utf8');
  const source = `(function(){var module={exports:{}},exports=module.exports;\n${cjs}\n;window.Guacamole=module.exports.default||module.exports.Guacamole||module.exports;})();`;
  return { source, version, main };
}

// The page records what the WebSocket receives (the first message, how many carry a ping answer) beside the client.
const PAGE = `<!doctype html><meta charset="utf-8"><title>wsgate Guacamole e2e</title>
<style>body { margin: 0 }</style>
<script>
(function () {
  var Native = window.WebSocket;
  var seen = window.received = { first: null, messages: 0, pings: 0 };
  function Recording(url, protocols) {
    var ws = new Native(url, protocols);
    ws.addEventListener('message', function (e) {
      if (typeof e.data !== 'string') return;
      if (seen.first === null) seen.first = e.data;
      seen.messages++;
      if (/(^|;)0\\.,4\\.ping,/.test(e.data)) seen.pings++;
    });
    return ws;
  }
  Recording.prototype = Native.prototype;
  Recording.CONNECTING = 0; Recording.OPEN = 1; Recording.CLOSING = 2; Recording.CLOSED = 3;
  window.WebSocket = Recording;
})();
</script>
<script src="guacamole-common.js"></script>
<div id="display"></div>
<script>
window.start = function (path, query) {
  var tunnel = new Guacamole.WebSocketTunnel(path);
  var client = new Guacamole.Client(tunnel);
  var t = window.t = { states: [], tunnelStates: [], errors: [], names: [], uuid: null, client: client };
  client.onstatechange = function (s) { t.states.push(s); };
  client.onerror = function (status) { t.errors.push([status.code, status.message]); };
  client.onname = function (name) { t.names.push(name); };
  tunnel.onstatechange = function (s) { t.tunnelStates.push(s); if (tunnel.uuid) t.uuid = tunnel.uuid; };
  tunnel.onerror = function (status) { t.errors.push([status.code, 'tunnel: ' + status.message]); };
  var element = client.getDisplay().getElement();
  document.getElementById('display').appendChild(element);
  var mouse = new Guacamole.Mouse(element);
  mouse.onEach(['mousedown', 'mouseup', 'mousemove'], function (e) { client.sendMouseState(e.state); });
  var keyboard = new Guacamole.Keyboard(document);
  keyboard.onkeydown = function (keysym) { client.sendKeyEvent(1, keysym); };
  keyboard.onkeyup = function (keysym) { client.sendKeyEvent(0, keysym); };
  client.connect(query);
};
</script>`;

const CONNECTED = 3; // Guacamole.Client.State
const DISCONNECTED = 5;
const TUNNEL_CLOSED = 2; // Guacamole.Tunnel.State
const UNSTABLE = 3;
const ORANGE = [255, 128, 0];
const BLUE = [0, 0, 255];
const ENTER = '65293'; // keysym 0xff0d
/** Multi-byte text (no astral characters: the 1.5.0 client counts UTF-16 units) long enough to span messages. */
const NAMES = Array.from({ length: 40 }, (_, i) => `${i}:` + 'Grüße, 世界; ünïcödé. €'.repeat(150 + i));

/** The next `what` event of the stand-in whose arguments satisfy `pred`. */
function nextEvent(events: EventEmitter, what: string, pred: (args: string[]) => boolean): Promise<string[]> {
  return new Promise((resolve) => {
    const on = (args: string[]) => {
      if (!pred(args)) return;
      events.off(what, on);
      resolve(args);
    };
    events.on(what, on);
  });
}

export function guacamoleE2eTests(generation: ClientGeneration): void {
  let context: BrowserContext;
  let guacd: Standin;
  let refusing: Standin;
  let greeting: Standin;
  let gateway: { port: number; output(): string; stop(): Promise<void> };
  let what = '';

  before(async () => {
    const client = await clientScript(generation.package);
    what = `${generation.package}@${client.version} (${client.main})`;
    // The generation is the one claimed: the old tunnel refuses a message not ending on an instruction boundary.
    assert.equal(client.source.includes('Incomplete instruction.'), !generation.buffering, `${what}: not the ${generation.buffering ? 'buffering' : '1.5.0'} tunnel`);
    // guacd sends nop every 5 s when idle (its default), also here.
    guacd = await startGuacdStandin({ square: true, afterDraw: NAMES.map((n) => instruction('name', n)).join('') });
    refusing = await startGuacdStandin({ refuse: { message: 'No such desktop', status: 0x0207 } });
    // Silent after drawing: only the gateway's ping answers reach the browser.
    greeting = await startGuacdStandin({ greet: true, square: true, nopMs: 600_000 });
    const db = new Database(join(dir, 'conns.db'));
    db.exec('CREATE TABLE conns (token TEXT, protocol TEXT, hostname TEXT, port TEXT, password TEXT, guacdhost TEXT, guacdport TEXT)');
    db.prepare('INSERT INTO conns VALUES (?, ?, ?, ?, ?, ?, ?)').run('tok-desk', 'vnc', 'desk.lan', '5901', 'pw', null, null);
    db.prepare('INSERT INTO conns VALUES (?, ?, ?, ?, ?, ?, ?)').run('tok-gone', 'vnc', 'gone.lan', '5901', 'pw', '127.0.0.1', String(refusing.port));
    db.close();
    await mkdir(join(dir, 'web'));
    await writeFile(join(dir, 'web', 'index.html'), PAGE);
    await writeFile(join(dir, 'web', 'guacamole-common.js'), client.source);
    const config = join(dir, 'wsgate.yaml');
    await writeFile(
      config,
      `listen: 127.0.0.1:0
web: web
routes:
  - path: /guac
    handler: guacamole
    guacd: 127.0.0.1:${guacd.port}
    resolver: { type: sqlite, path: conns.db, query: "SELECT * FROM conns WHERE token = ?" }
  - path: /guac-http
    handler: guacamole
    guacd: 127.0.0.1:${guacd.port}
    refuse: http
    resolver: { type: sqlite, path: conns.db, query: "SELECT * FROM conns WHERE token = ?" }
  - path: /tunnel
    handler: tcp-proxy
    target: 127.0.0.1:${greeting.port}
    framing: guacamole
`,
    );
    const cli = await spawnCli(['--config', config]);
    gateway = {
      port: cli.port,
      output: cli.output,
      stop: async () => {
        if (cli.child.exitCode === null) cli.child.kill('SIGTERM');
        await cli.exited;
      },
    };
    context = await launchChromium(dir);
  }, { timeout: 30_000 });

  after(async () => {
    await context?.close();
    await gateway?.stop();
    await guacd?.close();
    await refusing?.close();
    await greeting?.close();
  }, { timeout: 20_000 });
  // Registered after the hook above, so removed after the browser has closed.
  const dir = tempDir(after, 'guac-e2e');

  async function openTunnel(path: string, query: string): Promise<Page> {
    const page = await newPage(context);
    await page.goto(`http://127.0.0.1:${gateway.port}/`);
    await page.evaluate(([p, q]) => window.start(p!, q!), [path, query]);
    return page;
  }

  /** Waits until the client is connected and the stand-in's screen is drawn; checks it at two places. */
  async function checkScreen(page: Page): Promise<void> {
    const detail = () => `problems: ${problems(page).join('; ')}`;
    await page.waitForFunction((s) => window.t.states.includes(s), CONNECTED).catch((e) => assert.fail(`${e}; ${detail()}`));
    await page.waitForFunction(() => window.t.client.getDisplay().getWidth() === 1024);
    const rgbAt = (x: number, y: number) => page.evaluate(([px, py]) => [...window.t.client.getDisplay().flatten().getContext('2d')!.getImageData(px!, py!, 1, 1).data.slice(0, 3)], [x, y]);
    // The second frame (the blue square) may follow the first by a moment.
    await page.waitForFunction(() => window.t.client.getDisplay().flatten().getContext('2d')!.getImageData(250, 150, 1, 1).data[2] === 255);
    assert.deepEqual(await rgbAt(250, 150), BLUE);
    assert.deepEqual(await rgbAt(500, 400), ORANGE);
    assert.deepEqual(await rgbAt(199, 99), ORANGE);
  }

  /** A key pressed and a click in the page reach the stand-in as key and mouse instructions. */
  async function checkInput(page: Page, standin: Standin, x: number, y: number): Promise<void> {
    const down = nextEvent(standin.events, 'key', (a) => a[0] === ENTER && a[1] === '1');
    const up = nextEvent(standin.events, 'key', (a) => a[0] === ENTER && a[1] === '0');
    const pressed = nextEvent(standin.events, 'mouse', (a) => a[2] === '1');
    const released = nextEvent(standin.events, 'mouse', (a) => a[2] === '0' && a[0] === String(x));
    await page.keyboard.press('Enter');
    await page.mouse.click(x, y);
    await Promise.all([down, up]);
    assert.deepEqual((await pressed).slice(0, 3), [String(x), String(y), '1']);
    assert.deepEqual((await released).slice(0, 3), [String(x), String(y), '0']);
  }

  async function stateOf(page: Page) {
    return page.evaluate(() => ({ states: window.t.states, tunnelStates: window.t.tunnelStates, errors: window.t.errors, seen: window.received }));
  }

  test(`[${generation.package}] handler guacamole: connects, draws, key and click reach guacd, 20 s without drawing keep the tunnel up`, { timeout: 60_000 }, async (t) => {
    t.diagnostic(`client: ${what}`);
    const connected = once(guacd.events, 'connect');
    const page = await openTunnel('/guac', 'token=tok-desk&GUAC_WIDTH=1280&GUAC_HEIGHT=720&GUAC_DPI=96&GUAC_IMAGE=image/png&GUAC_TIMEZONE=Europe/Paris');
    t.after(() => page.close());
    const [info] = (await connected) as [StandinConnect];
    assert.deepEqual(info.size, ['1280', '720', '96']);
    assert.equal(info.values.hostname, 'desk.lan');
    await checkScreen(page);
    assert.match((await page.evaluate(() => window.t.uuid))!, /^[0-9a-f-]{36}$/);

    // Instructions with long multi-byte values, sent by guacd in random chunks: whole per message for the client.
    await page.waitForFunction((n) => window.t.names.length === n, NAMES.length);
    assert.deepEqual(await page.evaluate(() => window.t.names), NAMES);

    await checkInput(page, guacd, 250, 150);

    // 20 s with nothing drawn (guacd's nop every 5 s only): past the client's 1.5 s (unstable) and 15 s (gives up)
    // and the gateway's 15 s backend idle timeout. The answered pings and the gateway's nop keep it talking.
    const internal: string[][] = [];
    const onInstruction = (i: string[]) => i[0] === '' && internal.push(i);
    guacd.events.on('instruction', onInstruction);
    t.after(() => guacd.events.off('instruction', onInstruction));
    const before = await stateOf(page);
    await page.waitForTimeout(20_000);
    const after = await stateOf(page);
    assert.ok(!after.tunnelStates.includes(UNSTABLE) && !after.tunnelStates.includes(TUNNEL_CLOSED), `tunnel states: ${after.tunnelStates}`);
    assert.ok(after.states.every((s) => s <= CONNECTED), `client states: ${after.states}`);
    assert.deepEqual(after.errors, []);
    assert.ok(after.seen.pings - before.seen.pings >= 10, `ping answers in 20 s: ${after.seen.pings - before.seen.pings}`);
    assert.deepEqual(internal, [], 'the client\'s pings must not reach guacd');
    // Still up: input goes through.
    await checkInput(page, guacd, 300, 180);

    const disconnected = nextEvent(guacd.events, 'instruction', (i) => i[0] === 'disconnect');
    await page.evaluate(() => window.t.client.disconnect());
    await disconnected;
  });

  test(`[${generation.package}] handler guacamole: a connection guacd refuses ends in the client's error, guacd's status (519)`, { timeout: 30_000 }, async (t) => {
    const page = await openTunnel('/guac', 'token=tok-gone');
    t.after(() => page.close());
    await page.waitForFunction((s) => window.t.errors.length > 0 && window.t.states.includes(s), DISCONNECTED);
    const errors = await page.evaluate(() => window.t.errors);
    assert.equal(errors[0]![0], 519, JSON.stringify(errors));
    assert.ok(errors.every(([code]) => code === 519), `every report carries the status: ${JSON.stringify(errors)}`);
  });

  test(`[${generation.package}] handler guacamole, refuse: http: an unknown token ends in the client's error state`, { timeout: 30_000 }, async (t) => {
    const page = await openTunnel('/guac-http', 'token=nope');
    t.after(() => page.close());
    // The client's error state: onerror called and the tunnel closed (the application would disconnect then).
    await page.waitForFunction((closed) => window.t.errors.length > 0 && window.t.tunnelStates.includes(closed), TUNNEL_CLOSED);
    const { errors, states, tunnelStates } = await stateOf(page);
    // With refuse: http a refused handshake reaches a browser as 1006, which the client maps to UPSTREAM_NOT_FOUND.
    assert.equal(errors[0]![0], 0x0207, JSON.stringify(errors));
    assert.equal(tunnelStates.at(-1), TUNNEL_CLOSED, `tunnel states: ${tunnelStates}`);
    assert.ok(!states.includes(CONNECTED), `client states: ${states}`);
  });

  test(`[${generation.package}] handler guacamole, default refusal mode: an unknown token is told CLIENT_UNAUTHORIZED (769) in the close frame`, { timeout: 30_000 }, async (t) => {
    const page = await openTunnel('/guac', 'token=nope');
    t.after(() => page.close());
    await page.waitForFunction(() => window.t.errors.length > 0);
    const { errors } = await stateOf(page);
    assert.equal(errors[0]![0], 0x0301, JSON.stringify(errors));
    assert.ok(errors.every(([code]) => code === 0x0301), `every report carries the status: ${JSON.stringify(errors)}`);
  });

  test(`[${generation.package}] tcp-proxy framing guacamole: the server's UUID reaches the client first, it draws, input reaches the server, pings are answered by the gateway`, { timeout: 40_000 }, async (t) => {
    const greeted = once(greeting.events, 'greeted');
    const internal: string[][] = [];
    const onInstruction = (i: string[]) => i[0] === '' && internal.push(i);
    greeting.events.on('instruction', onInstruction);
    t.after(() => greeting.events.off('instruction', onInstruction));
    const page = await openTunnel('/tunnel', 'whatever=the client sends');
    t.after(() => page.close());
    const [uuid] = (await greeted) as [string];
    await checkScreen(page);
    const { seen } = await stateOf(page);
    assert.ok(seen.first!.startsWith(instruction('', uuid)), `first message: ${seen.first!.slice(0, 80)}`);
    assert.equal(await page.evaluate(() => window.t.uuid), uuid);

    await checkInput(page, greeting, 250, 150);

    // The server now says nothing at all (and the route sends no nop): the gateway's answers to the pings alone keep the tunnel stable.
    const before = await stateOf(page);
    await page.waitForTimeout(4000);
    const after = await stateOf(page);
    assert.ok(!after.tunnelStates.includes(UNSTABLE) && !after.tunnelStates.includes(TUNNEL_CLOSED), `tunnel states: ${after.tunnelStates}`);
    assert.deepEqual(after.errors, []);
    assert.ok(after.seen.pings - before.seen.pings >= 3, `ping answers in 4 s: ${after.seen.pings - before.seen.pings}`);
    assert.equal(after.seen.messages - before.seen.messages, after.seen.pings - before.seen.pings, 'nothing but ping answers while the server is silent');
    assert.deepEqual(internal, [], 'the client\'s pings must not reach the server');

    const disconnected = nextEvent(greeting.events, 'instruction', (i) => i[0] === 'disconnect');
    await page.evaluate(() => window.t.client.disconnect());
    await disconnected;
  });
}
