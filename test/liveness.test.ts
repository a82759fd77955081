// Keepalive pings, dropping peers that stopped answering, and the idle
// timeout, on real timers with 1 s settings and generous bounds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { startGateway, connect, closed, sessionsDrained, type RunningGateway } from './support/index.js';

let gw: RunningGateway;
before(async () => {
  gw = await startGateway({
    routes: [
      { path: '/hb', handler: 'echo', heartbeat: 1 }, // timeout: twice the interval
      { path: '/hb-strict', handler: 'echo', heartbeat: 1, heartbeatTimeout: 1 },
      { path: '/idle', handler: 'echo', idleTimeout: 1 },
    ],
  });
});
after(async () => {
  await gw.stop();
});

/** Resolves with what happened first: the client closed, or `ms` passed. */
function closedWithin(ws: WebSocket, ms: number): Promise<{ code: number } | 'still open'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    closed(ws).then(({ code }) => ({ code })),
    new Promise<'still open'>((resolve) => (timer = setTimeout(() => resolve('still open'), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Watches a client for `ms`: the pings it got, and whether it was still open at the end. */
async function watch(ws: WebSocket, ms: number): Promise<{ pings: number[]; outcome: { code: number } | 'still open' }> {
  const start = Date.now();
  const pings: number[] = [];
  ws.on('ping', () => pings.push(Date.now() - start));
  const outcome = await closedWithin(ws, ms);
  return { pings, outcome };
}

/** The session still echoes, then closes cleanly. */
async function stillUsable(ws: WebSocket): Promise<void> {
  ws.send('alive');
  assert.equal(String((await once(ws, 'message'))[0]), 'alive');
  ws.close(1000);
  await closed(ws);
}

test('heartbeat: the client gets a ping about every second and, answering, stays connected past 3 s', { timeout: 10_000 }, async () => {
  const ws = await connect(gw.url('/hb'));
  try {
    const { pings, outcome } = await watch(ws, 3500);
    assert.equal(outcome, 'still open', `an answering client was dropped; pings seen at [${pings.join(', ')}] ms`);
    assert.ok(pings.length >= 2 && pings.length <= 4, `expected about 3 pings in 3.5 s, saw them at [${pings.join(', ')}] ms`);
    for (let i = 1; i < pings.length; i++) {
      const gap = pings[i]! - pings[i - 1]!;
      assert.ok(gap >= 600 && gap <= 1600, `pings ${gap} ms apart (at [${pings.join(', ')}] ms)`);
    }
    await stillUsable(ws);
  } finally {
    ws.terminate();
  }
  await sessionsDrained(gw.gateway);
});

test('heartbeat with heartbeatTimeout 1: a client that answers every ping stays connected past 3 s', { timeout: 10_000 }, async () => {
  const ws = await connect(gw.url('/hb-strict'));
  try {
    const { pings, outcome } = await watch(ws, 3500);
    assert.equal(outcome, 'still open', `a client answering every ping was dropped; pings seen at [${pings.join(', ')}] ms`);
    assert.ok(pings.length >= 2, `expected about 3 pings in 3.5 s, saw them at [${pings.join(', ')}] ms`);
    await stillUsable(ws);
  } finally {
    ws.terminate();
  }
  await sessionsDrained(gw.gateway);
});

test('heartbeat: a client that never answers pings is dropped within 2-3 timeouts', { timeout: 10_000 }, async () => {
  const ws = await connect(gw.url('/hb-strict'), undefined, { autoPong: false });
  try {
    const start = Date.now();
    const { pings, outcome } = await watch(ws, 4000);
    const after = Date.now() - start;
    assert.notEqual(outcome, 'still open', 'a client that never answers was still connected after 4 s');
    assert.ok(after <= 3500, `dropped only after ${after} ms`);
    // "Not answering" needs a ping to not answer: a peer is dropped for silence after a ping.
    assert.ok(pings.length >= 1, `dropped after ${after} ms without ever being pinged`);
    await sessionsDrained(gw.gateway, 2000);
  } finally {
    ws.terminate();
  }
});

test('idleTimeout: a silent session is closed with 1001 after about 1 s', { timeout: 10_000 }, async () => {
  const ws = await connect(gw.url('/idle'));
  try {
    const start = Date.now();
    const outcome = await closedWithin(ws, 4000);
    const after = Date.now() - start;
    assert.deepEqual(outcome, { code: 1001 });
    assert.ok(after >= 700 && after <= 3000, `closed after ${after} ms`);
  } finally {
    ws.terminate();
  }
  await sessionsDrained(gw.gateway);
});

test('idleTimeout: a session exchanging a message every 300 ms stays open past 2 s', { timeout: 10_000 }, async () => {
  const ws = await connect(gw.url('/idle'));
  let sent = 0;
  let echoed = 0;
  ws.on('message', () => echoed++);
  const ticker = setInterval(() => ws.send(`tick ${sent++}`), 300);
  try {
    const outcome = await closedWithin(ws, 2300);
    assert.equal(outcome, 'still open', 'an active session was closed as idle');
    assert.ok(echoed >= 5, `only ${echoed} of ${sent} messages echoed`);
    clearInterval(ticker);
    ws.close(1000);
    assert.equal((await closed(ws)).code, 1000);
  } finally {
    clearInterval(ticker);
    ws.terminate();
  }
  await sessionsDrained(gw.gateway);
});
