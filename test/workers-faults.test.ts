// Worker producers that fail: a task that throws mid-stream, a thread that
// exits or dies of an uncaught exception. Each closes only the sessions whose
// producers it was running, with 1011 (the partial message is dropped: the
// close frame goes between its fragments), and the reason is logged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { REPO_ROOT, connect, closed, spawnCli, startGateway, sessionsDrained, tempDir, until, type RunningGateway } from './support/index.js';
import { outcomes } from './support/workers-plugin.js';

const PLUGIN = './dist/test/support/workers-plugin.js';
let gw: RunningGateway;
before(async () => {
  gw = await startGateway({
    routes: [
      // One thread: the failing producer and the healthy one share it.
      { path: '/shared', handler: PLUGIN, task: 'small', poolSize: 1 },
      { path: '/crash', handler: PLUGIN, task: 'small', poolSize: 1 },
    ],
  });
});
after(async () => {
  await gw.stop();
});

/** Runs a session to its end: close code and reason, and how many messages of each kind arrived. */
async function session(path: string): Promise<{ code: number; reason: string; binary: number; text: number }> {
  const ws = new WebSocket(gw.url(path));
  const r = { code: 0, reason: '', binary: 0, text: 0 };
  ws.on('message', (_d, isBinary) => (isBinary ? r.binary++ : r.text++));
  [r.code, r.reason] = await new Promise<[number, string]>((resolve, reject) => {
    ws.once('close', (code, reason) => resolve([code, reason.toString()]));
    ws.once('error', reject);
  });
  return r;
}

async function outcomesFrom(mark: number, n: number) {
  await until(() => outcomes.length >= mark + n, { timeoutMs: 10_000, what: `${n} producer outcome(s)` });
  return outcomes.slice(mark);
}

test('a worker task that throws mid-stream closes only its session (1011); a session on the same thread completes', { timeout: 60_000 }, async () => {
  const mark = outcomes.length;
  const healthy = session('/shared?task=small&count=20000');
  const failing = await session('/shared?task=throw');
  assert.deepEqual([failing.code, failing.reason], [1011, 'worker failed']);
  assert.equal(failing.binary, 0, 'the unfinished streamed message is never delivered');
  const ok = await healthy;
  assert.deepEqual([ok.code, ok.text], [1000, 20000], 'the other session on the same thread got everything');
  const ends = await outcomesFrom(mark, 2);
  const failed = ends.find((o) => o.outcome === 'failed');
  assert.match(failed?.error ?? '', /boom mid-stream/);
  assert.equal(ends.filter((o) => o.outcome === 'done').length, 1);
  await sessionsDrained(gw.gateway);
});

for (const [task, why] of [
  ['exit', /thread exited with code 7/],
  ['uncaught', /uncaught in a timer/],
] as const) {
  test(`a worker thread that dies mid-stream (${task}) closes its session with 1011; the pool starts a new thread`, { timeout: 60_000 }, async () => {
    const mark = outcomes.length;
    const r = await session(`/crash?task=${task}`);
    assert.deepEqual([r.code, r.reason, r.binary], [1011, 'worker failed', 0]);
    const [end] = await outcomesFrom(mark, 1);
    assert.equal(end!.outcome, 'failed');
    assert.match(end!.error ?? '', why);
    const next = await session('/crash?task=small&count=10');
    assert.deepEqual([next.code, next.text], [1000, 10], 'a later session gets a fresh thread');
    await sessionsDrained(gw.gateway);
  });
}

test('the gateway logs why a worker failed, with the session id (real CLI)', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t, 'workers');
  const file = join(dir, 'wsgate.yaml');
  const plugin = join(REPO_ROOT, PLUGIN);
  await writeFile(file, `listen: 127.0.0.1:0\nroutes:\n  - path: /fail\n    handler: ${JSON.stringify(plugin)}\n    task: throw\n`);
  const cli = await spawnCli(['--config', file]);
  t.after(() => cli.child.kill('SIGKILL'));
  const ws = await connect(`ws://127.0.0.1:${cli.port}/fail`);
  assert.equal((await closed(ws)).code, 1011);
  await until(() => /worker producer failed/.test(cli.output()), { timeoutMs: 10_000, what: 'the failure log line' });
  const line = cli.output().split('\n').find((l) => l.includes('worker producer failed'))!;
  const entry = JSON.parse(line) as { sid?: string; reason?: string; producer?: string };
  assert.match(entry.reason ?? '', /worker threw Error: boom mid-stream/);
  assert.ok(entry.sid, 'the log line names the session');
  assert.equal(entry.producer, 'producer 1');
  cli.child.kill('SIGTERM');
  const exit = await cli.exited;
  assert.equal(exit.code, 0, `wsgate exited ${exit.code}: ${exit.stderr}`);
});
