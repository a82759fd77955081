// The `threads` handler (design.md §4): P producers each send
// "producer:<i> count:<n>" for n = count..1, interleaved on one connection,
// then the server closes with 1000 — while the client floods the server and
// reads slowly, and while it pings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, handshakeStatus, sessionsDrained, type RunningGateway } from './support/index.js';
import { runThreadsClient, checkThreadsRun } from './support/threads-client.js';

let gw: RunningGateway;
before(async () => {
  gw = await startGateway({
    routes: [
      // A small high-water mark, so a slow reader really makes the producers wait for drain.
      { path: '/threads', handler: 'threads', highWaterMark: '16KiB' },
    ],
  });
});
after(async () => {
  await gw.stop();
});

const run = (path: string, flood: { limit: number; budget: number }) => runThreadsClient(gw.url(path), flood);
const checkRun = checkThreadsRun;

test('10 producers x 1000 messages arrive complete and interleaved under a flood and a slow reader; pings get pongs', { timeout: 60_000 }, async () => {
  const r = await run('/threads', { limit: 1024 * 1024, budget: Infinity });
  checkRun(r, 10, 1000);
  const firstProducers = new Set(r.messages.slice(0, 100).map((m) => m.split(' ')[0]));
  assert.ok(firstProducers.size > 1, `the first 100 messages all come from ${[...firstProducers].join()}`);
  // Pongs come back in ping order, for pings we sent, and during the run (not only at the end).
  assert.ok(r.pongs.length >= 1, `no pong for ${r.pingsSent} pings`);
  assert.deepEqual(r.pongs, r.pongs.map((_, i) => i), 'pongs answer our pings, in order');
  assert.ok(r.pongsBeforeLastMessage >= 1, 'no pong arrived while the producers were still sending');
  await sessionsDrained(gw.gateway);
});

// 50 unbounded floods would keep this one process busy unmasking gigabytes
// (client and server share its CPU), so each session floods 4 MiB here.
test('50 sessions at once each get their complete, ordered streams', { timeout: 120_000 }, async () => {
  const results = await Promise.all(Array.from({ length: 50 }, () => run('/threads', { limit: 256 * 1024, budget: 4 * 1024 * 1024 })));
  for (const [i, r] of results.entries()) {
    try {
      checkRun(r, 10, 1000);
    } catch (e) {
      (e as Error).message = `session ${i}: ${(e as Error).message}`;
      throw e;
    }
    assert.deepEqual(r.pongs, r.pongs.map((_, k) => k), `session ${i}: pongs out of order`);
  }
  await sessionsDrained(gw.gateway);
});

test('query parameters override producers and count', { timeout: 20_000 }, async () => {
  const r = await run('/threads?producers=3&count=10', { limit: 256 * 1024, budget: Infinity });
  checkRun(r, 3, 10);
  await sessionsDrained(gw.gateway);
});

test('invalid query parameters are refused with 400 before the handshake', { timeout: 20_000 }, async () => {
  for (const query of ['producers=0', 'count=abc', 'producers=1001', 'count=-1', 'count=1.5', 'producers=']) {
    assert.equal(await handshakeStatus(gw.url(`/threads?${query}`)), 400, query);
  }
  assert.equal(gw.gateway.registry.size, 0);
});
