// Per-session targets through the gateway: where the token rides, refusals
// before the 101 (403 / 503), the allowlist, byte-exact relay to the target
// a token selects, revocation closing live sessions, and no token in logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { startGateway, startBackend, connect, closed, handshakeStatus, spawnCli, pseudoRandom, sessionsDrained, sha256, tempDir, until } from './support/index.js';
import { capturedLog } from './support/logs.js';

async function fixture(t: import('node:test').TestContext) {
  const received: Buffer[] = [];
  const backend = await startBackend((s) => {
    s.on('data', (d) => received.push(d));
    s.write('hello from backend');
  });
  const other = await startBackend((s) => s.end('other'));
  const dir = tempDir(t, 'tokens');
  const file = join(dir, 'tokens');
  writeFileSync(file, `# test tokens\ngood: 127.0.0.1:${backend.port}\nelsewhere: 127.0.0.1:${other.port}\n`);
  t.after(async () => {
    await backend.close();
    await other.close();
  });
  return { backend, other, file, received };
}

test('a token from the query, a cookie or the Host header selects the target; the rest is refused with 403', { timeout: 20_000 }, async (t) => {
  const f = await fixture(t);
  const gw = await startGateway({
    routes: [
      { path: '/q', handler: 'tcp-proxy', resolver: { type: 'file', path: f.file } },
      { path: '/c', handler: 'tcp-proxy', resolver: { type: 'file', path: f.file }, token: { from: ['cookie'], names: ['token'] } },
      { path: '/h', handler: 'tcp-proxy', resolver: { type: 'file', path: f.file }, token: { from: 'host' } },
      { path: '/allow', handler: 'tcp-proxy', resolver: { type: 'file', path: f.file }, allow: [`127.0.0.0/8:${f.backend.port}`] },
    ],
  });
  t.after(() => gw.stop());
  for (const [url, opts] of [
    [gw.url('/q?token=good'), {}],
    [gw.url('/q?key=good'), {}],
    [gw.url('/c'), { headers: { Cookie: 'other=1; token=good' } }],
    [gw.url('/h'), { headers: { Host: `good:${gw.port}` } }],
  ] as const) {
    const ws = new WebSocket(url, opts);
    const [data] = await once(ws, 'message');
    assert.equal(String(data), 'hello from backend', url);
    ws.close();
    await closed(ws);
  }
  const refused = ['/q', '/q?token=', '/q?token=nope', "/q?token=' OR 1=1 --", '/q?token=%25', `/q?token=${'a'.repeat(257)}`, '/q?token=%C3%A9t%C3%A9', '/q?token=good.bad'];
  for (const path of refused) assert.equal(await handshakeStatus(gw.url(path.replace(/ /g, '%20'))), 403, path);
  // The allowlist lets one target through and refuses another the store names.
  assert.equal(await handshakeStatus(gw.url('/allow?token=good')), 101);
  assert.equal(await handshakeStatus(gw.url('/allow?token=elsewhere')), 403);
  await sessionsDrained(gw.gateway);
});

test('byte-exact relay through a token-selected target, with the lookup params on the session', { timeout: 30_000 }, async (t) => {
  const f = await fixture(t);
  const gw = await startGateway({ routes: [{ path: '/q', handler: 'tcp-proxy', resolver: { type: 'file', path: f.file } }] });
  t.after(() => gw.stop());
  const ws = await connect(gw.url('/q?token=good'));
  const payload = pseudoRandom(8 * 1024 * 1024, 7);
  for (let off = 0; off < payload.length; off += 65536) ws.send(payload.subarray(off, off + 65536));
  const want = payload.length + 0;
  await until(() => Buffer.concat(f.received).length >= want, { timeoutMs: 20_000, everyMs: 20, what: () => `${want} bytes at the backend (${Buffer.concat(f.received).length} so far)` });
  assert.equal(sha256(Buffer.concat(f.received)), sha256(payload));
  const [session] = [...gw.gateway.registry];
  assert.equal(session!.target, `127.0.0.1:${f.backend.port}`);
  ws.close();
  await closed(ws);
});

test('an unreachable or silent store answers 503 within the lookup timeout, and other routes keep working', { timeout: 20_000 }, async (t) => {
  const silent = http.createServer(() => {}); // accepts, never answers
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const gw = await startGateway({
    routes: [
      { path: '/down', handler: 'tcp-proxy', resolver: { type: 'redis', url: 'redis://127.0.0.1:1', timeout: 1 } },
      { path: '/slow', handler: 'tcp-proxy', resolver: { type: 'http', url: `http://127.0.0.1:${(silent.address() as { port: number }).port}/lookup`, timeout: 1 } },
      { path: '/echo', handler: 'echo' },
    ],
  });
  t.after(() => gw.stop());
  for (const path of ['/down?token=abc', '/slow?token=abc']) {
    const started = Date.now();
    assert.equal(await handshakeStatus(gw.url(path)), 503, path);
    const took = Date.now() - started;
    assert.ok(took < 3000, `${path} answered after ${took} ms`);
  }
  const ws = await connect(gw.url('/echo'));
  ws.send('still here');
  const [data] = await once(ws, 'message');
  assert.equal(String(data), 'still here');
  ws.close();
  await closed(ws);
});

test('revoking a token in Redis closes its live session on this gateway (1008)', { timeout: 20_000 }, async (t) => {
  const { revokeToken } = await import('../src/proxy/resolvers/redis.js');
  const { Redis } = await import('ioredis');
  const backend = await startBackend(() => {});
  const prefix = `wsgate-test-${randomBytes(4).toString('hex')}:`;
  const redis = new Redis('redis://127.0.0.1:6379');
  await redis.set(`${prefix}tok1`, `127.0.0.1:${backend.port}`);
  t.after(async () => {
    await redis.del(`${prefix}tok1`);
    redis.disconnect();
    await backend.close();
  });
  const logs = capturedLog('info');
  const gw = await startGateway({ routes: [{ path: '/r', handler: 'tcp-proxy', resolver: { type: 'redis', url: 'redis://127.0.0.1:6379', prefix } }] }, 'info', logs.log);
  t.after(() => gw.stop());
  // Start-up does not wait for the revocation channel; a session is closed on revocation once it listens.
  await logs.waitFor((l) => l.msg === 'revocations: listening' && l.route === '/r', 5000, 'the revocation watch');
  const ws = await connect(gw.url('/r?token=tok1'));
  const result = closed(ws);
  await revokeToken('redis://127.0.0.1:6379', prefix, 'tok1');
  const { code, reason } = await result;
  assert.equal(code, 1008);
  assert.equal(reason, 'token revoked');
  assert.equal(await handshakeStatus(gw.url('/r?token=tok1')), 403);
});

test('the CLI with websockify token options; tokens never appear in the logs', { timeout: 20_000 }, async (t) => {
  const f = await fixture(t);
  const secret = `sEcReT${randomBytes(6).toString('hex')}`;
  writeFileSync(f.file, `${secret}: 127.0.0.1:${f.backend.port}\n`);
  const cli = await spawnCli(['--token-plugin', 'TokenFile', '--token-source', f.file, '127.0.0.1:0']);
  t.after(() => cli.child.kill('SIGKILL'));
  const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/websockify?token=${secret}`);
  const [data] = await once(ws, 'message');
  assert.equal(String(data), 'hello from backend');
  ws.close();
  await closed(ws);
  assert.equal(await handshakeStatus(`ws://127.0.0.1:${cli.port}/websockify?token=${secret}x`), 403);
  cli.child.kill('SIGTERM');
  const out = await cli.exited;
  const logs = out.stdout + out.stderr;
  assert.match(logs, /"msg":"session closed"/);
  assert.match(logs, /"msg":"unknown token"/);
  assert.ok(!logs.includes(secret), 'the token must not be logged');
});
