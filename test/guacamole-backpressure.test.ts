// Bounded memory on a Guacamole tunnel (framing: guacamole): a browser that
// stops reading while the backend streams 512 MiB of instructions pauses the
// backend instead of filling the gateway; once it reads again, every
// instruction arrives, whole, in order. The gateway runs as the real CLI so
// its resident memory can be read from /proc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { startBackend, closed, spawnCli, hashSink, seededSizes, rssBytes, drained, tempDir, untilSteady } from './support/index.js';
import { instructionStream } from './support/guacamole.js';

const MiB = 1024 * 1024;
/** Far below what the backend offers; what four loopback socket buffers and the session queue may hold. */
const MAX_IN_FLIGHT = 64 * MiB;
/** Gateway RSS growth allowed while stalled (as for the binary relay: queues, one read, V8 slack). */
const MAX_RSS_GROWTH = 48 * MiB;

test('a browser that stops reading pauses a backend streaming 512 MiB of instructions; memory stays bounded; all arrives whole', { timeout: 180_000 }, async (t) => {
  const out = instructionStream(21, 512 * MiB);
  let backendSocket: net.Socket | undefined;
  let written = 0;
  const handed = () => written - (backendSocket?.writableLength ?? 0);
  let onSocket!: (socket: net.Socket) => void;
  const backend = await startBackend((socket) => onSocket(socket));
  t.after(() => backend.close());
  const sendAll = new Promise<void>((resolve, reject) => {
    const size = seededSizes(22);
    onSocket = async (socket) => {
      backendSocket = socket;
      socket.on('data', () => {}); // nothing comes; keep the socket flowing
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
  sendAll.catch(() => {});

  const dir = tempDir(t, 'guac-backpressure');
  const config = join(dir, 'wsgate.yaml');
  await writeFile(config, `listen: 127.0.0.1:0\nroutes:\n  - path: /guac\n    handler: tcp-proxy\n    target: 127.0.0.1:${backend.port}\n    framing: guacamole\n    backendIdleTimeout: 0\n`);
  const cli = await spawnCli(['--config', config]);
  const pid = cli.child.pid!;
  t.after(async () => {
    cli.child.kill('SIGTERM');
    await cli.exited;
  });
  const baseline = rssBytes(pid);

  const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/guac`, ['guacamole']);
  const sink = hashSink();
  let partial = 0;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    // Whole instructions only: every message ends with a terminator (parsed in full by guacamole-framing.test.ts).
    if (isBinary || data[data.length - 1] !== 0x3b) partial++;
    sink.add(data);
  });
  const end = closed(ws);
  await once(ws, 'open');
  ws.pause();

  // Stalled once nothing moves for a second (no event says so: a bounded poll), with the peak RSS meanwhile.
  let peakRss = rssBytes(pid);
  const last = await untilSteady(
    () => {
      peakRss = Math.max(peakRss, rssBytes(pid));
      return handed();
    },
    { quietMs: 1000, everyMs: 100, timeoutMs: 30_000, what: () => `a stall (still moving, ${handed()} bytes)` },
  );
  const growth = peakRss - baseline;
  t.diagnostic(`stalled at ${(last / MiB).toFixed(1)} MiB; gateway RSS baseline ${(baseline / MiB).toFixed(1)} MiB, growth ${(growth / MiB).toFixed(1)} MiB`);
  assert.ok(last < MAX_IN_FLIGHT, `the backend handed over ${(last / MiB).toFixed(1)} MiB to a browser that reads nothing`);
  assert.ok(growth < MAX_RSS_GROWTH, `gateway RSS grew by ${(growth / MiB).toFixed(1)} MiB while stalled`);

  ws.resume();
  await sendAll;
  const { code, reason } = await end;
  assert.equal(partial, 0);
  assert.equal(sink.bytes, out.total);
  assert.equal(sink.digest(), out.digest());
  assert.deepEqual({ code, reason }, { code: 1000, reason: '0' });
});
