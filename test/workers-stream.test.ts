// Worker producers on one session (test/support/workers-plugin.ts): large
// streamed messages from several workers at once arrive whole and never
// interleaved (a data frame inside another message's fragments would also
// make the client's `ws` fail the connection with 1002, so a clean 1000 says
// the frames were right too); moved and copied fragments keep their bytes;
// a message larger than the credit window still goes; misuse is refused; a
// send after the session closed rejects with SessionClosedError.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startGateway, sessionsDrained, until, type RunningGateway } from './support/index.js';
import { outcomes, pools } from './support/workers-plugin.js';
import { patternByte } from './support/workers-pattern.js';
import { fitCloseReason } from '../src/session/close-codes.js';

const PLUGIN = './dist/test/support/workers-plugin.js';
const HWM = 256 * 1024;
const CREDIT = 256 * 1024;
let gw: RunningGateway;
before(async () => {
  gw = await startGateway({
    routes: [
      { path: '/w', handler: PLUGIN, task: 'small', poolSize: 4, highWaterMark: HWM, credit: CREDIT },
      { path: '/small-credit', handler: PLUGIN, task: 'oversize', poolSize: 2, credit: 64 * 1024 },
    ],
  });
});
after(async () => {
  await gw.stop();
});

interface Received {
  binary: Buffer[];
  text: string[];
  code: number;
  reason: string;
}

/** Runs one session to its end, reading in bursts (pause/resume every `burstMs`) when asked. */
async function receive(path: string, burstMs = 0): Promise<Received> {
  const ws = new WebSocket(gw.url(path), { maxPayload: 64 * 1024 * 1024 });
  const r: Received = { binary: [], text: [], code: 0, reason: '' };
  ws.on('message', (d: Buffer, isBinary: boolean) => (isBinary ? r.binary.push(d) : r.text.push(d.toString())));
  let reader: NodeJS.Timeout | undefined;
  if (burstMs > 0) {
    let paused = false;
    ws.once('open', () => (reader = setInterval(() => ((paused = !paused) ? ws.pause() : ws.resume()), burstMs)));
  }
  try {
    [r.code, r.reason] = await new Promise<[number, string]>((resolve, reject) => {
      ws.once('close', (code, reason) => resolve([code, reason.toString()]));
      ws.once('error', reject);
    });
    return r;
  } finally {
    clearInterval(reader);
  }
}

function sessionOutcomes(from: number) {
  return outcomes.slice(from).sort((a, b) => a.producer - b.producer);
}

test('8 MiB streamed messages from 3 workers at once, with a 4th sending small messages: each arrives whole, in order, never interleaved', { timeout: 180_000 }, async () => {
  const mark = outcomes.length;
  const size = 8 * 1024 * 1024;
  const r = await receive(`/w?producers=4&tasks=big,big,big,small&messages=2&size=${size}&chunk=65536&count=3000`, 10);
  assert.equal(r.code, 1000, `the session ended ${r.code} ${r.reason}`);
  assert.equal(r.binary.length, 6, 'two streamed messages from each of 3 workers');
  const nextMessage = new Map<number, number>();
  for (const [i, msg] of r.binary.entries()) {
    assert.equal(msg.length, size, `binary message ${i} is not whole`);
    const producer = msg[0]!;
    const m = nextMessage.get(producer) ?? 0;
    nextMessage.set(producer, m + 1);
    // Every byte is the sender's: a fragment of another message inside this one would show here.
    for (let off = 0; off < size; off++) {
      if (msg[off] !== patternByte(producer, m, off)) assert.fail(`message ${i} (producer ${producer}, #${m}): wrong byte at ${off}`);
    }
  }
  assert.deepEqual([...nextMessage.entries()].sort(), [[1, 2], [2, 2], [3, 2]]);
  assert.deepEqual(r.text, Array.from({ length: 3000 }, (_, k) => `p4:${3000 - k}`), 'the small messages, whole and in order');
  assert.deepEqual(sessionOutcomes(mark).map((o) => o.outcome), ['done', 'done', 'done', 'done']);
  await sessionsDrained(gw.gateway);
  const stats = [...pools][0]!.stats;
  assert.equal(stats.creditExceeded, 0, 'no worker had more than its credit in flight');
  assert.ok(stats.drainWaits > 0, 'the workers never waited for credit: the test did not apply backpressure');
  // The session held at most its high-water mark plus each producer's window (frame headers aside).
  const bound = HWM + 4 * CREDIT + 64 * 1024;
  assert.ok(stats.peakBuffered <= bound, `a session held ${stats.peakBuffered} bytes (bound ${bound})`);
  assert.equal(stats.tasks, 0);
});

test('a message larger than the credit window goes alone, once the window is free, in order with what follows', { timeout: 60_000 }, async () => {
  const mark = outcomes.length;
  const size = 1024 * 1024;
  const r = await receive(`/small-credit?producers=2&size=${size}`);
  assert.equal(r.code, 1000);
  assert.equal(r.binary.length, 2);
  for (const msg of r.binary) {
    assert.equal(msg.length, size);
    assert.ok(msg.every((b) => b === msg[0]), 'one producer per message');
  }
  for (const p of [1, 2]) assert.deepEqual(r.text.filter((t) => t.startsWith(`p${p}:`)), [`p${p}:3`, `p${p}:2`, `p${p}:1`]);
  assert.deepEqual(sessionOutcomes(mark).map((o) => o.outcome), ['done', 'done']);
});

test('a producer cannot send a whole message, or begin a second stream, while its stream is open', { timeout: 30_000 }, async () => {
  const mark = outcomes.length;
  const r = await receive('/w?task=misuse');
  assert.equal(r.code, 1000);
  assert.deepEqual(r.text, ['ab', 'after']);
  assert.deepEqual(sessionOutcomes(mark).map((o) => [o.outcome, o.error]), [['done', undefined]]);
});

test('after the session closed, a worker\'s send() and write() reject with SessionClosedError and its signal aborts', { timeout: 30_000 }, async () => {
  const mark = outcomes.length;
  const r = await receive('/w?task=after-close');
  assert.equal(r.code, 4000);
  assert.equal(r.reason, 'closed by the worker');
  assert.equal(r.binary.length, 1, 'the stream ended before the close arrives whole');
  // 'closed', not 'failed': every check in the worker passed (a failed check throws, which would mean 'failed').
  await until(() => outcomes.length > mark, { timeoutMs: 10_000, what: 'the producer ending' });
  assert.deepEqual(sessionOutcomes(mark).map((o) => [o.outcome, o.error]), [['closed', undefined]]);
  await sessionsDrained(gw.gateway);
});

test('a worker closing with a reason over 123 bytes gets it cut to fit, as on the main thread (not a 1011)', { timeout: 30_000 }, async () => {
  const mark = outcomes.length;
  const r = await receive('/w?task=long-reason');
  assert.equal(r.code, 4001);
  // 60 two-byte characters and '...': 123 bytes, cut at a character boundary (src/session/close-codes.ts).
  assert.equal(r.reason, 'é'.repeat(60) + '...');
  assert.equal(r.reason, fitCloseReason('é'.repeat(100)));
  await until(() => outcomes.length > mark, { timeoutMs: 10_000, what: 'the producer ending' });
  assert.deepEqual(sessionOutcomes(mark).map((o) => [o.outcome, o.error]), [['closed', undefined]]);
  await sessionsDrained(gw.gateway);
});
