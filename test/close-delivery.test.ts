// After the backend's EOF, everything already read reaches a slow client,
// then close 1000: the close timer covers the close handshake only, and a
// closing session is cut only when the client stops taking bytes for the
// drain timeout. The log says what really went out on the wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startBackend, spawnCli, pseudoRandom } from './support/index.js';
import { until } from './support/until.js';

const MiB = 1024 * 1024;
/**
 * More than the loopback socket buffers of a client that does not read can
 * hold (tcp_rmem may allow 32 MiB), so part of it waits in the gateway when
 * the backend's EOF arrives. Relayed as base64 text: the relay then copies
 * every read instead of lending its buffer, so it reaches the EOF without
 * waiting for the client (a lent buffer would hold the reader back).
 */
const STREAM = pseudoRandom(48 * MiB, 7);
const ENCODED = STREAM.toString('base64').length;

interface ClosedLine {
  code: number;
  closedBy: string;
  bytesOut: number;
  bytesUndelivered?: number;
  reason: string;
}

function closedLine(output: string): ClosedLine | undefined {
  const line = output.split('\n').find((l) => l.includes('"msg":"session closed"'));
  return line ? (JSON.parse(line) as ClosedLine) : undefined;
}

async function gatewayWithSender(extraArgs: string[]) {
  const backend = await startBackend((socket) => socket.end(STREAM));
  const cli = await spawnCli(['--close-timeout', '1', '--high-water-mark', '128MiB', ...extraArgs, '127.0.0.1:0', `127.0.0.1:${backend.port}`]);
  return {
    url: `ws://127.0.0.1:${cli.port}/`,
    output: cli.output,
    stop: async () => {
      cli.child.kill('SIGTERM');
      await cli.exited;
      await backend.close();
    },
  };
}

/** A client that reads nothing for `pauseMs` after the handshake, then everything; resolves with what it got and how it ended. */
function pausingClient(url: string, pauseMs: number): Promise<{ received: Buffer; code: number }> {
  const ws = new WebSocket(url, 'base64');
  const chunks: Buffer[] = [];
  ws.on('message', (data: Buffer) => chunks.push(Buffer.from(data.toString(), 'base64')));
  ws.once('open', () => {
    ws.pause();
    setTimeout(() => ws.resume(), pauseMs);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (ws.terminate(), reject(new Error(`no close within 30 s (${Buffer.concat(chunks).length} bytes received)`))), 30_000);
    ws.once('close', (code) => (clearTimeout(timer), resolve({ received: Buffer.concat(chunks), code })));
  });
}

test('a client that stops reading for longer than the close timeout still gets every byte, then 1000', async (t) => {
  const gw = await gatewayWithSender([]);
  t.after(gw.stop);
  // 3 s paused with a 1 s close timeout: the backend's EOF comes at once, so the old fixed timer cut this session.
  const { received, code } = await pausingClient(gw.url, 3000);
  assert.equal(received.length, STREAM.length, 'bytes received');
  assert.ok(received.equals(STREAM), 'the stream arrives intact');
  assert.equal(code, 1000);
  await until(() => closedLine(gw.output()) !== undefined, { timeoutMs: 5000, what: 'the session closed line' });
  const line = closedLine(gw.output())!;
  assert.equal(line.code, 1000);
  assert.ok(Math.abs(line.bytesOut - ENCODED) < 64 * 1024, `bytesOut ${line.bytesOut} ~ ${ENCODED} (base64 padded per read)`);
  assert.equal(line.bytesUndelivered, undefined);
});

test('a client that takes no bytes for the drain timeout is cut, and the log says 1006 and what was not delivered', async (t) => {
  const gw = await gatewayWithSender(['--drain-timeout', '1']);
  t.after(gw.stop);
  const started = Date.now();
  const { received, code } = await pausingClient(gw.url, 4000);
  assert.ok(Date.now() - started < 8000, 'cut in bounded time');
  assert.ok(received.length < STREAM.length, `only part arrived (${received.length})`);
  assert.ok(STREAM.subarray(0, received.length).equals(received), 'what arrived is a correct prefix');
  assert.equal(code, 1006);
  await until(() => closedLine(gw.output()) !== undefined, { timeoutMs: 5000, what: 'the session closed line' });
  const line = closedLine(gw.output())!;
  assert.equal(line.code, 1006, 'the code on the wire: no close frame reached the client');
  assert.equal(line.closedBy, 'server');
  assert.match(line.reason, /took no data for 1000 ms/);
  assert.ok(line.bytesUndelivered! > 0, 'undelivered bytes are logged');
  // Frame headers and per-read base64 padding make this approximate.
  const total = line.bytesOut + line.bytesUndelivered!;
  assert.ok(Math.abs(total - ENCODED) < 64 * 1024, `delivered + undelivered (${total}) = what was queued (${ENCODED})`);
});
