// Listeners: IPv4 and IPv6 addresses, several at once, and TLS; and a
// gateway that adopts sockets accepted elsewhere instead (a --workers worker).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { buildConfig } from '../src/config/build.js';
import { createLogger } from '../src/observability/logger.js';
import { Gateway } from '../src/server/gateway.js';
import { closed, REPO_ROOT, tempDir, until } from './support/index.js';

async function echoOnce(url: string, options: object = {}): Promise<string> {
  const ws = new WebSocket(url, options);
  await once(ws, 'open');
  ws.send('ping?');
  const [data] = await once(ws, 'message');
  ws.close();
  await closed(ws);
  return String(data);
}

test('listens on IPv4 and IPv6 loopback at once', { timeout: 10_000 }, async () => {
  const config = buildConfig({ listen: ['127.0.0.1:0', '[::1]:0'], routes: [{ path: '/e', handler: 'echo' }] }, () => undefined, REPO_ROOT);
  const gateway = new Gateway(config, createLogger('silent'));
  const [v4, v6] = await gateway.start();
  try {
    assert.equal(v4!.family, 'IPv4');
    assert.equal(v6!.family, 'IPv6');
    assert.equal(await echoOnce(`ws://127.0.0.1:${v4!.port}/e`), 'ping?');
    assert.equal(await echoOnce(`ws://[::1]:${v6!.port}/e`), 'ping?');
  } finally {
    await gateway.stop(0);
  }
});

test('with a certificate the port speaks TLS (wss://) and refuses plain clients', { timeout: 20_000 }, async (t) => {
  const dir = tempDir(t, 'tls');
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-days', '1'], { stdio: 'ignore' });
  const config = buildConfig({ listen: '127.0.0.1:0', tls: { cert, key }, routes: [{ path: '/e', handler: 'echo' }] }, () => undefined, REPO_ROOT);
  const gateway = new Gateway(config, createLogger('silent'));
  const [addr] = await gateway.start();
  try {
    assert.equal(await echoOnce(`wss://127.0.0.1:${addr!.port}/e`, { rejectUnauthorized: false }), 'ping?');
    const plain = new WebSocket(`ws://127.0.0.1:${addr!.port}/e`);
    const [err] = await once(plain, 'error');
    assert.ok(err instanceof Error);
  } finally {
    await gateway.stop(0);
  }
});

test('a worker-style gateway (adopting sockets, never listening) closes idle keep-alive connections when it stops', { timeout: 20_000 }, async (t) => {
  const config = buildConfig({ listen: '127.0.0.1:0', routes: [{ path: '/echo', handler: 'echo' }] }, () => undefined, REPO_ROOT);
  const gateway = new Gateway(config, createLogger('silent'));
  await gateway.start({ listen: false });
  const front = net.createServer((s) => gateway.adopt(0, s));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  t.after(() => front.close());
  const client = net.connect((front.address() as net.AddressInfo).port, '127.0.0.1');
  t.after(() => client.destroy());
  let answer = '';
  client.on('data', (d) => (answer += d));
  client.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await until(() => /\r\n\r\n\{.*\}\n$/s.test(answer), { timeoutMs: 5000, what: 'a whole /healthz answer' });
  assert.match(answer, /^HTTP\/1.1 200/);
  const closedAt = new Promise<void>((r) => client.once('close', () => r()));
  await gateway.stop(0);
  // Node tracks an HTTP server's connections (timeouts, closeIdleConnections) only once it has emitted 'listening'.
  await Promise.race([closedAt, new Promise((_, reject) => setTimeout(() => reject(new Error('idle connection still open 2 s after stop()')), 2000))]);
});
