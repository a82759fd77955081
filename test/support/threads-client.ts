// A client for the `threads` handler that behaves badly on purpose: it
// floods the server with 64 KiB binary messages, reads in bursts
// (pause/resume every 12 ms) and pings every 20 ms; and the check of the
// design.md §4 contract on what it received. Used by threads.test.ts and
// the worker-thread tests.
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';

export interface ThreadsRun {
  messages: string[];
  nonText: number;
  code: number;
  pingsSent: number;
  /** Pongs carry the ping's sequence number. */
  pongs: number[];
  /** How many pongs had arrived when the last message did (pings answered during the run). */
  pongsBeforeLastMessage: number;
}

export async function runThreadsClient(url: string, flood: { limit: number; budget: number }): Promise<ThreadsRun> {
  // Listeners go on before 'open': the producers start at once.
  const ws = new WebSocket(url);
  const messages: string[] = [];
  const pongs: number[] = [];
  let nonText = 0;
  let pings = 0;
  let pongsBeforeLastMessage = 0;
  let flooded = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const floodOnce = () => {
    if (ws.readyState !== WebSocket.OPEN || flooded >= flood.budget) return;
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
    let paused = false;
    reader = setInterval(() => {
      paused = !paused;
      if (paused) ws.pause();
      else ws.resume();
    }, 12);
    pinger = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const b = Buffer.alloc(4);
      b.writeUInt32BE(pings++);
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
    return { messages, nonText, code, pingsSent: pings, pongs, pongsBeforeLastMessage };
  } finally {
    clearInterval(reader);
    clearInterval(pinger);
    ws.terminate();
  }
}

/** Every producer's messages, exactly `producer:<i> count:<n>` for n = count..1, in order, none twice; then 1000. */
export function checkThreadsRun(r: ThreadsRun, producers: number, count: number): void {
  assert.equal(r.code, 1000, 'the server closes with 1000 once all producers are done');
  assert.equal(r.nonText, 0, 'every message is a text message');
  const next = new Map<number, number>();
  for (let p = 1; p <= producers; p++) next.set(p, count);
  for (const [i, m] of r.messages.entries()) {
    const match = /^producer:(\d+) count:(\d+)$/.exec(m);
    assert.ok(match, `message ${i} has the wrong form: ${JSON.stringify(m)}`);
    const p = Number(match[1]);
    assert.ok(next.has(p), `message ${i}: producer ${p} is outside 1..${producers}`);
    assert.equal(Number(match[2]), next.get(p), `message ${i}: producer ${p} out of order (or repeated)`);
    assert.equal(m, `producer:${p} count:${match[2]}`);
    next.set(p, next.get(p)! - 1);
  }
  for (const [p, n] of next) assert.equal(n, 0, `producer ${p} stopped early`);
  assert.equal(r.messages.length, producers * count, 'total number of messages');
}
