// Bounded memory in the tcp-proxy relay (design §3): a fast side facing a
// side that stopped reading is paused, not buffered without limit. The
// gateway runs as the real CLI so its resident memory can be read from
// /proc; nothing may be lost once the slow side reads again.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { startBackend, closed, spawnCli, byteStream, hashSink, seededSizes, rssBytes, drained, untilSteady } from './support/index.js';

const MiB = 1024 * 1024;
/** The documented default session highWaterMark. */
const HIGH_WATER_MARK = 1 * MiB;
/**
 * Bytes a stalled pipeline may hold in total: four loopback socket buffers
 * (tcp_wmem 4 MiB, tcp_rmem autotuned up to a few MiB when an app is not
 * reading) plus the gateway's queue. Far below what the fast side offers.
 */
const MAX_IN_FLIGHT = 64 * MiB;
/**
 * Gateway RSS growth allowed while stalled: highWaterMark of queued data per
 * direction, one read chunk and one message in flight, plus slack for V8's
 * heap and uncollected garbage from the traffic before the stall.
 */
const MAX_RSS_GROWTH = 2 * HIGH_WATER_MARK + 46 * MiB;

/**
 * Samples `progress()` every 100 ms and resolves once it has not changed for
 * `quietMs` (the pipeline is stalled), with the gateway's peak RSS meanwhile.
 * No event says "nothing moves any more", so this is a bounded poll.
 */
async function untilStalled(t: TestContext, progress: () => number, pid: number, quietMs = 1000, limitMs = 20_000): Promise<{ at: number; peakRss: number }> {
  const started = Date.now();
  let peakRss = rssBytes(pid);
  const sample = () => {
    peakRss = Math.max(peakRss, rssBytes(pid));
    return progress();
  };
  const at = await untilSteady(sample, { quietMs, everyMs: 100, timeoutMs: limitMs, what: () => `a stall (still moving, ${progress()} bytes)` });
  t.diagnostic(`stalled at ${(at / MiB).toFixed(1)} MiB after ${Date.now() - started} ms, gateway peak RSS ${(peakRss / MiB).toFixed(1)} MiB`);
  return { at, peakRss };
}

async function startCliGateway(backendPort: number) {
  const cli = await spawnCli(['127.0.0.1:0', `127.0.0.1:${backendPort}`]);
  const baseline = rssBytes(cli.child.pid!);
  const stop = async () => {
    cli.child.kill('SIGTERM');
    const exit = await cli.exited;
    assert.equal(exit.code, 0, `wsgate exit: ${exit.stderr}`);
  };
  return { url: `ws://127.0.0.1:${cli.port}/`, pid: cli.child.pid!, baseline, stop };
}

test('a client that stops reading stalls a backend sending 1 GiB; memory stays bounded; nothing is lost', { timeout: 120_000 }, async (t) => {
  const TOTAL = 1024 * MiB;
  const out = byteStream(7, TOTAL);
  let backendSocket: net.Socket | undefined;
  let written = 0;
  const handed = () => written - (backendSocket?.writableLength ?? 0);
  let onSocket!: (socket: net.Socket) => void;
  const backend = await startBackend((socket) => onSocket(socket));
  t.after(() => backend.close());
  const sendAll = new Promise<void>((resolve, reject) => {
    const size = seededSizes(8);
    onSocket = async (socket) => {
      backendSocket = socket;
      try {
        while (out.remaining > 0) {
          const chunk = out.take(size());
          written += chunk.length;
          if (!socket.write(chunk)) await drained(socket);
          if (socket.destroyed) throw new Error(`backend socket closed after ${written} bytes`);
        }
        socket.end();
        resolve();
      } catch (e) {
        reject(e);
      }
    };
  });
  sendAll.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled
  const gw = await startCliGateway(backend.port);
  t.after(() => gw.stop());
  const ws = new WebSocket(gw.url, ['binary']);
  const sink = hashSink();
  ws.on('message', (data: Buffer) => sink.add(data));
  const end = closed(ws);
  await once(ws, 'open');
  ws.pause();

  const stall = await untilStalled(t, handed, gw.pid);
  assert.ok(stall.at < MAX_IN_FLIGHT, `backend handed over ${(stall.at / MiB).toFixed(1)} MiB to a client that reads nothing`);
  assert.ok(sink.bytes < MAX_IN_FLIGHT, `client got ${sink.bytes} bytes while paused`);
  const growth = stall.peakRss - gw.baseline;
  t.diagnostic(`gateway RSS baseline ${(gw.baseline / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB`);
  assert.ok(growth < MAX_RSS_GROWTH, `gateway RSS grew by ${(growth / MiB).toFixed(1)} MiB while stalled`);

  ws.resume();
  await sendAll;
  const { code } = await end;
  assert.equal(sink.bytes, TOTAL);
  assert.equal(sink.digest(), out.digest());
  assert.equal(code, 1000);
});

test('a backend that stops reading stalls a client sending 256 MiB; memory stays bounded; nothing is lost', { timeout: 90_000 }, async (t) => {
  const TOTAL = 256 * MiB;
  const sink = hashSink();
  const backend = await startBackend((socket) => socket.pause());
  const accepted = once(backend.server, 'connection') as Promise<[net.Socket]>;
  t.after(() => backend.close());
  const gw = await startCliGateway(backend.port);
  t.after(() => gw.stop());
  const ws = new WebSocket(gw.url, ['binary']);
  const end = closed(ws);
  await once(ws, 'open');
  const [socket] = await accepted;

  const out = byteStream(9, TOTAL);
  const size = seededSizes(10);
  let sent = 0;
  const handed = () => sent - ws.bufferedAmount;
  const sending = (async () => {
    while (out.remaining > 0) {
      const chunk = out.take(size());
      sent += chunk.length;
      // Our own cap on what waits in this process: beyond it, wait for the socket to take the data.
      if (ws.bufferedAmount < 8 * MiB) ws.send(chunk);
      else await new Promise<void>((resolve, reject) => ws.send(chunk, (err) => (err ? reject(err) : resolve())));
    }
  })();
  sending.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled

  const stall = await untilStalled(t, handed, gw.pid);
  assert.ok(ws.bufferedAmount > 0, 'the client should be holding data the gateway does not take');
  assert.ok(out.remaining > 0, 'the client should not have been able to send everything');
  assert.ok(stall.at < MAX_IN_FLIGHT, `client handed over ${(stall.at / MiB).toFixed(1)} MiB to a backend that reads nothing`);
  const growth = stall.peakRss - gw.baseline;
  t.diagnostic(`gateway RSS baseline ${(gw.baseline / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB`);
  assert.ok(growth < MAX_RSS_GROWTH, `gateway RSS grew by ${(growth / MiB).toFixed(1)} MiB while stalled`);

  const backendEnded = once(socket, 'end');
  socket.on('data', (chunk: Buffer) => sink.add(chunk));
  socket.resume();
  await sending;
  ws.close(1000);
  await backendEnded;
  assert.equal(sink.bytes, TOTAL);
  assert.equal(sink.digest(), out.digest());
  assert.equal((await end).code, 1000);
});
