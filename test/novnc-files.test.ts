// Which noVNC client `--novnc` serves, over HTTP: noVNC's own application
// found on the machine or named by its directory, else wsgate's client on
// the @novnc/novnc package; the vnc.html, vnc_lite.html and vnc_auto.html
// names either way; and the config errors for a directory that holds none.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildConfig } from '../src/config/build.js';
import { builtinAppDir, findInstalledNovnc, resolveNovncApp } from '../src/server/novnc.js';
import { REPO_ROOT, startGateway, tempDir, type RunningGateway } from './support/index.js';

const dir = tempDir(after, 'novnc-files');
/** A stand-in for a noVNC checkout: vnc.html, vnc_lite.html, app/ and its own core/. */
let appDir = '';
/** The same with an index.html and a vnc_auto.html of its own, which win over the aliases. */
let fullDir = '';
let emptyDir = '';
let builtin: RunningGateway;
let app: RunningGateway;
let full: RunningGateway;

const APP: Record<string, string> = {
  'vnc.html': '<!DOCTYPE html><title>fake noVNC vnc.html</title>',
  'vnc_lite.html': '<!DOCTYPE html><title>fake noVNC vnc_lite.html</title>',
  'app/ui.js': 'export const ui = "fake";',
  'core/rfb.js': 'export default class RFB { /* the checkout\'s own */ }',
};

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, body] of Object.entries(files)) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), body);
  }
}

before(async () => {
  appDir = join(dir, 'noVNC');
  fullDir = join(dir, 'noVNC-full');
  emptyDir = join(dir, 'empty');
  await writeTree(appDir, APP);
  await writeTree(fullDir, { ...APP, 'index.html': 'its own index', 'vnc_auto.html': 'its own vnc_auto' });
  await mkdir(emptyDir);
  const routes = [{ path: '/websockify', handler: 'echo' }];
  builtin = await startGateway({ web: { novnc: 'builtin' }, routes });
  app = await startGateway({ web: { novnc: appDir }, routes });
  full = await startGateway({ web: { novnc: fullDir }, routes });
});
after(async () => {
  await builtin.stop();
  await app.stop();
  await full.stop();
});

async function get(port: number, path: string): Promise<{ status: number; type: string | undefined; body: string }> {
  const req = http.get({ host: '127.0.0.1', port, path, agent: false });
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  let body = '';
  for await (const c of res) body += c;
  return { status: res.statusCode!, type: res.headers['content-type'], body };
}

test('auto: noVNC\'s application where one is installed, else wsgate\'s client', () => {
  assert.equal(findInstalledNovnc([emptyDir, appDir]), appDir);
  assert.deepEqual(resolveNovncApp('auto', [emptyDir, appDir]), { dir: appDir });
  assert.equal(findInstalledNovnc([emptyDir, join(dir, 'missing')]), null);
  assert.equal(resolveNovncApp('auto', [emptyDir]), 'builtin');
  assert.equal(resolveNovncApp('builtin', [appDir]), 'builtin', 'builtin is builtin even where noVNC is installed');
  assert.deepEqual(resolveNovncApp({ dir: appDir }), { dir: appDir });
  // A vnc.html without noVNC's core next to it is not an application.
  assert.equal(findInstalledNovnc([join(REPO_ROOT, 'test', 'fixtures')]), null);
});

test('builtin: vnc.html (also / and /index.html), vnc_lite.html (also /vnc_auto.html), its modules and noVNC\'s core', { timeout: 10_000 }, async () => {
  const vnc = await get(builtin.port, '/vnc.html');
  const lite = await get(builtin.port, '/vnc_lite.html');
  assert.equal(vnc.status, 200);
  assert.match(vnc.body, /src="client\/vnc\.js"/);
  assert.match(lite.body, /src="client\/lite\.js"/);
  for (const path of ['/', '/index.html']) assert.equal((await get(builtin.port, path)).body, vnc.body, path);
  assert.equal((await get(builtin.port, '/vnc_auto.html')).body, lite.body);
  for (const path of ['/client/vnc.js', '/client/lite.js', '/client/connection.js', '/client/settings.js', '/client/keys.js', '/client/controls.js']) {
    const r = await get(builtin.port, path);
    assert.equal(r.status, 200, path);
    assert.equal(r.type, 'text/javascript; charset=utf-8', path);
  }
  assert.equal((await get(builtin.port, '/client/vnc.css')).type, 'text/css; charset=utf-8');
  assert.match((await get(builtin.port, '/core/input/keysym.js')).body, /XK_Control_L/);
  assert.equal((await get(builtin.port, '/app/ui.js')).status, 404, 'none of noVNC\'s application');
  assert.equal((await get(builtin.port, '/client/')).status, 404, 'no listing');
  assert.equal((await get(builtin.port, '/websockify')).status, 426);
});

test('a noVNC directory: its own files, with / and vnc_auto.html as aliases only where it has no such file', { timeout: 10_000 }, async () => {
  for (const [path, file] of [['/vnc.html', 'vnc.html'], ['/', 'vnc.html'], ['/index.html', 'vnc.html'], ['/vnc_lite.html', 'vnc_lite.html'], ['/vnc_auto.html', 'vnc_lite.html'], ['/app/ui.js', 'app/ui.js'], ['/core/rfb.js', 'core/rfb.js']] as const) {
    const r = await get(app.port, path);
    assert.equal(r.status, 200, path);
    assert.equal(r.body, APP[file], path);
  }
  assert.equal((await get(app.port, '/client/vnc.js')).status, 404, 'none of wsgate\'s client');
  assert.equal((await get(full.port, '/')).body, 'its own index');
  assert.equal((await get(full.port, '/vnc_auto.html')).body, 'its own vnc_auto');
});

test('web: { novnc: DIR } must name a directory with a vnc.html; only "novnc" is allowed in the block', () => {
  const config = (web: unknown) => buildConfig({ web, routes: [{ path: '/e', handler: 'echo' }] }, () => 'gw.yaml:2', dir);
  assert.deepEqual(config({ novnc: 'noVNC' }).web, { kind: 'novnc', app: { dir: appDir } }, 'relative to the config file\'s folder');
  assert.deepEqual(config({ novnc: 'builtin' }).web, { kind: 'novnc', app: 'builtin' });
  assert.deepEqual(config({ novnc: 'auto' }).web, { kind: 'novnc', app: 'auto' });
  assert.deepEqual(config('novnc').web, { kind: 'novnc', app: 'auto' });
  assert.throws(() => config({ novnc: 'missing' }), (e: Error) => e.message === `gw.yaml:2: web.novnc: ${join(dir, 'missing')} is not a directory`);
  assert.throws(() => config({ novnc: 'empty' }), (e: Error) => e.message === `gw.yaml:2: web.novnc: ${emptyDir} holds no vnc.html: give a noVNC application (vnc.html, app/, core/), or "builtin"`);
  assert.throws(() => config({ novnc: 'builtin', extra: 1 }), /gw\.yaml:2: web/);
  assert.ok(builtinAppDir().endsWith('/novnc-app/'));
});
