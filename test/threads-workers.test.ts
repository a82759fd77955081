// The `threads` handler with `workers: true` (design.md §4): each producer
// runs on a worker thread and sends through the worker channel. The same
// contract as on the main thread (exact messages, per-producer order, close
// 1000), under floods and slow readers, with the credit window respected
// and the session's queue bounded; and the gateway's stop ends the threads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, sessionsDrained, until, type RunningGateway } from './support/index.js';
import { checkThreadsRun, runThreadsClient } from './support/threads-client.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { liveWorkerThreads, workerPools, type WorkerPoolStats } from '../src/worker/pool.js';

const HWM = 16 * 1024;
const CREDIT = 2048; // the threads handler's window per worker producer
let gw: RunningGateway;
before(async () => {
  // A small high-water mark, so slow readers really hold the workers back.
  gw = await startGateway({ routes: [{ path: '/threads', handler: 'threads', workers: true, highWaterMark: HWM }] });
});
after(async () => {
  await gw.stop();
});

function pool() {
  const pools = [...workerPools()];
  assert.equal(pools.length, 1, 'one pool: the /threads route');
  return pools[0]!;
}

test('10 worker producers x 1000 messages on each of 50 sessions at once, under floods and slow readers', { timeout: 240_000 }, async () => {
  const results = await Promise.all(Array.from({ length: 50 }, () => runThreadsClient(gw.url('/threads'), { limit: 256 * 1024, budget: 4 * 1024 * 1024 })));
  for (const [i, r] of results.entries()) {
    try {
      checkThreadsRun(r, 10, 1000);
      assert.deepEqual(r.pongs, r.pongs.map((_, k) => k), 'pongs answer our pings, in order');
    } catch (e) {
      (e as Error).message = `session ${i}: ${(e as Error).message}`;
      throw e;
    }
  }
  await sessionsDrained(gw.gateway);
  const stats = pool().stats;
  assert.equal(stats.tasksStarted, 500);
  assert.equal(stats.threads, 10, 'the pool grew to one thread per producer of a session, and no further');
  assert.equal(stats.tasks, 0, 'no producer still running');
  assert.equal(stats.busy, 0, 'no thread still busy');
  checkBounded(stats);
});

/** Each demo producer's window is 2 KiB; a session holds at most its high-water mark plus every window. */
function checkBounded(stats: WorkerPoolStats, producers = 10): void {
  assert.equal(stats.creditExceeded, 0, 'no producer ever had more than its credit in flight');
  assert.ok(stats.peakInFlight <= CREDIT, `peak in flight ${stats.peakInFlight}`);
  // x1.2: frame headers (2 bytes per 22-byte message) count in the socket's buffer too.
  const bound = (HWM + producers * CREDIT) * 1.2;
  assert.ok(stats.peakBuffered <= bound, `a session held ${stats.peakBuffered} bytes (bound ${bound})`);
}

test('a client that stops reading holds the workers back: credit waits, bounded queue, nothing lost', { timeout: 120_000 }, async () => {
  const before = pool().stats.drainWaits;
  // 10 x 50000 messages are about 11 MB: more than the loopback socket buffers (about 4 MiB) hold.
  const ws = new WebSocket(gw.url('/threads?count=50000'));
  const messages: string[] = [];
  ws.on('message', (d: Buffer) => messages.push(d.toString()));
  ws.once('open', () => ws.pause());
  // Read nothing until the session's queue is above its high-water mark, then read everything.
  await until(() => [...gw.gateway.registry].some((s) => s.bufferedAmount >= HWM), { timeoutMs: 60_000, what: 'a session filling up to its high-water mark' });
  await sleep(200);
  ws.resume();
  const code = await new Promise<number>((resolve) => ws.once('close', resolve));
  checkThreadsRun({ messages, nonText: 0, code, pingsSent: 0, pongs: [], pongsBeforeLastMessage: 0 }, 10, 50_000);
  await sessionsDrained(gw.gateway);
  const stats = pool().stats;
  assert.ok(stats.drainWaits > before, 'the workers never had to wait for credit: the test did not apply backpressure');
  checkBounded(stats);
});

test('query parameters override producers and count; more producers than threads share them', { timeout: 60_000 }, async () => {
  const [few, many] = await Promise.all([
    runThreadsClient(gw.url('/threads?producers=3&count=10'), { limit: 256 * 1024, budget: 1024 * 1024 }),
    runThreadsClient(gw.url('/threads?producers=25&count=200'), { limit: 256 * 1024, budget: 1024 * 1024 }),
  ]);
  checkThreadsRun(few, 3, 10);
  checkThreadsRun(many, 25, 200);
  await sessionsDrained(gw.gateway);
  assert.ok(pool().stats.threads <= 10, 'the pool never exceeds its size');
});

test('workerThreads without workers: true is a configuration error', { timeout: 10_000 }, async () => {
  await assert.rejects(
    startGateway({ routes: [{ path: '/t', handler: 'threads', workerThreads: 4 }] }),
    (e: Error) => /routes\[0\]\.workerThreads/.test(e.message) && /workers: true/.test(e.message),
  );
});

test('the gateway stop ends every worker thread of the pool', { timeout: 30_000 }, async () => {
  assert.ok(liveWorkerThreads() > 0, 'the pool threads are still alive before the stop');
  await gw.stop();
  assert.equal(liveWorkerThreads(), 0, 'worker threads left after stop');
  assert.equal(workerPools().size, 0, 'pools left open after stop');
});
