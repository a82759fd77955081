// Tokens made for guacamole-lite (the resolver `guacamole-lite`): encrypted
// here the way guacamole-lite's Crypt does it, then used on a route with
// handler: guacamole against the guacd stand-in.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createCipheriv, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startGateway, closed, handshakeStatus, tempDir } from './support/index.js';
import { startGuacdStandin, type StandinConnect } from './support/guacd-standin.js';

const KEY = 'MySuperSecretKeyForParamsToken12';

/** base64(JSON {iv, value}), value = AES-256-CBC of the JSON, as guacamole-lite's Crypt.encrypt makes it. */
function liteToken(value: object, key = KEY): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', Buffer.from(key), iv);
  const encrypted = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.from(JSON.stringify({ iv: iv.toString('base64'), value: encrypted.toString('base64') })).toString('base64');
}

async function setup(t: TestContext) {
  const standin = await startGuacdStandin();
  t.after(() => standin.close());
  const dir = tempDir(t, 'guac-lite');
  writeFileSync(join(dir, 'key'), `${KEY}\n`);
  const gw = await startGateway({ routes: [{ path: '/', handler: 'guacamole', guacd: `127.0.0.1:${standin.port}`, resolver: { type: 'guacamole-lite', keyFile: join(dir, 'key') } }] });
  t.after(() => gw.stop());
  return { standin, url: (token: string) => gw.url(`/?token=${encodeURIComponent(token)}`) };
}

test('a guacamole-lite token is the connection: type, settings, and the size and formats among them', { timeout: 20_000 }, async (t) => {
  const { standin, url } = await setup(t);
  const token = liteToken({
    connection: {
      type: 'rdp',
      settings: { hostname: '10.0.0.8', port: '3389', username: 'ann', password: 'pässword', 'ignore-cert': true, width: 1600, height: 900, dpi: 120, audio: ['audio/L16'], video: null, image: ['image/png', 'image/jpeg'], timezone: 'Europe/Rome' },
    },
  });
  assert.ok(token.length > 256, 'longer than the default token limit of other stores');
  const connected = once(standin.events, 'connect');
  const ws = new WebSocket(url(token), ['guacamole']);
  const [info] = (await connected) as [StandinConnect];
  assert.equal(info.protocol, 'rdp');
  assert.deepEqual(info.values, { hostname: '10.0.0.8', port: '3389', domain: '', username: 'ann', password: 'pässword', width: '1600', height: '900', dpi: '120', security: '', 'ignore-cert': 'true' });
  assert.deepEqual(info.size, ['1600', '900', '120']);
  assert.deepEqual(info.audio, ['audio/L16']);
  assert.deepEqual(info.video, []);
  assert.deepEqual(info.image, ['image/png', 'image/jpeg']);
  assert.equal(info.timezone, 'Europe/Rome');
  ws.close();
  await closed(ws);
});

test('a join token selects the running connection', { timeout: 20_000 }, async (t) => {
  const { standin, url } = await setup(t);
  const selected = new Promise<string[]>((resolve) => standin.events.on('instruction', (i: string[]) => i[0] === 'select' && resolve(i)));
  const ws = new WebSocket(url(liteToken({ connection: { join: '$2c1d-77', settings: { 'read-only': 'true' } } })), ['guacamole']);
  assert.deepEqual(await selected, ['select', '$2c1d-77']);
  await closed(ws);
});

test('a token made with another key, a tampered one, or garbage: 403', { timeout: 20_000 }, async (t) => {
  const { url } = await setup(t);
  const good = liteToken({ connection: { type: 'vnc', settings: { hostname: 'h' } } });
  const tampered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(good, 'base64').toString()), value: Buffer.alloc(48, 1).toString('base64') })).toString('base64');
  for (const token of [liteToken({ connection: { type: 'vnc' } }, 'AnotherKeyAnotherKeyAnotherKey!!'), tampered, 'bm90IGpzb24=', liteToken({ nothing: true })]) {
    assert.equal(await handshakeStatus(url(token), ['guacamole']), 403);
  }
  assert.equal(await handshakeStatus(url(good), ['guacamole']), 101);
});

test('guacamole-lite config: only with handler: guacamole, and a 32-byte key', async (t) => {
  const dir = tempDir(t, 'guac-lite-config');
  writeFileSync(join(dir, 'short'), 'too short');
  await assert.rejects(startGateway({ routes: [{ path: '/', handler: 'tcp-proxy', resolver: { type: 'guacamole-lite', keyEnv: 'HOME' } }] }), /routes\[0\]\.resolver\.type: guacamole-lite tokens hold Guacamole connection settings/);
  await assert.rejects(startGateway({ routes: [{ path: '/', handler: 'guacamole', resolver: { type: 'guacamole-lite', keyFile: join(dir, 'short') } }] }), /routes\[0\]\.resolver\.keyFile: the key must be 32 bytes/);
  await assert.rejects(startGateway({ routes: [{ path: '/', handler: 'guacamole', resolver: { type: 'guacamole-lite' } }] }), /routes\[0\]\.resolver\.keyFile: give keyFile or keyEnv/);
});
