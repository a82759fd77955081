// --max-sessions in one process: a session beyond the limit is refused with
// 503, and a slot comes back when a session ends or its handler refuses it.
// (The limit across --workers: processes.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closed, connect, handshakeStatus, spawnCli, startBackend } from './support/index.js';

/** Polls an async condition every 20 ms; fails with `describe()` after timeoutMs. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

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
  await until(async () => (status = await handshakeStatus(url, 'binary')) === 101, 5000, () => `status ${status}`);
  b.terminate();
});
