// The `sealed` resolver: the token is the connection, AES-256-GCM with a
// shared key, and it expires. Minted here exactly as docs/resolvers.md says,
// then used on a tcp-proxy route (host/port) and on handler: guacamole
// (protocol and settings) against the guacd stand-in.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { buildConfig } from '../src/config/build.js';
import { Gateway } from '../src/server/gateway.js';
import { createLogger } from '../src/observability/logger.js';
import { closed, connect, handshakeStatus, startBackend, startGateway, tempDir, until, REPO_ROOT } from './support/index.js';
import { startGuacdStandin, type StandinConnect } from './support/guacd-standin.js';

const KEY_HEX = '9f'.repeat(16) + '03'.repeat(16);

/** base64url(0x01 | iv | AES-256-GCM(JSON) | tag), additional data "wsgate-sealed-1": the documented recipe. */
function seal(fields: object, keyHex = KEY_HEX): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), iv);
  cipher.setAAD(Buffer.from('wsgate-sealed-1'));
  const body = Buffer.concat([cipher.update(JSON.stringify(fields), 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([1]), iv, body, cipher.getAuthTag()]).toString('base64url');
}

const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

function keyFile(t: TestContext): string {
  const file = join(tempDir(t, 'sealed'), 'key');
  writeFileSync(file, `${KEY_HEX}\n`);
  return file;
}

test('tcp-proxy: a sealed token names the target; expired, tampered, other-key and garbage tokens get 403', { timeout: 20_000 }, async (t) => {
  const echo = await startBackend((s) => s.pipe(s));
  t.after(() => echo.close());
  const gw = await startGateway({ routes: [{ path: '/vnc', handler: 'tcp-proxy', resolver: { type: 'sealed', keyFile: keyFile(t) } }] });
  t.after(() => gw.stop());
  const url = (token: string) => gw.url(`/vnc?token=${token}`);
  const good = seal({ exp: inAMinute(), host: '127.0.0.1', port: echo.port });
  const ws = await connect(url(good));
  const reply = once(ws, 'message');
  ws.send(Buffer.from('through a sealed token'));
  assert.equal(String((await reply)[0]), 'through a sealed token');
  ws.close();
  await closed(ws);
  const raw = Buffer.from(good, 'base64url');
  raw[20] = raw[20]! ^ 1;
  const refused = [
    seal({ exp: Math.floor(Date.now() / 1000) - 1, host: '127.0.0.1', port: echo.port }),
    raw.toString('base64url'),
    seal({ exp: inAMinute(), host: '127.0.0.1', port: echo.port }, '11'.repeat(32)),
    seal({ host: '127.0.0.1', port: echo.port }),
    'bm90LWEtdG9rZW4',
  ];
  for (const token of refused) assert.equal(await handshakeStatus(url(token)), 403);
});

test('an expired sealed token is refused as expired in the log, the client still sees a bare 403', { timeout: 20_000 }, async (t) => {
  const file = keyFile(t);
  const logFile = join(tempDir(t, 'sealed-exp'), 'log');
  const config = buildConfig({ listen: '127.0.0.1:0', routes: [{ path: '/vnc', handler: 'tcp-proxy', resolver: { type: 'sealed', keyFile: file } }] }, () => undefined, REPO_ROOT);
  const gateway = new Gateway(config, createLogger('info', logFile));
  const [address] = await gateway.start();
  t.after(() => gateway.stop(0));
  const expired = seal({ exp: Math.floor(Date.now() / 1000) - 5, host: '127.0.0.1', port: 9 });
  assert.equal(await handshakeStatus(`ws://127.0.0.1:${address!.port}/vnc?token=${expired}`), 403);
  const line = await until(() => readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('handshake refused')), { timeoutMs: 5000, what: 'the refusal line' });
  assert.match(line, /token expired/);
});

test('handler: guacamole: a sealed token carries protocol and settings; the password never reaches the log', { timeout: 20_000 }, async (t) => {
  const standin = await startGuacdStandin();
  t.after(() => standin.close());
  const logFile = join(tempDir(t, 'sealed-log'), 'log');
  const config = buildConfig(
    { listen: '127.0.0.1:0', routes: [{ path: '/guac', handler: 'guacamole', guacd: `127.0.0.1:${standin.port}`, resolver: { type: 'sealed', keyFile: keyFile(t) } }] },
    () => undefined,
    REPO_ROOT,
  );
  const log = createLogger('trace', logFile);
  const gateway = new Gateway(config, log);
  const [address] = await gateway.start();
  t.after(() => gateway.stop(0));
  const connected = once(standin.events, 'connect');
  const token = seal({ exp: inAMinute(), protocol: 'vnc', hostname: 'desk.lan', port: '5901', password: 'sealed-Pw-7' });
  const ws = new WebSocket(`ws://127.0.0.1:${address!.port}/guac?token=${token}`, ['guacamole']);
  const [info] = (await connected) as [StandinConnect];
  assert.equal(info.protocol, 'vnc');
  assert.equal(info.values.hostname, 'desk.lan');
  assert.equal(info.values.password, 'sealed-Pw-7');
  ws.close();
  await closed(ws);
  const logged = await until(() => {
    const text = readFileSync(logFile, 'utf8');
    return text.includes('"msg":"session closed"') ? text : null;
  }, { timeoutMs: 5000, what: 'the session closed line' });
  assert.ok(!logged.includes('sealed-Pw-7'), 'the password is not logged');
  assert.ok(!logged.includes(token), 'the token is not logged');
});

test('sealed config: the key must be 64 hex digits, from keyFile or keyEnv', async (t) => {
  const dir = tempDir(t, 'sealed-config');
  writeFileSync(join(dir, 'short'), 'abcd\n');
  const route = (resolver: object) => ({ listen: '127.0.0.1:0', routes: [{ path: '/', handler: 'tcp-proxy', resolver: { type: 'sealed', ...resolver } }] });
  const start = (raw: object) => new Gateway(buildConfig(raw, () => undefined, dir), createLogger('silent', 1)).start();
  await assert.rejects(start(route({ keyFile: 'short' })), /64 hex digits/);
  await assert.rejects(start(route({})), /give keyFile or keyEnv/);
  await assert.rejects(start(route({ keyEnv: 'WSGATE_TEST_NO_SUCH_VARIABLE' })), /the environment has no WSGATE_TEST_NO_SUCH_VARIABLE/);
});
