// The `threads` handler (design.md §4): P producers each send
// "producer:<i> count:<n>" for n = count..1, interleaved on one connection,
// then the server closes with 1000 — while the client floods the server and
// reads slowly, and while it pings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startGateway, handshakeStatus, sessionsDrained, type RunningGateway } from './helpers.js';

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

interface RunResult {
  messages: string[];
  nonText: number;
  code: number;
  pingsSent: number;
  pongs: number[];
  pongsBeforeLastMessage: number;
}

/**
 * Runs one session to its end: floods the server with 64 KiB binary messages
 * (one per setImmediate while the client's own buffer is below `limit`, at
 * most `budget` bytes in all), reads in bursts (pause/resume), and pings
 * every 20 ms with a sequence number as payload.
 */
async function run(path: string, flood: { limit: number; budget: number }): Promise<RunResult> {
  // Listeners go on before 'open': the producers start at once, and their
  // first messages may come in the same read as the 101.
  const ws = new WebSocket(gw.url(path));
  const messages: string[] = [];
  const pongs: number[] = [];
  let nonText = 0;
  let pingsSent = 0;
  let pongsBeforeLastMessage = 0;
  let open = true;
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  let flooded = 0;
  const floodOnce = () => {
    if (!open || ws.readyState !== WebSocket.OPEN || flooded >= flood.budget) return;
    if (ws.bufferedAmount < flood.limit) {
      ws.send(chunk);
      flooded += chunk.length;
    }
    setImmediate(floodOnce);
  };
  let reader: NodeJS.Timeout | undefined;
  let pinger: NodeJS.Timeout | undefined;
  ws.once('open', () => {
    setImmediate(floodOnce);
    // Slow reader: alternately reads and stops reading for 12 ms.
    let paused = false;
    reader = setInterval(() => {
      paused = !paused;
      if (paused) ws.pause();
      else ws.resume();
    }, 12);
    pinger = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const b = Buffer.alloc(4);
      b.writeUInt32BE(pingsSent++);
      ws.ping(b);
    }, 20);
  });
  ws.on('pong', (data: Buffer) => pongs.push(data.readUInt32BE(0)));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) nonText++;
    messages.push(data.toString());
    pongsBeforeLastMessage = pongs.length;
  });
  try {
    const code = await new Promise<number>((resolve, reject) => {
      ws.once('close', (c: number) => resolve(c));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.on('error', reject);
    });
    return { messages, nonText, code, pingsSent, pongs, pongsBeforeLastMessage };
  } finally {
    open = false;
    clearInterval(reader);
    clearInterval(pinger);
    ws.terminate();
  }
}

/** Checks the §4 contract for `producers` x `count`. */
function checkRun(r: RunResult, producers: number, count: number): void {
  assert.equal(r.code, 1000, 'the server closes with 1000 once all producers are done');
  assert.equal(r.nonText, 0, 'every message is a text message');
  assert.equal(r.messages.length, producers * count, 'total number of messages');
  const next = new Map<number, number>();
  for (let p = 1; p <= producers; p++) next.set(p, count);
  for (const [i, m] of r.messages.entries()) {
    const match = /^producer:(\d+) count:(\d+)$/.exec(m);
    assert.ok(match, `message ${i} has the wrong form: ${JSON.stringify(m)}`);
    const p = Number(match[1]);
    const n = Number(match[2]);
    assert.ok(next.has(p), `message ${i}: producer ${p} is outside 1..${producers}`);
    assert.equal(n, next.get(p), `message ${i}: producer ${p} sent count:${n}, expected count:${next.get(p)} (counts go down by one)`);
    assert.equal(m, `producer:${p} count:${n}`);
    next.set(p, n - 1);
  }
  for (const [p, n] of next) assert.equal(n, 0, `producer ${p} stopped early`);
}

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
