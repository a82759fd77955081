// The relay's backend reader over real loopback sockets: data read into the
// shared landing buffer or a pooled bulk buffer arrives whole and in order;
// memory lent to the consumer is never overwritten before it is released,
// even while other sockets reuse the pool; early data, hold() and the
// pause-while-lent rule keep reading bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendReader, type ChunkConsumer } from '../src/proxy/backend-reader.js';
import { byteStream, hashSink, seededSizes, drained, sha256, until } from './support/index.js';

const MiB = 1024 * 1024;

/** A server whose every connection gets `plan(socket)`; resolves its port. */
async function server(plan: (s: net.Socket) => Promise<void>) {
  const srv = net.createServer((s) => void plan(s).catch(() => s.destroy()));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(r)) };
}

function connect(port: number): { socket: net.Socket; reader: BackendReader } {
  const reader = new BackendReader();
  const socket = net.connect({ port, host: '127.0.0.1', onread: reader.onread });
  reader.bind(socket);
  return { socket, reader };
}

/**
 * A consumer that keeps each lent chunk for a while (a random delay, as a
 * slow WebSocket write would) and checks at release that its bytes are still
 * the ones it was given.
 */
function lazyConsumer(seed: number) {
  const sink = hashSink();
  const delay = seededSizes(seed);
  let lent = 0;
  let owned = 0;
  let overwritten = 0;
  let outstanding = 0;
  const consume: ChunkConsumer = (chunk, release) => {
    sink.add(chunk);
    if (!release) return void owned++;
    lent++;
    outstanding++;
    const before = sha256(chunk);
    const later = () => {
      if (sha256(chunk) !== before) overwritten++;
      outstanding--;
      release();
    };
    const d = delay() % 3;
    if (d === 0) later(); // released at once, as when the kernel took every byte
    else if (d === 1) setImmediate(later);
    else setTimeout(later, 1);
  };
  return { consume, sink, stats: () => ({ lent, owned, overwritten, outstanding }) };
}

/** Sends `total` bytes in bursts: big writes back to back, then small ones with pauses (promotion and demotion). */
async function bursty(socket: net.Socket, seed: number, total: number) {
  const out = byteStream(seed, total);
  let burst = 0;
  while (out.remaining > 0) {
    const big = burst++ % 2 === 0;
    for (let i = 0; i < (big ? 8 : 20) && out.remaining > 0; i++) {
      if (!socket.write(out.take(big ? 256 * 1024 : 100 + (i * 37) % 900))) await drained(socket);
      if (!big) await sleep(1);
    }
  }
  socket.end();
  return out.digest();
}

test('8 sockets at once, bursty traffic: every byte in order, lent memory never overwritten before release', { timeout: 60_000 }, async () => {
  const sent = new Map<number, Promise<string>>();
  let n = 0;
  const srv = await server(async (s) => {
    const id = n++;
    const digest = bursty(s, 500 + id, 12 * MiB);
    sent.set(id, digest);
    await digest;
  });
  try {
    const runs = Array.from({ length: 8 }, async (_, i) => {
      const { socket, reader } = connect(srv.port);
      const c = lazyConsumer(900 + i);
      reader.attach(c.consume);
      await once(socket, 'end');
      await until(() => c.stats().outstanding === 0, { timeoutMs: 30_000, everyMs: 5, what: 'every lent chunk released' });
      socket.destroy();
      return c;
    });
    const consumers = await Promise.all(runs);
    const sentDigests = await Promise.all([...sent.values()]);
    for (const c of consumers) {
      const s = c.stats();
      assert.equal(s.overwritten, 0, 'a lent chunk changed before it was released');
      assert.ok(s.lent > 0 && s.owned > 0, `both paths used: ${JSON.stringify(s)}`);
      assert.equal(c.sink.bytes, 12 * MiB);
      assert.ok(sentDigests.includes(c.sink.digest()), 'the bytes arrived in order, unchanged');
    }
  } finally {
    await srv.close();
  }
});

test('while a lent chunk is not released the socket does not read; release resumes it', { timeout: 20_000 }, async () => {
  let digest!: Promise<string>;
  const srv = await server(async (s) => {
    digest = (async () => {
      const out = byteStream(7, 16 * MiB);
      while (out.remaining > 0) if (!s.write(out.take(1 * MiB))) await drained(s);
      s.end();
      return out.digest();
    })();
    await digest;
  });
  try {
    const { socket, reader } = connect(srv.port);
    const sink = hashSink();
    const kept: Array<() => void> = [];
    reader.attach((chunk, release) => {
      sink.add(chunk);
      if (release) kept.push(release);
    });
    // Wait for the first lent chunk, then check that reading stops.
    await until(() => kept.length > 0, { timeoutMs: 10_000, everyMs: 5, what: 'the first lent chunk' });
    const read = socket.bytesRead;
    await sleep(200);
    assert.equal(socket.bytesRead, read, 'read on while its buffer was lent');
    assert.equal(kept.length, 1);
    // From here on release everything at once.
    const releaseAll = () => kept.splice(0).forEach((r) => r());
    const timer = setInterval(releaseAll, 1);
    releaseAll();
    await once(socket, 'end');
    clearInterval(timer);
    releaseAll();
    assert.equal(sink.bytes, 16 * MiB);
    assert.equal(sink.digest(), await digest);
    socket.destroy();
  } finally {
    await srv.close();
  }
});

test('data that arrives before attach() is kept, reading waits, and it is delivered first', { timeout: 20_000 }, async () => {
  const srv = await server(async (s) => {
    s.write('hello ');
    await sleep(50);
    for (let i = 0; i < 64; i++) if (!s.write(Buffer.alloc(64 * 1024, i))) await drained(s);
    s.end();
  });
  try {
    const { socket, reader } = connect(srv.port);
    await sleep(300);
    assert.ok(socket.bytesRead <= 64 * 1024, `read ${socket.bytesRead} bytes with nobody attached`);
    const chunks: Buffer[] = [];
    reader.attach((chunk, release) => {
      chunks.push(Buffer.from(chunk));
      release?.();
    });
    await once(socket, 'end');
    const all = Buffer.concat(chunks);
    assert.equal(all.subarray(0, 6).toString(), 'hello ');
    assert.equal(all.length, 6 + 64 * 64 * 1024);
    for (let i = 0; i < 64; i++) assert.equal(all[6 + i * 64 * 1024], i);
    socket.destroy();
  } finally {
    await srv.close();
  }
});

test('hold() stops reading until unhold()', { timeout: 20_000 }, async () => {
  const srv = await server(async (s) => {
    for (let i = 0; i < 256; i++) if (!s.write(Buffer.alloc(64 * 1024, 1))) await drained(s);
    s.end();
  });
  try {
    const { socket, reader } = connect(srv.port);
    let bytes = 0;
    reader.attach((chunk, release) => {
      bytes += chunk.length;
      release?.();
    });
    await until(() => bytes > 0, { timeoutMs: 10_000, everyMs: 1, what: 'the first bytes' });
    reader.hold();
    await sleep(20);
    const held = socket.bytesRead;
    await sleep(200);
    assert.equal(socket.bytesRead, held, 'read while held');
    reader.unhold();
    await once(socket, 'end');
    assert.equal(bytes, 256 * 64 * 1024);
    socket.destroy();
  } finally {
    await srv.close();
  }
});
