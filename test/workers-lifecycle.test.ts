// Worker producers and the ends of sessions and of the gateway: a client
// that disconnects while workers are blocked mid-send makes their sends
// reject and the workers stop; Gateway.stop() ends every worker thread; and
// a process that served worker sessions exits by itself after the stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { REPO_ROOT, startGateway, sessionsDrained, until, type RunningGateway } from './support/index.js';
import { outcomes, pools } from './support/workers-plugin.js';
import { liveWorkerThreads, workerPools } from '../src/worker/pool.js';

const PLUGIN = './dist/test/support/workers-plugin.js';
const HWM = 64 * 1024;
let gw: RunningGateway;
before(async () => {
  gw = await startGateway({ routes: [{ path: '/w', handler: PLUGIN, task: 'flood', poolSize: 2, highWaterMark: HWM, credit: 32 * 1024 }] });
});
after(async () => {
  await gw.stop();
});

function pool() {
  assert.equal(pools.size, 1);
  return [...pools][0]!;
}

/** Opens a session that reads nothing, waits until its workers are held back, then cuts the connection. */
async function cutWhileBlocked(path: string, producers: number): Promise<void> {
  const mark = outcomes.length;
  const ws = new WebSocket(gw.url(path));
  ws.once('open', () => ws.pause());
  // Blocked: the session is above its high-water mark, so no credit goes back to the workers.
  await until(() => [...gw.gateway.registry].some((s) => s.bufferedAmount >= HWM), { timeoutMs: 30_000, what: 'the session filling up' });
  ws.terminate();
  await until(() => outcomes.length >= mark + producers, { timeoutMs: 10_000, what: 'every producer ending' });
  const ends = outcomes.slice(mark);
  // 'closed' means the worker's pending send rejected with SessionClosedError and its task ended.
  assert.deepEqual(ends.map((o) => o.outcome), Array(producers).fill('closed'), JSON.stringify(ends));
  await sessionsDrained(gw.gateway);
  const stats = pool().stats;
  assert.equal(stats.tasks, 0, 'no producer still running');
  assert.equal(stats.busy, 0, 'no thread still busy');
}

test('a client that disconnects while 4 workers are blocked mid-send: their sends reject and they stop', { timeout: 60_000 }, async () => {
  await cutWhileBlocked('/w?producers=4', 4);
});

test('a client that disconnects during two 64 MiB streams: the stream writes reject and the workers stop', { timeout: 60_000 }, async () => {
  await cutWhileBlocked(`/w?producers=2&task=big&size=${64 * 1024 * 1024}`, 2);
});

test('Gateway.stop() ends every worker thread and closes the pool', { timeout: 30_000 }, async () => {
  assert.ok(liveWorkerThreads() > 0, 'the pool kept its threads for later sessions');
  await gw.stop();
  assert.equal(liveWorkerThreads(), 0, 'worker threads left after stop');
  assert.equal(workerPools().size, 0, 'pools left open after stop');
});

test('a process that served worker sessions exits by itself after Gateway.stop()', { timeout: 60_000 }, async (t) => {
  const script = fileURLToPath(new URL('./support/workers-exit-child.js', import.meta.url));
  const child = spawn(process.execPath, [script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  assert.equal(signal, null, `the process did not exit by itself within 30 s (something kept it alive): ${out}${err}`);
  assert.equal(code, 0, err);
  const report = JSON.parse(out.trim().split('\n').pop()!) as { code: number; received: number; liveThreads: number; pools: number };
  assert.equal(report.code, 1000, 'the whole session completed');
  assert.ok(report.received >= 20, 'the cut session had started');
  assert.equal(report.liveThreads, 0);
  assert.equal(report.pools, 0);
});
