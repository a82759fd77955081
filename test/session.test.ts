// The Session's promises, tested on the class itself over a real loopback
// WebSocket: one ordered outbound path, streams never interleaved with other
// data messages, backpressure with high/low water marks, errors after close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WebSocketServer, WebSocket } from 'ws';
import { Session } from '../src/session/session.js';
import { SessionClosedError } from '../src/session/errors.js';
import { SESSION_DEFAULTS, type SessionOptions } from '../src/config/types.js';
import { closed, until } from './support/index.js';

async function pair(opts: Partial<SessionOptions> = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const port = (wss.address() as { port: number }).port;
  const serverSide = once(wss, 'connection');
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await once(client, 'open');
  const [ws] = (await serverSide) as [WebSocket];
  const session = new Session(ws, { ...SESSION_DEFAULTS, ...opts }, { remoteAddress: '127.0.0.1', route: '/t', path: '/t', protocol: '' });
  const messages: Array<{ data: Buffer; binary: boolean }> = [];
  client.on('message', (data: Buffer, binary: boolean) => messages.push({ data, binary }));
  return {
    session,
    client,
    messages,
    async done() {
      client.terminate();
      await new Promise((r) => wss.close(r));
    },
  };
}

test('whole messages sent during a stream wait behind it; control frames do not', { timeout: 10_000 }, async () => {
  const { session, client, messages, done } = await pair();
  const pings: Buffer[] = [];
  client.on('ping', (d: Buffer) => pings.push(d));
  const stream = session.stream(true);
  stream.write(Buffer.from('AAA'));
  session.send('between-1');
  stream.write(Buffer.from('BBB'));
  session.send(Buffer.from('between-2'));
  await until(() => client.bufferedAmount === 0, { timeoutMs: 10_000, what: 'the client sending all it has' });
  // The fragments already went out; a ping still reaches the client mid-message.
  client.ping();
  await once(client, 'pong');
  assert.equal(messages.length, 0, 'no message may complete while the stream is open');
  stream.end(Buffer.from('CCC'));
  await until(() => messages.length === 3, { timeoutMs: 10_000, what: '3 messages' });
  assert.equal(messages[0]!.data.toString(), 'AAABBBCCC');
  assert.equal(messages[0]!.binary, true);
  assert.deepEqual(messages.slice(1).map((m) => [m.data.toString(), m.binary]), [['between-1', false], ['between-2', true]]);
  assert.equal(session.messagesOut, 3);
  await done();
});

test('streams queued behind a stream keep their order and their own fragments', { timeout: 10_000 }, async () => {
  const { session, messages, done } = await pair();
  const a = session.stream(false);
  const b = session.stream(true); // waits behind a: its writes are held
  session.send('after-b');
  b.write(Buffer.from('b1'));
  a.write('a1');
  b.end(Buffer.from('b2'));
  a.end('a2');
  await until(() => messages.length === 3, { timeoutMs: 10_000, what: '3 messages' });
  assert.deepEqual(messages.map((m) => [m.data.toString(), m.binary]), [['a1a2', false], ['b1b2', true], ['after-b', false]]);
  await until(() => session.bufferedAmount === 0, { timeoutMs: 10_000, what: 'the session flushing' });
  await done();
});

test('many concurrent producers: every message whole, in per-producer order', { timeout: 60_000 }, async () => {
  const { session, messages, done } = await pair({ highWaterMark: 64 * 1024, lowWaterMark: 16 * 1024 });
  const producers = 8;
  const perProducer = 200;
  const work = Array.from({ length: producers }, async (_, p) => {
    for (let n = 0; n < perProducer; n++) {
      if (n % 10 === 0) {
        // A streamed message: fragments carrying the producer's byte, then a trailer with n.
        const s = session.stream(true);
        for (let f = 0; f < 5; f++) {
          if (!s.write(Buffer.alloc(1000 + f * 777, p))) await s.drain();
          await nextTurn();
        }
        s.end(Buffer.from(`|${p}:${n}`));
      } else if (!session.send(`${p}:${n}`)) {
        await session.drain();
      }
      await nextTurn();
    }
  });
  await Promise.all(work);
  await until(() => messages.length === producers * perProducer, { timeoutMs: 10_000, what: "every producer's messages" });
  const next = new Array(producers).fill(0);
  for (const { data, binary } of messages) {
    let id: string;
    if (binary) {
      const bar = data.lastIndexOf('|');
      id = data.subarray(bar + 1).toString();
      const p = Number(id.split(':')[0]);
      const body = data.subarray(0, bar);
      assert.equal(body.length, 5 * 1000 + 777 * 10, 'a streamed message arrives whole');
      assert.ok(body.every((byte) => byte === p), 'no foreign bytes inside a streamed message');
    } else {
      id = data.toString();
    }
    const [p, n] = id.split(':').map(Number) as [number, number];
    assert.equal(n, next[p], `producer ${p} in order`);
    next[p]++;
  }
  await done();
});

test('backpressure: send() reports the high-water mark and drain follows the low-water mark', { timeout: 20_000 }, async () => {
  const { session, client, messages, done } = await pair({ highWaterMark: 256 * 1024, lowWaterMark: 64 * 1024 });
  client.pause(); // the client stops reading
  const chunk = Buffer.alloc(32 * 1024, 7);
  let accepted = 0;
  while (session.send(chunk)) {
    accepted++;
    assert.ok(accepted < 100_000, 'send() must eventually report backpressure');
    await nextTurn(); // let the socket flush into the kernel so the kernel buffers fill first
  }
  assert.equal(session.writable, false);
  assert.ok(session.bufferedAmount >= 256 * 1024);
  let drained = false;
  const drainPromise = session.drain().then(() => (drained = true));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(drained, false, 'no drain while the client reads nothing');
  client.resume();
  await drainPromise;
  assert.ok(session.bufferedAmount <= 64 * 1024);
  assert.equal(session.writable, true);
  await until(() => messages.length === accepted + 1, { timeoutMs: 10_000, what: 'every accepted message and the last one' });
  await done();
});

test('sending after close is an error the caller sees; queued data is delivered before the close frame', { timeout: 10_000 }, async () => {
  const { session, client, messages, done } = await pair();
  const stream = session.stream(true);
  stream.write(Buffer.from('part1-'));
  session.send('queued-behind-stream');
  session.close(1000, 'bye');
  assert.equal(session.state, 'closing');
  assert.throws(() => session.send('late'), SessionClosedError);
  assert.throws(() => session.stream(), SessionClosedError);
  await assert.rejects(session.drain(), SessionClosedError);
  // The active stream may still finish; the close frame waits for it and the queued message.
  stream.end(Buffer.from('part2'));
  const result = await closed(client);
  assert.equal(result.code, 1000);
  assert.equal(result.reason, 'bye');
  assert.deepEqual(messages.map((m) => m.data.toString()), ['part1-part2', 'queued-behind-stream']);
  await once(session, 'close').catch(() => {});
  assert.equal(session.state, 'closed');
  assert.equal(session.closeInfo?.by, 'server');
  assert.throws(() => stream.write('x'));
  await done();
});

test('a peer that vanishes rejects waiting producers and aborts streams', { timeout: 10_000 }, async () => {
  const { session, client, done } = await pair({ highWaterMark: 16 * 1024, lowWaterMark: 4 * 1024 });
  client.pause();
  const stream = session.stream(true);
  // More than the kernel's loopback buffers can hold, so the drain cannot come before the peer goes.
  for (let i = 0; i < 32 * 64; i++) stream.write(Buffer.alloc(16 * 1024));
  const waiting = stream.drain();
  const closing = once(session, 'close');
  client.terminate();
  await assert.rejects(waiting, SessionClosedError);
  const [info] = await closing;
  assert.equal(info.code, 1006);
  assert.equal(info.by, 'network');
  assert.throws(() => stream.write('x'), SessionClosedError);
  await done();
});

test('close timeout destroys a socket whose peer never answers the close', { timeout: 10_000 }, async () => {
  const { session, client, done } = await pair({ closeTimeout: 300 });
  // Stop the client from processing anything, so it never answers our close frame.
  client.pause();
  const started = Date.now();
  session.close(1000);
  await once(session, 'close');
  const took = Date.now() - started;
  assert.ok(took >= 250 && took < 3000, `closed after ${took} ms`);
  await done();
});

test('close() refuses codes that may not be sent and trims over-long reasons', { timeout: 10_000 }, async () => {
  const { session, client, done } = await pair();
  for (const code of [1004, 1005, 1006, 1015, 999, 2999, 5000]) assert.throws(() => session.close(code), RangeError, String(code));
  assert.equal(session.state, 'open', 'a refused close leaves the session usable');
  session.close(4000, 'é'.repeat(100)); // 200 bytes of UTF-8
  const { code, reason } = await closed(client);
  assert.equal(code, 4000);
  assert.ok(Buffer.byteLength(reason) <= 123 && reason.startsWith('éé'), reason);
  await done();
});

test('send(data, binary, written): called once when sent; a message queued behind a stream is held until the stream ends', { timeout: 10_000 }, async () => {
  const { session, client, messages, done } = await pair();
  const calls: Array<string | undefined> = [];
  session.send(Buffer.from('direct'), true, (err) => calls.push(err?.name));
  await until(() => calls.length === 1, { timeoutMs: 10_000, what: 'the callback' });
  assert.deepEqual(calls, [undefined]);

  const stream = session.stream(true);
  stream.write(Buffer.from('part-1'));
  const queued: Array<string | undefined> = [];
  session.send(Buffer.from('behind'), true, (err) => queued.push(err?.name));
  await nextTurn();
  await nextTurn();
  assert.deepEqual(queued, [], 'the queued message was reported written before it was');
  await stream.end(Buffer.from('part-2'));
  await until(() => queued.length === 1 && messages.length === 3, { timeoutMs: 10_000, what: 'the queued message written' });
  assert.deepEqual(queued, [undefined]);
  assert.deepEqual(messages.map((m) => m.data.toString()), ['direct', 'part-1part-2', 'behind']);
  await nextTurn();
  assert.equal(calls.length, 1, 'called more than once');
  session.close();
  await closed(client);
  await done();
});

test('send(data, binary, written): a message dropped by closeNow() reports SessionClosedError', { timeout: 10_000 }, async () => {
  const { session, done } = await pair();
  const stream = session.stream(true);
  stream.write(Buffer.from('unfinished'));
  const results: unknown[] = [];
  session.send(Buffer.from('never'), true, (err) => results.push(err));
  session.closeNow(1011, 'producer died');
  await until(() => results.length === 1, { timeoutMs: 10_000, what: 'the callback of the dropped message' });
  assert.ok(results[0] instanceof SessionClosedError);
  await done();
});
