// What the log says, and what it must never say: why a token was refused
// (while the client learns nothing), no secret from the request path,
// each key once per line, IPv6 addresses in brackets, and keyed token
// fingerprints that agree within one gateway and nowhere else.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closed, connect, handshakeStatus, rawRequest, startBackend, startGateway } from './helpers.js';
import { capturedLog } from './support/logs.js';
import { openDriver } from '../src/proxy/resolvers/sql-driver.js';
import { nowSeconds, TokensTable } from '../src/proxy/resolvers/tokens-table.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsgate-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An upgrade request for `path`, as a browser sends it. */
const upgradeRequest = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n`;

test('a refused token: the log says unknown, expired, used or revoked; the client gets a bare 403', { timeout: 20_000 }, async (t) => {
  const backend = await startBackend(() => {});
  t.after(() => backend.close());
  const db = join(tempDir(t), 'tokens.db');
  const driver = await openDriver({ dialect: 'sqlite', path: db, create: true });
  const table = new TokensTable(driver);
  await table.create();
  const port = backend.port;
  await table.add({ token: 'old', host: '127.0.0.1', port, expiresAt: nowSeconds() - 10 });
  await table.add({ token: 'once', host: '127.0.0.1', port, singleUse: true });
  await table.add({ token: 'gone', host: '127.0.0.1', port });
  await table.revoke('gone');
  await driver.close();

  const logs = capturedLog('trace');
  const gw = await startGateway({ routes: [{ path: '/vnc', handler: 'tcp-proxy', resolver: { type: 'sqlite', path: db }, allow: [`127.0.0.1:${port}`] }] }, 'trace', logs.log);
  t.after(() => gw.stop());
  const first = await connect(gw.url('/vnc?token=once'), ['binary']);
  first.close();
  await closed(first);

  const want: Record<string, string> = { nope: 'unknown token', old: 'token expired', once: 'token used', gone: 'token revoked' };
  for (const token of Object.keys(want)) {
    const answer = await rawRequest(gw.port, upgradeRequest(`/vnc?token=${token}`));
    assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n/, token);
    assert.equal(answer.split('\r\n\r\n')[1], '403 Forbidden\n', `${token}: the body names no reason`);
    assert.ok(!/unknown|expired|used|revoked/i.test(answer), `${token}: the answer says nothing of why`);
  }
  const lines = logs.lines();
  for (const reason of Object.values(want)) {
    assert.equal(lines.filter((l) => l.msg === reason).length, 1, `one "${reason}" line`);
    assert.equal(lines.filter((l) => l.msg === 'handshake refused' && l.status === 403 && l.reason === reason).length, 1, `the refusal's line says "${reason}"`);
  }
  assert.equal(await handshakeStatus(gw.url('/vnc?token=once'), ['binary']), 403);
});
