// Listeners: IPv4 and IPv6 addresses, several at once, and TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { buildConfig } from '../src/config/build.js';
import { createLogger } from '../src/observability/logger.js';
import { Gateway } from '../src/server/gateway.js';
import { closed, REPO_ROOT } from './helpers.js';

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

test('with a certificate the port speaks TLS (wss://) and refuses plain clients', { timeout: 20_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-tls-'));
  try {
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
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
