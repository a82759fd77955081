// --max-sessions in one process: a session beyond the limit is refused with
// 503, and a slot comes back when a session ends or its handler refuses it.
// (The limit across --workers: processes.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closed, connect, handshakeStatus, spawnCli, startBackend, until } from './support/index.js';

test('--max-sessions 2 (one process): a third session gets 503; refused and ended sessions give their slot back', { timeout: 20_000 }, async (t) => {
  const backend = await startBackend((s) => s.pipe(s));
  t.after(() => backend.close());
  const cli = await spawnCli(['--max-sessions', '2', '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(() => cli.child.kill('SIGKILL'));
  const url = `ws://127.0.0.1:${cli.port}/`;
  // A refusal by the handler (a subprotocol it does not speak) must not keep a slot.
  for (let i = 0; i < 3; i++) assert.equal(await handshakeStatus(url, 'not-a-protocol'), 400);
  const a = await connect(url, 'binary');
  const b = await connect(url, 'binary');
  assert.equal(await handshakeStatus(url, 'binary'), 503);
  const end = closed(a);
  a.close(1000);
  await end;
  let status = 0;
  await until(async () => (status = await handshakeStatus(url, 'binary')) === 101, { timeoutMs: 5000, everyMs: 20, what: () => `a free slot (status ${status})` });
  b.terminate();
});
