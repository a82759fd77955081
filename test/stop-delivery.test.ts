// A graceful stop loses nothing the gateway had accepted: after the grace
// period each session gets close 1001 only after what was queued for it, for
// as long as its client keeps taking bytes, instead of being cut on a fixed
// timer (which, under load, dropped megabytes a slow client was still reading).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startBackend, spawnCli, pseudoRandom } from './support/index.js';

const MiB = 1024 * 1024;

test('SIGTERM: a slow client still gets everything queued for it, then 1001, and the log agrees', { timeout: 30_000 }, async (t) => {
  // The backend sends 48 MiB and keeps its side open; base64 makes the relay copy each
  // read, so the gateway takes all of it while the client is not reading.
  const backend = await startBackend((socket) => socket.write(pseudoRandom(48 * MiB, 3)));
  t.after(() => backend.close());
  const cli = await spawnCli(['--grace-period', '0', '--close-timeout', '1', '--high-water-mark', '128MiB', '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  t.after(() => cli.child.kill('SIGKILL'));
  const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/`, 'base64');
  let received = 0;
  ws.on('message', (data: Buffer) => (received += data.length));
  await new Promise((resolve) => ws.once('open', resolve));
  ws.pause();
  await new Promise((r) => setTimeout(r, 1500)); // the gateway reads the whole stream meanwhile
  cli.child.kill('SIGTERM');
  // The fixed timer of old cut the connection 2 s after the stop (close timeout + 1 s).
  setTimeout(() => ws.resume(), 4000);
  const code = await new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
  const exit = await cli.exited;
  assert.equal(exit.code, 0);
  assert.equal(code, 1001, 'the close frame came after the data');
  const line = JSON.parse(exit.stdout.split('\n').find((l) => l.includes('"msg":"session closed"'))!) as { code: number; bytesOut: number; bytesUndelivered?: number };
  assert.equal(line.code, 1001);
  assert.equal(line.bytesUndelivered, undefined);
  assert.equal(received, line.bytesOut, 'the client got every byte the log says was sent');
  assert.ok(received > 40 * MiB, `most of the stream was queued and delivered (${received})`);
});
